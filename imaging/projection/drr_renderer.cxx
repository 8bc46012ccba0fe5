#include "imaging/projection/drr_renderer.h"

#include <algorithm>
#include <cmath>

#include "imaging/core/parallel.h"

namespace fluoroplan {

namespace {
constexpr double kMuWaterPerMm = 0.02;
}

DrrRenderer::DrrRenderer(const Volume& ct, double voxelMm) {
  // Block factors per axis (1 = full resolution).
  std::size_t f[3] = {1, 1, 1};
  if (voxelMm > 0)
    for (int a = 0; a < 3; ++a)
      f[a] = std::max<std::size_t>(1, std::size_t(std::lround(voxelMm / ct.spacingMm[a])));
  for (int a = 0; a < 3; ++a)
    n_[a] = std::max<std::size_t>(1, ct.size[a] / f[a]);
  const std::size_t nx_ = n_[0], ny_ = n_[1], nz_ = n_[2];
  spacing_ = {ct.spacingMm.x * double(f[0]), ct.spacingMm.y * double(f[1]),
              ct.spacingMm.z * double(f[2])};
  // The block's centre: index (f-1)/2 of the fine grid.
  origin_ = ct.indexToLps({(double(f[0]) - 1) / 2, (double(f[1]) - 1) / 2, (double(f[2]) - 1) / 2});
  const Mat3 scaled = Mat3::fromColumns(spacing_.x * ct.directionLps.column(0),
                                        spacing_.y * ct.directionLps.column(1),
                                        spacing_.z * ct.directionLps.column(2));
  lpsToIndex_ = inverse(scaled);
  mu_.assign(nx_ * ny_ * nz_, 0.f);
  const double n = double(f[0] * f[1] * f[2]);
  parallelFor(nz_, 0, [&](std::size_t K) {
    for (std::size_t J = 0; J < ny_; ++J)
      for (std::size_t I = 0; I < nx_; ++I) {
        double s = 0;
        for (std::size_t k = 0; k < f[2]; ++k)
          for (std::size_t j = 0; j < f[1]; ++j)
            for (std::size_t i = 0; i < f[0]; ++i)
              s += std::max(0.0, 1.0 + ct.at(I * f[0] + i, J * f[1] + j, K * f[2] + k) / 1000.0);
        mu_[(K * ny_ + J) * nx_ + I] = float(s / n);
      }
  });
  std::size_t lo[3] = {nx_, ny_, nz_}, hi[3] = {0, 0, 0};
  for (std::size_t K = 0; K < nz_; ++K)
    for (std::size_t J = 0; J < ny_; ++J)
      for (std::size_t I = 0; I < nx_; ++I)
        if (mu_[(K * ny_ + J) * nx_ + I] > 0.05f) {
          const std::size_t at[3] = {I, J, K};
          for (int a = 0; a < 3; ++a) {
            lo[a] = std::min(lo[a], at[a]);
            hi[a] = std::max(hi[a], at[a]);
          }
        }
  for (int a = 0; a < 3; ++a) {
    // One voxel of margin for the interpolation, within the grid.
    boxLo_[a] = lo[a] > hi[a] ? 0 : double(lo[a] > 0 ? lo[a] - 1 : 0);
    boxHi_[a] = lo[a] > hi[a] ? 0 : double(std::min(hi[a] + 1, n_[a] - 1));
  }
}

Drr DrrRenderer::render(const CArmGeometry& g, const DrrOptions& o,
                        const ProgressCallback& progress) const {
  Drr out{g.columns, g.rows, std::vector<float>(std::size_t(g.columns) * g.rows, 0.f)};
  const Vec3 s = g.sourceLps();
  const Vec3 s0 = lpsToIndex_ * (s - origin_);
  // Rays are clipped to 0 .. n-1 on every axis, so each sample reads its
  // neighbours without bounds checks.
  const double hi[3] = {double(n_[0]) - 1 - 1e-6, double(n_[1]) - 1 - 1e-6,
                        double(n_[2]) - 1 - 1e-6};
  // Joseph's method: one sample per voxel plane across the dominant axis m
  // of the central ray (a C-arm's cone is narrow, so it is every ray's, or
  // nearly), bilinear within the plane (4 reads, not a trilinear 8),
  // weighted by the ray's length per plane. Each task sets up the rays of
  // a band of detector rows, then marches them one after the other.
  const Vec3 central = lpsToIndex_ * (g.pixelLps(g.principalColumn, g.principalRow) - origin_) - s0;
  int m = 0;
  for (int a = 1; a < 3; ++a)
    if (std::abs(central[a]) > std::abs(central[m])) m = a;
  const int a1 = (m + 1) % 3, a2 = (m + 2) % 3;
  const float* mu = mu_.data();
  const std::size_t stride[3] = {1, n_[0], n_[0] * n_[1]};
  const std::size_t sm = stride[m], s1 = stride[a1], s2 = stride[a2];
  // The detector's frame, once: CArmGeometry derives its directions from
  // the angles (trigonometry) on every call. Pixels are placed as
  // CArmGeometry::pixelLps places them, operation for operation.
  const Vec3 centre = g.detectorCentreLps(), colDir = g.columnDirection(),
             rowDir = g.rowDirection();
  const std::vector<uint8_t>* mask =
      o.pixelMask && o.pixelMask->size() == std::size_t(g.columns) * g.rows ? o.pixelMask : nullptr;
  constexpr unsigned kBand = 8;
  const std::size_t bands = (g.rows + kBand - 1) / kBand;
  parallelFor(
      bands, o.threads,
      [&](std::size_t band) {
        struct Ray {
          double u, v, du, dv, perPlaneMm;
          long first, last;
          std::size_t pixel;
        };
        std::vector<Ray> rays;
        rays.reserve(std::size_t(kBand) * g.columns);
        const unsigned r1 = std::min<unsigned>(g.rows, unsigned(band + 1) * kBand);
        for (unsigned r = unsigned(band) * kBand; r < r1; ++r)
          for (unsigned c = 0; c < g.columns; ++c) {
            if (mask && !(*mask)[std::size_t(r) * g.columns + c]) continue;
            const Vec3 p = centre + ((double(c) - g.principalColumn) * g.pixelMm) * colDir +
                           ((double(r) - g.principalRow) * g.pixelMm) * rowDir;
            const Vec3 dir = lpsToIndex_ * (p - origin_) - s0;
            if (std::abs(dir[m]) < 1e-9) continue;
            double t0 = 0, t1 = 1;
            for (int a = 0; a < 3; ++a) {
              if (std::abs(dir[a]) < 1e-12) {
                if (s0[a] < boxLo_[a] || s0[a] > std::min(boxHi_[a], hi[a])) t1 = -1;
                continue;
              }
              double ta = (boxLo_[a] - s0[a]) / dir[a],
                     tb = (std::min(boxHi_[a], hi[a]) - s0[a]) / dir[a];
              if (ta > tb) std::swap(ta, tb);
              t0 = std::max(t0, ta);
              t1 = std::min(t1, tb);
            }
            if (t1 <= t0) continue;
            const double e0 = s0[m] + t0 * dir[m], e1 = s0[m] + t1 * dir[m];
            Ray ray;
            ray.first = long(std::ceil(std::min(e0, e1)));
            ray.last = long(std::floor(std::max(e0, e1)));
            ray.du = dir[a1] / dir[m];
            ray.dv = dir[a2] / dir[m];
            // Coordinates at plane `first`; planes are visited in increasing k.
            auto uAt = [&](long k) { return s0[a1] + (double(k) - s0[m]) * ray.du; };
            auto vAt = [&](long k) { return s0[a2] + (double(k) - s0[m]) * ray.dv; };
            auto inside = [&](long k) {
              const double u = uAt(k), v = vAt(k);
              return u >= 0 && u <= hi[a1] && v >= 0 && v <= hi[a2];
            };
            // Rounding at the clipped ends may leave an end plane a hair
            // outside: drop it, so the sweep needs no clamping.
            while (ray.first <= ray.last && !inside(ray.first))
              ++ray.first;
            while (ray.last >= ray.first && !inside(ray.last))
              --ray.last;
            if (ray.last < ray.first) continue;
            ray.u = uAt(ray.first);
            ray.v = vAt(ray.first);
            ray.perPlaneMm = norm(p - s) / std::abs(dir[m]);
            ray.pixel = std::size_t(r) * g.columns + c;
            rays.push_back(ray);
          }
        for (const Ray& ray : rays) {
          // Along one ray, plane after plane; u and v stay inside the grid.
          double u = ray.u, v = ray.v;
          const float* plane = mu + std::size_t(ray.first) * sm;
          auto sample = [&]() {
            const auto iu = std::size_t(u), iv = std::size_t(v);
            const float fu = float(u - double(iu)), fv = float(v - double(iv));
            const float* q = plane + iu * s1 + iv * s2;
            const float c0 = q[0] + fu * (q[s1] - q[0]);
            const float c1 = q[s2] + fu * (q[s2 + s1] - q[s2]);
            u += ray.du;
            v += ray.dv;
            plane += sm;
            return c0 + fv * (c1 - c0);
          };
          // Two sums, planes taken in turn: each addition no longer waits
          // for the one before it, so the loads of the next planes overlap.
          float even = 0, odd = 0;
          long k = ray.first;
          for (; k + 1 <= ray.last; k += 2) {
            even += sample();
            odd += sample();
          }
          if (k <= ray.last) even += sample();
          out.lineIntegral[ray.pixel] = float(double(even + odd) * kMuWaterPerMm * ray.perPlaneMm);
        }
      },
      progress, "DRR");
  return out;
}

Drr renderDrr(const Volume& ct, const CArmGeometry& g, const DrrOptions& o,
              const ProgressCallback& progress) {
  return DrrRenderer(ct).render(g, o, progress);
}

} // namespace fluoroplan
