#pragma once
// Needle detection on a registered C-arm frame. With the pose known, a DRR
// of the CT predicts what the frame shows of the patient: what the frame
// absorbs beyond that prediction is what the CT does not hold, the needles
// (and other metal brought in since the scan). The residual is searched for
// straight, thin, dense segments (a Hough transform over the residual, then
// each line followed to its ends), then for compact bright spots (a needle
// seen end-on, in its own down-the-needle view: the tip is the spot's
// centre). Each segment's tip is the end that lies
// deeper in the field: toward its planned target when there is a plan, else
// the end nearer the image centre (the C-arm is centred on the work).
// Pixels are ideal (distortion-corrected) frame pixels (column, row), (0,0)
// the centre of the top-left pixel.
#include <array>
#include <cstdint>
#include <vector>

#include "imaging/projection/carm_geometry.h"

namespace fluoroplan {

struct DetectedNeedle {
  std::array<double, 2> tipPx{}, shaftEndPx{}; // the segment's two ends
  double lengthPx = 0;
  double contrast = 0; // mean residual along it, in noise units
};

struct NeedleDetectionOptions {
  unsigned maxNeedles = 6;
  // At the isocentre: a shorter line is not taken for a needle's shaft (a
  // needle only just in the field, or seen end-on, is a dot, below).
  double minLengthMm = 3;
  // Mean residual along a line, in noise units: needles on the sample are
  // 12-17, what the DRR's coarser voxels leave at bone edges 4-7.
  double minContrast = 8;
  // A needle seen end-on (down-the-needle view): a compact spot this bright
  // at its peak (and minContrast on average), at most 2 minLengthMm across.
  double minDotContrast = 12;
  double maxGapMm = 2.5;    // a line may fade this long and go on
  double halfWidthPx = 1.5; // how far off the line a needle pixel may lie
};

// `frame`: line-integral-like values (larger where more is absorbed), the
// same grid as `drr` (rendered at the frame's registered pose), with `mask`
// the pixels to look at. `targetsPx`: the plan's targets on this frame
// (ideal pixels), or empty.
std::vector<DetectedNeedle> detectNeedles(const std::vector<float>& frame,
                                          const std::vector<uint8_t>& mask,
                                          const std::vector<float>& drr, const CArmGeometry& g,
                                          const std::vector<std::array<double, 2>>& targetsPx = {},
                                          const NeedleDetectionOptions& options = {});

// Takes the pixels within `radiusPx` of each needle out of `mask` (so that
// registration compares anatomy, not the needles the CT does not hold);
// returns how many it took out.
std::size_t maskNeedles(std::vector<uint8_t>& mask, unsigned columns, unsigned rows,
                        const std::vector<DetectedNeedle>& needles, double radiusPx);

// The residual the detection works on: the frame minus what the DRR
// predicts of it (a monotone map of the DRR fitted over the mask), in
// units of the residual's robust noise; 0 outside the mask.
std::vector<float> needleResidual(const std::vector<float>& frame, const std::vector<uint8_t>& mask,
                                  const std::vector<float>& drr, unsigned columns, unsigned rows);

} // namespace fluoroplan
