#pragma once
// JSON forms of the CLI's values, shared by its verbs.
#include <nlohmann/json.hpp>

#include "imaging/core/geometry.h"

namespace fluoroplan::cli {

// [x, y, z] (LPS mm where the caller says so).
inline nlohmann::json vec(Vec3 v) {
  return nlohmann::json::array({v.x, v.y, v.z});
}

} // namespace fluoroplan::cli
