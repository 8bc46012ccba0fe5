#pragma once
// DrrRenderer: digitally reconstructed radiographs of a CT for a C-arm view:
// rays from the source to each detector pixel, HU converted to linear
// attenuation (water 0.02 /mm at ~60 keV, air 0), integrated by Joseph's
// method (one bilinear sample per voxel plane across the ray's dominant
// axis), multithreaded over rows. Out: line integrals (attenuation along
// each ray), which a display maps to grey.
//
// The renderer holds the CT once as attenuation relative to water (float),
// optionally block-averaged to a coarser grid for registration, so that
// each render only marches rays: it runs inside the registration loop.
#include <cstdint>
#include <vector>

#include "imaging/core/progress.h"
#include "imaging/core/volume.h"
#include "imaging/projection/carm_geometry.h"

namespace fluoroplan {

struct Drr {
  unsigned columns = 0, rows = 0;
  std::vector<float> lineIntegral; // row-major, top row first
};

struct DrrOptions {
  unsigned threads = 0; // 0: all cores
  // Optional, columns x rows: only pixels marked non-zero are rendered, the
  // rest stay 0 (a registration compares only some pixels). Not owned.
  const std::vector<uint8_t>* pixelMask = nullptr;
};

class DrrRenderer {
public:
  // `voxelMm` > 0: block-average the CT to about that voxel size first.
  explicit DrrRenderer(const Volume& ct, double voxelMm = 0);
  Drr render(const CArmGeometry& geometry, const DrrOptions& options = {},
             const ProgressCallback& progress = {}) const;
  const Vec3& spacingMm() const { return spacing_; }

private:
  std::size_t n_[3] = {0, 0, 0};
  Vec3 spacing_;
  Mat3 lpsToIndex_; // inverse of direction * spacing
  Vec3 origin_;
  std::vector<float> mu_; // relative to water, x fastest
  // Index box of everything denser than air (attenuation above 5% of
  // water's): rays are clipped to it, skipping the air around the patient.
  double boxLo_[3] = {0, 0, 0}, boxHi_[3] = {0, 0, 0};
};

// One-off render (prepares the volume each call).
Drr renderDrr(const Volume& ct, const CArmGeometry& geometry, const DrrOptions& options = {},
              const ProgressCallback& progress = {});

} // namespace fluoroplan
