#include "planning/procedure.h"

#include <sstream>
#include <stdexcept>

#include "imaging/core/spine_levels.h"

namespace fluoroplan {

Procedure parseProcedure(const std::string& s) {
  if (s == "facet-rf" || s == "rf") return Procedure::FacetRf;
  if (s == "facet-block" || s == "block" || s == "mbb") return Procedure::FacetBlock;
  if (s == "scs") return Procedure::Scs;
  throw std::invalid_argument("unknown procedure '" + s + "' (facet-rf, facet-block or scs)");
}

Side parseSide(const std::string& s) {
  if (s == "left") return Side::Left;
  if (s == "right") return Side::Right;
  if (s == "both" || s == "bilateral") return Side::Both;
  throw std::invalid_argument("unknown side '" + s + "' (left, right or both)");
}

std::vector<std::string> parseJoints(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string j;
  while (std::getline(in, j, ','))
    if (!j.empty()) {
      jointLevels(j); // validates
      out.push_back(j);
    }
  return out;
}

std::string procedureName(Procedure p) {
  switch (p) {
  case Procedure::FacetRf:
    return "facet-rf";
  case Procedure::FacetBlock:
    return "facet-block";
  case Procedure::Scs:
    return "scs";
  }
  return "?";
}

std::vector<std::string> sidesOf(Side s) {
  if (s == Side::Left) return {"left"};
  if (s == Side::Right) return {"right"};
  return {"left", "right"};
}

std::pair<std::string, std::string> jointLevels(const std::string& joint) {
  const auto dash = joint.find('-');
  if (dash == std::string::npos)
    throw std::invalid_argument("joint '" + joint + "': expected e.g. L4-L5");
  const std::string a = joint.substr(0, dash);
  std::string b = joint.substr(dash + 1);
  if (b == "S1") b = "sacrum";
  const int la = verseLabelOf(a), lb = b == "sacrum" ? spine_label::kSacrum : verseLabelOf(b);
  if (la == 0 || lb == 0) throw std::invalid_argument("joint '" + joint + "': unknown level");
  // Adjacent in the usual count (T12-T13, T13-L1, L5-L6, L6-S1 allowed).
  const bool adjacent = lb == la + 1 || (la == 24 && lb == spine_label::kSacrum) ||
                        (la == 25 && lb == spine_label::kSacrum) ||
                        (la == 19 && lb == spine_label::kT13) ||
                        (la == spine_label::kT13 && lb == 20);
  if (!adjacent) throw std::invalid_argument("joint '" + joint + "': levels are not adjacent");
  return {a, b};
}

std::string defaultScsEntry(const std::string& tipLevel) {
  const int t = verseLabelOf(tipLevel);
  if (t == 0) throw std::invalid_argument("unknown lead-tip level '" + tipLevel + "'");
  if (t <= 7) return "C7-T1"; // cervical targets: entry at C7-T1 to T2-T3
  // Thoracic and upper lumbar targets: enter two to four levels below,
  // at T12-L1 at the highest (DESIGN.md section 3).
  if (t <= 17) return "T12-L1"; // T1-T10 targets
  return "L2-L3";               // T11-L1 targets: enter below the conus
}

} // namespace fluoroplan
