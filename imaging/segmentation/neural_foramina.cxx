#include "imaging/segmentation/neural_foramina.h"

#include <algorithm>
#include <cmath>

namespace fluoroplan {

std::size_t labelNeuralForamina(const Volume& ct, SpineModel& model) {
  Volume& labels = model.labels;
  std::size_t count = 0;
  const auto& vs = model.vertebrae;
  for (std::size_t m = 0; m + 1 < vs.size(); ++m) {
    const VertebraModel& up = vs[m];
    const VertebraModel& dn = vs[m + 1];
    for (int side : {1, -1}) {
      const auto& pu = side > 0 ? up.pedicleLeft : up.pedicleRight;
      const auto& pd = side > 0 ? dn.pedicleLeft : dn.pedicleRight;
      if (!pu || !pd) continue;
      const VertebraAxes& ax = up.axes;
      const Vec3 a = ax.toLocal(pu->lps), b = ax.toLocal(pd->lps);
      // Pedicles are ~12-16 mm tall (Zindrick 1987): the foramen spans from
      // 5 mm below the upper pedicle's centre to 5 mm above the lower one's.
      const double wTop = a.z - 4, wBottom = b.z + 4;
      if (wTop <= wBottom) continue;
      // Laterally: from the pedicles' medial third to 7 mm past them. In
      // depth: from the back of the body and disc (the canal's front wall)
      // to a third of the way back across the canal, where the facet joint
      // closes the foramen behind.
      const double x0 = std::min(std::abs(a.x), std::abs(b.x)) - 6;
      const double x1 = std::max(std::abs(a.x), std::abs(b.x)) + 7;
      const Vec3 mid = 0.5 * (pu->lps + pd->lps);
      std::size_t ci = 0;
      for (std::size_t i = 1; i < model.canalCentrelineLps.size(); ++i)
        if (norm(model.canalCentrelineLps[i] - mid) < norm(model.canalCentrelineLps[ci] - mid))
          ci = i;
      if (model.canalCentrelineLps.empty()) continue;
      const double vc = ax.toLocal(model.canalCentrelineLps[ci]).y, rc = model.canalRadiusMm[ci];
      const double v0 = vc - rc - 1, v1 = vc + 0.3 * rc;
      // Bounding box of the region in voxel indices.
      Vec3 lo{1e9, 1e9, 1e9}, hi{-1e9, -1e9, -1e9};
      for (double x : {x0, x1})
        for (double v : {v0, v1})
          for (double w : {wBottom, wTop}) {
            const Vec3 idx = labels.lpsToIndex(ax.toLps({side * x, v, w}));
            for (int c = 0; c < 3; ++c) {
              lo[c] = std::min(lo[c], idx[c]);
              hi[c] = std::max(hi[c], idx[c]);
            }
          }
      for (int c = 0; c < 3; ++c) {
        lo[c] = std::max(0.0, std::floor(lo[c]));
        hi[c] = std::min(double(labels.size[std::size_t(c)] - 1), std::ceil(hi[c]));
      }
      if (lo.x > hi.x || lo.y > hi.y || lo.z > hi.z) continue;
      for (auto k = std::size_t(lo.z); k <= std::size_t(hi.z); ++k)
        for (auto j = std::size_t(lo.y); j <= std::size_t(hi.y); ++j)
          for (auto i = std::size_t(lo.x); i <= std::size_t(hi.x); ++i) {
            const std::size_t o = labels.offset(i, j, k);
            if (labels.hu[o] != 0 || ct.hu[o] >= 150) continue;
            const Vec3 q = ax.toLocal(labels.indexToLps({double(i), double(j), double(k)}));
            if (q.z < wBottom || q.z > wTop) continue;
            const double u = side * q.x;
            if (q.y < v0 || q.y > v1 || u < x0 || u > x1) continue;
            labels.hu[o] = spine_label::kNeuralForamen;
            ++count;
          }
    }
  }
  return count;
}

} // namespace fluoroplan
