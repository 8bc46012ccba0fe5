#pragma once
// The CT's vertebrae by name, as the wrong-level guard and the count on a
// frame use them (from the segmentation, or the plan's "vertebrae").
#include <string>
#include <vector>

#include "imaging/core/geometry.h"

namespace fluoroplan {

struct NamedVertebra {
  std::string level; // as the CT names it: "L4", "L6", "sacrum"
  Vec3 bodyLps;      // its body's centre, LPS mm
  bool ribs = false; // bears ribs
};

struct CtLevelNames {
  std::vector<NamedVertebra> vertebrae; // cranial first
  bool namingCertain = true;
  std::string evidence; // how the CT's levels were counted
};

} // namespace fluoroplan
