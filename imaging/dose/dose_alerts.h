#pragma once
// Dose alerts for one procedure and the patient's history. Every default
// says where it comes from; all are configurable per procedure type.
#include <optional>
#include <string>
#include <vector>

#include "imaging/dose/dose_ledger.h"

namespace fluoroplan {

struct DoseAlertConfig {
  std::string procedure; // "facet-block", "facet-rf", "scs", "other"
  // Reference levels for this procedure: the room compares each procedure
  // with them. No formal DRL for spinal pain procedures was found; the
  // defaults are published typical values (see defaultDoseAlertConfig) and
  // a department should set its own.
  std::optional<double> referenceKermaMGy, referencePkaGyCm2, referenceFluoroTimeS;
  std::string referenceSource;
  // Ka,r notifications: first at 3000 mGy, then every 1000 mGy (NCRP Report
  // 168, 2010; Stecker MS et al., J Vasc Interv Radiol 2009;20:S263-S273).
  double kermaFirstNotificationMGy = 3000, kermaNotificationStepMGy = 1000;
  // The fluoroscopy timer signal every 5 minutes (21 CFR 1020.32(h)).
  double fluoroSignalEveryS = 300;
  // The patient's 12-month history: a warning when the cumulative Ka,r
  // crosses the significant radiation dose level, 5000 mGy (Stecker 2009).
  double historyKermaLevelMGy = 5000;
  // Repeat facet RF: at most this many procedures in 12 months. The
  // project's default is 3 a year; payers differ (Medicare's facet LCDs
  // allow 2 RF sessions per region in a rolling 12 months; TRICARE West
  // asks 6 months between RFs at one level and side), so it is a setting.
  int maxFacetRfPer12Months = 3;
};

DoseAlertConfig defaultDoseAlertConfig(const std::string& procedure);

enum class AlertLevel { Info, Notice, Warning };
const char* alertLevelName(AlertLevel l);

struct DoseAlert {
  AlertLevel level = AlertLevel::Info;
  std::string code;    // "reference-kerma", "kerma-notification", "fluoro-5min", ...
  std::string message; // with figures and units
};

// An earlier procedure of the same patient, from the history store.
struct PastProcedure {
  std::string date; // DA, YYYYMMDD
  std::string procedure;
  double kermaMGy = 0, pkaGyCm2 = 0, fluoroTimeS = 0;
};

// Alerts for the procedure's current totals; `procedureDate` (DA) places
// the 12-month window of the history.
std::vector<DoseAlert> evaluateDoseAlerts(const DoseTotals& totals, const DoseAlertConfig& config,
                                          const std::string& procedureDate,
                                          const std::vector<PastProcedure>& history);

} // namespace fluoroplan
