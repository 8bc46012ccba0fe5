#pragma once
// Image-intensifier pincushion distortion, radial about the field's centre:
// an ideal point at radius r from the centre shows at r' = r (1 + k (r/R)^2),
// R the field's radius. k comes from the C-arm's calibration (a grid
// phantom); 0 is a flat-panel detector. Correcting a frame resamples it on
// the ideal grid, so the C-arm's projection matrix applies to it.
#include <array>
#include <vector>

namespace fluoroplan {

struct IntensifierDistortion {
  double k = 0;             // 0: none
  double fieldRadiusPx = 0; // R
  double centreColumn = 0, centreRow = 0;

  // Where an ideal pixel shows in the distorted frame.
  std::array<double, 2> distort(double column, double row) const;
  // Where a distorted pixel belongs in the ideal image (inverse, iterated).
  std::array<double, 2> undistort(double column, double row) const;
};

// The frame resampled on the ideal grid (bilinear); pixels whose distorted
// place falls outside the frame are `outside`.
std::vector<float> correctDistortion(const std::vector<float>& frame, unsigned columns,
                                     unsigned rows, const IntensifierDistortion& d,
                                     float outside = 0.f);

} // namespace fluoroplan
