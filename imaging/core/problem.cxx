#include "imaging/core/problem.h"

namespace fluoroplan {

const char* severityName(Severity s) {
  switch (s) {
  case Severity::Info:
    return "info";
  case Severity::Warning:
    return "warning";
  case Severity::Error:
    return "error";
  }
  return "error";
}

std::string Problem::toString() const {
  std::string s = severityName(severity);
  s += ": ";
  if (!file.empty()) s += file + ": ";
  s += message;
  return s;
}

} // namespace fluoroplan
