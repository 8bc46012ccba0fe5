#pragma once
// A procedure's dose, as the room's dose display shows it (IEC 60601-2-43):
// reference air kerma Ka,r (mGy), air kerma-area product PKA (Gy cm2),
// fluoroscopy time and the number of acquisitions, split into fluoroscopy
// and acquisition.
//
// No double counting. The same irradiation is often seen twice: in an
// image header and in the dose report, or in two copies of a report. The
// rule, in order:
//  1. Two events with the same Irradiation Event UID are one irradiation.
//  2. Two header events of the same image (SOP Instance UID) are one.
//  3. A header event without a common UID is the same irradiation as a
//     report event that started within 2 s of it, with the same kind (or
//     an unknown one) and, when both state them, C-arm angles within 1 deg.
//  When a header event and a report event are the same irradiation, the
//  report's event counts: it states Ka,r, and its fluoroscopy events hold
//  the fluoroscopy that a header's DAP (0018,115E) folds into the next
//  image. Header events the report does not cover still count.
//  4. The C-arm's own displayed totals, typed in by the user, are
//     cumulative: the latest entry stands for the whole procedure up to its
//     time, and the ledger shows the larger of it and the recorded sum.
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "imaging/dose/dose_event.h"

namespace fluoroplan {

struct DoseTotals {
  double kermaMGy = 0, fluoroKermaMGy = 0, acquisitionKermaMGy = 0;
  double pkaGyCm2 = 0, fluoroPkaGyCm2 = 0, acquisitionPkaGyCm2 = 0;
  double fluoroTimeS = 0, acquisitionTimeS = 0;
  int events = 0, fluoroEvents = 0, acquisitions = 0;
  // Why these totals may be lower than the truth; empty when complete.
  std::vector<std::string> incomplete;
  bool complete() const { return incomplete.empty(); }
};

enum class LedgerOutcome { Counted, Duplicate, Replaced };

struct LedgerAdd {
  LedgerOutcome outcome = LedgerOutcome::Counted;
  std::string reason; // for Duplicate and Replaced: which event it matched and why
};

// Time spans in which each needle was placed, for per-needle dose.
struct NeedlePhase {
  std::string needle; // e.g. "L4 medial branch, left"
  double startSeconds = 0, endSeconds = 0;
};

class DoseLedger {
public:
  LedgerAdd add(DoseEvent event);

  DoseTotals totals() const;
  // Ka,r rate over the last `windowS` seconds before the latest event, mGy/min.
  double kermaRateMGyPerMin(double windowS = 60) const;
  // Counted events (report events replace matched header events).
  std::vector<DoseEvent> events() const;
  std::size_t duplicates() const { return duplicates_; }
  // Dose of the events that started within each phase.
  std::vector<std::pair<std::string, DoseTotals>>
  perNeedle(const std::vector<NeedlePhase>& phases) const;

private:
  void accumulate(const DoseEvent& e, double sign);
  std::optional<std::size_t> matchHeaderToReport(const DoseEvent& e) const;

  std::vector<DoseEvent> counted_;
  std::vector<bool> live_; // false once replaced
  std::unordered_map<std::string, std::size_t> byUid_, bySop_;
  DoseTotals sums_;
  std::optional<DoseEvent> userTotals_;
  std::size_t duplicates_ = 0;
  std::size_t headerWithoutKerma_ = 0, valuesNotCounted_ = 0;
  bool anyReport_ = false, anyHeader_ = false;
};

// The totals of a set of events (no matching): used to check a report's
// events against the totals it states.
DoseTotals sumEvents(const std::vector<DoseEvent>& events);

} // namespace fluoroplan
