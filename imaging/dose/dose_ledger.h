#pragma once
// A procedure's dose, as the room's dose display shows it (IEC 60601-2-43):
// reference air kerma Ka,r (mGy), air kerma-area product PKA (Gy cm2),
// fluoroscopy time and the number of acquisitions, split into fluoroscopy
// and acquisition.
//
// No double counting. The same irradiation is often seen twice: in an
// image header and in the dose report, or in two copies of a report. The
// rules, in order:
//  1. Two events with the same Irradiation Event UID are one irradiation.
//  2. Two header events of the same image (SOP Instance UID) are one.
//  3. Two report events without UIDs, with the same start time and values,
//     are one (the same report read twice).
//  4. A header event is the same irradiation as a report event that started
//     within 2 s of it, with the same kind (or an unknown one) and, when
//     both state them, C-arm angles within 1 deg.
//  5. A header event that started within the time the dose report covers
//     (its first event's start to its last event's end, +-2 s) is covered by
//     it: the report records every irradiation, and a header's DAP (0018,115E)
//     folds in the fluoroscopy before its image, which the report holds as
//     fluoroscopy events (DESIGN.md section 5).
//  When a header event and a report event are one irradiation, the report's
//  event counts: it states Ka,r. Header events outside any report still count.
//  6. The C-arm's own displayed totals, typed in by the user, are
//     cumulative: the latest reading stands for the procedure up to its
//     time, and the ledger shows the larger of it and the recorded sum.
//  7. A report's stated accumulated totals are a floor: when a vendor states
//     more than its events sum to, the stated figure is shown (and said).
#include <map>
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
  // Totals shown as a report or the C-arm's display stated them, above the
  // sum of the recorded events.
  std::vector<std::string> shownAsStated;
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
  // A dose report's accumulated totals as the vendor stated them (rule 7).
  void addStatedTotals(const std::string& report, const std::vector<StatedTotal>& totals);

  DoseTotals totals() const;
  // Ka,r per minute over the `windowS` seconds before the latest event;
  // empty when an event in the window has no Ka,r (image headers).
  std::optional<double> kermaRateMGyPerMin(double windowS = 60) const;
  // Counted events (report events replace matched header events).
  std::vector<DoseEvent> events() const;
  std::size_t duplicates() const { return duplicates_; }
  // Dose of the events that started within each phase.
  std::vector<std::pair<std::string, DoseTotals>>
  perNeedle(const std::vector<NeedlePhase>& phases) const;

private:
  void accumulate(const DoseEvent& e, double sign);
  void retire(std::size_t i);
  std::size_t push(DoseEvent e);
  std::optional<std::size_t> matchHeaderToReport(const DoseEvent& e) const;
  bool coveredByReport(const DoseEvent& header) const;

  std::vector<DoseEvent> counted_;
  std::vector<bool> live_; // false once replaced
  std::unordered_map<std::string, std::size_t> byUid_, bySop_, byReportKey_;
  std::multimap<double, std::size_t> reportsByStart_; // live report events with a time
  std::vector<std::size_t> headers_;                  // header events, live or retired
  DoseTotals sums_;
  std::optional<DoseEvent> userTotals_;
  double latestEventSeconds_ = -1e300;
  std::optional<double> reportSpanBegin_, reportSpanEnd_;
  struct Stated {
    std::optional<double> kermaMGy, pkaGyCm2, fluoroTimeS;
  };
  std::map<std::string, Stated> stated_;
  std::size_t duplicates_ = 0;
  long headerWithoutKerma_ = 0, valuesNotCounted_ = 0, splitUnknown_ = 0, timeUnknown_ = 0;
  bool anyReport_ = false, anyHeader_ = false;
};

// The totals of a set of events (no matching): used to check a report's
// events against the totals it states.
DoseTotals sumEvents(const std::vector<DoseEvent>& events);

} // namespace fluoroplan
