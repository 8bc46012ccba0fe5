#include "imaging/dose/dose_alerts.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "imaging/core/text_format.h"

namespace fluoroplan {

const char* alertLevelName(AlertLevel l) {
  switch (l) {
  case AlertLevel::Info:
    return "info";
  case AlertLevel::Notice:
    return "notice";
  case AlertLevel::Warning:
    return "warning";
  }
  return "?";
}

DoseAlertConfig defaultDoseAlertConfig(const std::string& procedure) {
  DoseAlertConfig c;
  c.procedure = procedure;
  if (procedure == "facet-block" || procedure == "facet-rf") {
    // Lumbar medial branch blocks, oblique technique: mean 109 mGy and 46 s
    // (AP technique 66 mGy, 28 s). Bakir M et al., Life 2024;14(9):1179.
    c.referenceKermaMGy = 109;
    c.referenceFluoroTimeS = 46;
    c.referenceSource = "mean of lumbar medial branch blocks, oblique technique (Bakir 2024)";
  } else if (procedure == "scs") {
    // Percutaneous SCS trials: fluoroscopy 133 +- 85 s (28-387 s), air kerma
    // 1.8-43.7 mGy. Wininger KL et al., Pain Physician 2010;13(1):7-18.
    c.referenceKermaMGy = 43.7;
    c.referenceFluoroTimeS = 387;
    c.referenceSource = "upper end of SCS trials (Wininger 2010)";
  }
  return c;
}

std::vector<DoseAlert> evaluateDoseAlerts(const DoseTotals& t, const DoseAlertConfig& c,
                                          const std::string& procedureDate,
                                          const std::vector<PastProcedure>& history) {
  std::vector<DoseAlert> out;
  if (!t.complete())
    out.push_back({AlertLevel::Notice, "incomplete", "totals may be low: " + t.incomplete.front()});
  if (c.referenceKermaMGy && t.kermaMGy > *c.referenceKermaMGy)
    out.push_back({AlertLevel::Notice, "reference-kerma",
                   "Ka,r " + fixedDecimals(t.kermaMGy, 1) + " mGy is above the reference level " +
                       fixedDecimals(*c.referenceKermaMGy, 1) + " mGy (" + c.referenceSource +
                       ")"});
  if (c.referencePkaGyCm2 && t.pkaGyCm2 > *c.referencePkaGyCm2)
    out.push_back({AlertLevel::Notice, "reference-pka",
                   "PKA " + fixedDecimals(t.pkaGyCm2, 2) + " Gy cm2 is above the reference level " +
                       fixedDecimals(*c.referencePkaGyCm2, 2) + " Gy cm2 (" + c.referenceSource +
                       ")"});
  if (c.referenceFluoroTimeS && t.fluoroTimeS > *c.referenceFluoroTimeS)
    out.push_back({AlertLevel::Notice, "reference-fluoro-time",
                   "fluoroscopy time " + fixedDecimals(t.fluoroTimeS / 60, 1) +
                       " min is above the reference level " +
                       fixedDecimals(*c.referenceFluoroTimeS / 60, 1) + " min (" +
                       c.referenceSource + ")"});
  if (t.kermaMGy >= c.kermaFirstNotificationMGy) {
    const double steps =
        c.kermaNotificationStepMGy > 0
            ? std::floor((t.kermaMGy - c.kermaFirstNotificationMGy) / c.kermaNotificationStepMGy)
            : 0;
    const double level = c.kermaFirstNotificationMGy + steps * c.kermaNotificationStepMGy;
    out.push_back({AlertLevel::Warning, "kerma-notification",
                   "Ka,r has passed " + fixedDecimals(level, 0) + " mGy (now " +
                       fixedDecimals(t.kermaMGy, 0) +
                       " mGy): tell the operator; skin dose follow-up may be needed"});
  }
  if (c.fluoroSignalEveryS > 0 && t.fluoroTimeS >= c.fluoroSignalEveryS) {
    const double passed = std::floor(t.fluoroTimeS / c.fluoroSignalEveryS) * c.fluoroSignalEveryS;
    out.push_back({AlertLevel::Notice, "fluoro-timer",
                   "fluoroscopy time has passed " + fixedDecimals(passed / 60, 1) + " min (now " +
                       fixedDecimals(t.fluoroTimeS / 60, 1) + " min)"});
  }
  // The 12 months before this procedure.
  // A date that is not YYYYMMDD places no window: the whole history counts.
  const bool dated =
      procedureDate.size() >= 8 && std::all_of(procedureDate.begin(), procedureDate.begin() + 8,
                                               [](char ch) { return ch >= '0' && ch <= '9'; });
  const int year = dated ? std::atoi(procedureDate.substr(0, 4).c_str()) : 0;
  const std::string from =
      dated ? std::to_string(year - 1) + procedureDate.substr(4, 4) : std::string();
  double kerma12 = t.kermaMGy;
  std::vector<std::string> rfDates;
  for (const auto& p : history) {
    if (dated && (p.date <= from || p.date > procedureDate.substr(0, 8))) continue;
    kerma12 += p.kermaMGy;
    if (p.procedure == "facet-rf") rfDates.push_back(p.date);
  }
  if (kerma12 >= c.historyKermaLevelMGy)
    out.push_back({AlertLevel::Warning, "history-kerma",
                   "the patient's Ka,r over 12 months is " + fixedDecimals(kerma12, 0) +
                       " mGy, at or above " + fixedDecimals(c.historyKermaLevelMGy, 0) + " mGy"});
  if (c.procedure == "facet-rf" && int(rfDates.size()) + 1 > c.maxFacetRfPer12Months) {
    std::string dates;
    for (const auto& d : rfDates)
      dates += (dates.empty() ? "" : ", ") + d;
    out.push_back({AlertLevel::Warning, "facet-rf-repeat",
                   "this is facet RF number " + std::to_string(rfDates.size() + 1) +
                       " in 12 months (earlier: " + dates + "); the limit set is " +
                       std::to_string(c.maxFacetRfPer12Months) + " a year"});
  }
  return out;
}

} // namespace fluoroplan
