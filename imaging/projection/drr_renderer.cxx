#include "imaging/projection/drr_renderer.h"

#include <algorithm>
#include <cmath>

#include "imaging/core/parallel.h"
#include "imaging/core/reslice.h"

namespace fluoroplan {

Drr renderDrr(const Volume& ct, const CArmGeometry& g, const DrrOptions& o,
              const ProgressCallback& progress) {
  Drr out{g.columns, g.rows, std::vector<float>(std::size_t(g.columns) * g.rows, 0.f)};
  const Vec3 s = g.sourceLps();
  // The ray's span inside the volume's box, in index space (clip the
  // parametric segment against -0.5 .. n-0.5 on each axis).
  const Vec3 s0 = ct.lpsToIndex(s);
  constexpr double kMuWaterPerMm = 0.02;
  parallelFor(
      g.rows, o.threads,
      [&](std::size_t r) {
        for (unsigned c = 0; c < g.columns; ++c) {
          const Vec3 p = g.pixelLps(double(c), double(r));
          const Vec3 p0 = ct.lpsToIndex(p);
          const Vec3 dir = p0 - s0;
          double t0 = 0, t1 = 1;
          for (int a = 0; a < 3; ++a) {
            const double lo = -0.5, hi = double(ct.size[std::size_t(a)]) - 0.5;
            if (std::abs(dir[a]) < 1e-12) {
              if (s0[a] < lo || s0[a] > hi) t1 = -1;
              continue;
            }
            double ta = (lo - s0[a]) / dir[a], tb = (hi - s0[a]) / dir[a];
            if (ta > tb) std::swap(ta, tb);
            t0 = std::max(t0, ta);
            t1 = std::min(t1, tb);
          }
          if (t1 <= t0) continue;
          const double rayMm = norm(p - s);
          const double dt = o.stepMm / rayMm;
          double sum = 0;
          for (double t = t0 + dt / 2; t < t1; t += dt) {
            const double hu = sampleTrilinear(ct, s0 + t * dir, -1000);
            sum += std::max(0.0, 1.0 + hu / 1000.0);
          }
          out.lineIntegral[r * g.columns + c] = float(sum * kMuWaterPerMm * o.stepMm);
        }
      },
      progress, "DRR");
  return out;
}

} // namespace fluoroplan
