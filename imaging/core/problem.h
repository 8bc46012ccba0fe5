#pragma once
// A problem found in input data: which file, how bad, and what is wrong, in
// words a user can act on. Readers collect problems instead of stopping, so
// the rest of a folder still loads.
#include <string>
#include <vector>

namespace fluoroplan {

enum class Severity { Info, Warning, Error };

struct Problem {
  Severity severity = Severity::Error;
  std::string file;    // path of the file concerned; empty when it is a whole series
  std::string message; // what is wrong, with figures and units

  std::string toString() const; // "error: <file>: <message>"
};

const char* severityName(Severity s);

using Problems = std::vector<Problem>;

} // namespace fluoroplan
