#pragma once
// A dose report's stated accumulated totals against the sum of its own
// irradiation events. Vendors do not always agree with themselves; the
// tolerance is the larger of 0.1% and the precision the total is stored
// with (one unit in its last written digit).
#include <optional>
#include <string>
#include <vector>

#include "imaging/dose/dose_event.h"

namespace fluoroplan {

struct TotalCheck {
  std::string conceptCode, conceptMeaning, plane, rawValue, clinicalUnit;
  double stated = 0;              // clinical unit
  std::optional<double> eventSum; // empty when the events do not state it
  double tolerance = 0;           // clinical unit
  bool agrees() const;
};

std::vector<TotalCheck> checkReportTotals(const DoseReportDose& report);

// One unit in the last digit written, e.g. "0.00252" -> 1e-5, "1.6e-005" -> 1e-6.
double storedPrecision(const std::string& decimalString);

} // namespace fluoroplan
