#pragma once
// SpineSegmenter: CT Volume -> SpineModel, by classical image analysis:
// 1. the spinal canal is tracked slice by slice as the low-density hole that
//    the bony ring closes around, in front of which lies a vertebral body;
// 2. bone density sampled on planes across the canal's course dips at the
//    intervertebral discs: the dips split the column into vertebrae;
// 3. each vertebra's body seeds a priority flood (marker watershed on HU)
//    through the bone mask, so posterior elements join their own body and
//    the low-density joint spaces (facets, discs) keep neighbours apart;
// 4. levels are named by counting up from the sacrum and down from the last
//    rib-bearing vertebra; when the two disagree or neither is in view the
//    naming is marked uncertain with the alternatives.
#include <stdexcept>
#include <string>

#include "imaging/core/progress.h"
#include "imaging/core/volume.h"
#include "imaging/segmentation/spine_model.h"

namespace fluoroplan {

class NoSpineFound : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

struct SegmentationOptions {
  double coarseMm = 1.5;        // grid for canal tracking and the disc profile
  double minDiscSpacingMm = 12; // closest two discs may be (cervical ~16 mm apart)
  double ribSearchMm = 52;      // bone farther from the canal than this is not vertebra
  unsigned threads = 0;
};

// Slices may be stored in either order and in any plane: sagittal, coronal
// or oblique ones are resampled onto an axial grid as fine as the CT's, and
// the label map always comes back on the CT's own grid.
SpineModel segmentSpine(const Volume& ct, const SegmentationOptions& options = {},
                        const ProgressCallback& progress = {});

// A user's override of the naming: vertebra `index` (0 = most cranial) is
// `level`; every other name follows by counting, labels are rewritten.
void renameLevels(SpineModel& model, std::size_t index, const std::string& level);

// Dice overlap of label `a` in x and label `b` in y (same grid).
double dice(const Volume& x, int a, const Volume& y, int b);

} // namespace fluoroplan
