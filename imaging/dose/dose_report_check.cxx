#include "imaging/dose/dose_report_check.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>

#include "imaging/dose/dose_ledger.h"

namespace fluoroplan {

bool TotalCheck::agrees() const {
  return eventSum && std::abs(*eventSum - stated) <= tolerance + 1e-12 * std::abs(stated);
}

double storedPrecision(const std::string& s) {
  std::string t;
  for (char c : s)
    if (!std::isspace(static_cast<unsigned char>(c))) t += c;
  const auto e = t.find_first_of("eE");
  const std::string mantissa = t.substr(0, e);
  const int exponent = e == std::string::npos ? 0 : std::atoi(t.c_str() + e + 1);
  const auto dot = mantissa.find('.');
  const int decimals = dot == std::string::npos ? 0 : int(mantissa.size() - dot - 1);
  return std::pow(10.0, exponent - decimals);
}

std::vector<TotalCheck> checkReportTotals(const DoseReportDose& report) {
  // Sums per plane: events of a plane against that plane's totals.
  std::vector<TotalCheck> out;
  for (const StatedTotal& st : report.statedTotals) {
    if (!st.value || st.clinicalUnit.empty()) continue;
    std::vector<DoseEvent> events;
    for (const auto& e : report.events)
      if (st.plane.empty() || e.plane.empty() || e.plane == st.plane) events.push_back(e);
    const DoseTotals t = sumEvents(events);
    auto allHave = [&](auto member, IrradiationKind only, bool anyKind) {
      for (const auto& e : events)
        if ((anyKind || e.kind == only) && !(e.*member)) return false;
      return true;
    };
    TotalCheck c{st.conceptCode,  st.conceptMeaning, st.plane, st.rawValue,
                 st.clinicalUnit, *st.value,         {},       0};
    const std::string& k = st.conceptCode;
    using E = DoseEvent;
    if (k == "113722" && allHave(&E::kermaAreaProductGyCm2, IrradiationKind::Unknown, true))
      c.eventSum = t.pkaGyCm2;
    else if (k == "113725" && allHave(&E::referenceAirKermaMGy, IrradiationKind::Unknown, true))
      c.eventSum = t.kermaMGy;
    else if (k == "113726" &&
             allHave(&E::kermaAreaProductGyCm2, IrradiationKind::Fluoroscopy, false))
      c.eventSum = t.fluoroPkaGyCm2;
    else if (k == "113728" &&
             allHave(&E::referenceAirKermaMGy, IrradiationKind::Fluoroscopy, false))
      c.eventSum = t.fluoroKermaMGy;
    else if (k == "113727" &&
             allHave(&E::kermaAreaProductGyCm2, IrradiationKind::Acquisition, false))
      c.eventSum = t.acquisitionPkaGyCm2;
    else if (k == "113729" &&
             allHave(&E::referenceAirKermaMGy, IrradiationKind::Acquisition, false))
      c.eventSum = t.acquisitionKermaMGy;
    else if (k == "113730" && allHave(&E::durationS, IrradiationKind::Fluoroscopy, false))
      c.eventSum = t.fluoroTimeS;
    else if (k == "113855" && allHave(&E::durationS, IrradiationKind::Acquisition, false))
      c.eventSum = t.acquisitionTimeS;
    else if (k != "113722" && k != "113725" && k != "113726" && k != "113728" && k != "113727" &&
             k != "113729" && k != "113730" && k != "113855")
      continue; // not a total of event values
    // The stored precision in the clinical unit: the same factor as the value.
    std::string ignored;
    const auto unitFactor = st.clinicalUnit == "Gy cm2" ? toGrayCm2(1.0, st.unit, ignored)
                            : st.clinicalUnit == "mGy"  ? toMilliGray(1.0, st.unit, ignored)
                                                        : toSeconds(1.0, st.unit, ignored);
    const double factor = unitFactor.value_or(1.0);
    // A stated zero says nothing about its precision: it agrees only with
    // events that sum to zero.
    c.tolerance = c.stated == 0
                      ? 0.0
                      : std::max(0.001 * std::abs(c.stated), storedPrecision(st.rawValue) * factor);
    out.push_back(c);
  }
  return out;
}

} // namespace fluoroplan
