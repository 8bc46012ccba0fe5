#pragma once
// DrrRenderer: digitally reconstructed radiographs of a CT for a C-arm view:
// rays from the source to each detector pixel, HU converted to linear
// attenuation (water 0.02 /mm at ~60 keV, air 0), integrated with trilinear
// samples every `stepMm`, multithreaded over rows. Out: line integrals
// (attenuation along each ray), which a display maps to grey.
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
  double stepMm = 1.0;
  unsigned threads = 0;
};

Drr renderDrr(const Volume& ct, const CArmGeometry& geometry, const DrrOptions& options = {},
              const ProgressCallback& progress = {});

} // namespace fluoroplan
