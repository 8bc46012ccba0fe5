#pragma once
// A number with a fixed number of decimals, for messages and reports that
// state values with their units ("0.61 mGy", "2.5 mm").
#include <cstdio>
#include <string>

namespace fluoroplan {

inline std::string fixedDecimals(double value, int decimals) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
  return buffer;
}

} // namespace fluoroplan
