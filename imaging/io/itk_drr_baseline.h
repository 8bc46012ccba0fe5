#pragma once
// The DRR benchmark's baseline: ITK's own DRR, as its GenerateDRR example
// builds it (itk::ResampleImageFilter with itk::RayCastInterpolateImageFunction),
// on the same volume and detector as ours. Only `fluoroplan bench drr` uses it.
#include <memory>
#include <vector>

#include "imaging/core/volume.h"

namespace fluoroplan {

struct ItkDrrDetector {
  Vec3 sourceLps, firstPixelLps; // focal spot; centre of pixel (0, 0)
  Vec3 columnDirLps, rowDirLps;  // unit vectors on the detector
  double pixelMm = 1;
  unsigned columns = 256, rows = 256;
};

// Holds the CT as an ITK float image of attenuation relative to water
// (max(0, 1 + HU/1000)), made once, outside the timing.
class ItkDrrBaseline {
public:
  explicit ItkDrrBaseline(const Volume& ct);
  ~ItkDrrBaseline();
  // Ray sums (in "water mm") for every detector pixel, row-major.
  std::vector<float> render(const ItkDrrDetector& detector, unsigned threads) const;

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

} // namespace fluoroplan
