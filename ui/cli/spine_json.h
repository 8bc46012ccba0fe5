#pragma once
// spine.json: a SpineModel written by `fluoroplan segment` and read back by
// `fluoroplan plan --spine DIR`, so a plan can stand on a segmentation the
// user has checked (or renamed) instead of segmenting again. Everything the
// planner reads is in it: names, axes, landmarks, nerve grooves, canal.
#include <filesystem>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include "imaging/segmentation/spine_model.h"

namespace fluoroplan::cli {

// The model's levels, landmarks and canal (not the label map).
nlohmann::json spineModelJson(const SpineModel& model);

struct SpineFileError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Reads `folder`/spine.json and `folder`/labels.nrrd; the label map must lie
// on `ct`'s grid (same size, spacing, origin and axes). Any problem throws
// SpineFileError naming the file and what is wrong.
SpineModel readSpineFolder(const std::filesystem::path& folder, const Volume& ct);

// The user's correction of the naming: the vertebra now called `from` is
// really `to` ("L4=L5"); every other name follows by counting.
void applyRelabel(SpineModel& model, const std::string& fromEqualsTo);

} // namespace fluoroplan::cli
