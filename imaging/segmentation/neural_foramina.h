#pragma once
// NeuralForamina: labels the intervertebral foramina (spine_label::
// kNeuralForamen) between each pair of adjacent vertebrae, left and right:
// the soft tissue between the lower border of the upper pedicle and the
// upper border of the lower one, from the canal's wall out to just beyond
// the pedicles' lateral edges, at the pedicles' depth (in front of the
// facet joint, behind the disc). The exiting root runs through it; the
// planner keeps needles out of it.
#include "imaging/core/volume.h"
#include "imaging/segmentation/spine_model.h"

namespace fluoroplan {

// Writes kNeuralForamen into model.labels where the voxel is not bone or
// canal and its CT value is soft tissue (below 150 HU). Returns the number
// of voxels labelled.
std::size_t labelNeuralForamina(const Volume& ct, SpineModel& model);

} // namespace fluoroplan
