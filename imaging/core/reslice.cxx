#include "imaging/core/reslice.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "imaging/core/parallel.h"

namespace fluoroplan {

Vec3 volumeCentreLps(const Volume& v) {
  return v.indexToLps(
      {(double(v.size[0]) - 1) / 2, (double(v.size[1]) - 1) / 2, (double(v.size[2]) - 1) / 2});
}

double sampleTrilinear(const Volume& v, Vec3 p, double outside) {
  if (!v.containsIndex(p)) return outside;
  double f[3];
  std::size_t i0[3], i1[3];
  for (int a = 0; a < 3; ++a) {
    const double c = std::clamp(p[a], 0.0, double(v.size[a] - 1));
    i0[a] = static_cast<std::size_t>(std::floor(c));
    i1[a] = std::min(i0[a] + 1, v.size[a] - 1);
    f[a] = c - double(i0[a]);
  }
  auto at = [&](std::size_t i, std::size_t j, std::size_t k) { return double(v.at(i, j, k)); };
  const double c00 = at(i0[0], i0[1], i0[2]) * (1 - f[0]) + at(i1[0], i0[1], i0[2]) * f[0];
  const double c10 = at(i0[0], i1[1], i0[2]) * (1 - f[0]) + at(i1[0], i1[1], i0[2]) * f[0];
  const double c01 = at(i0[0], i0[1], i1[2]) * (1 - f[0]) + at(i1[0], i0[1], i1[2]) * f[0];
  const double c11 = at(i0[0], i1[1], i1[2]) * (1 - f[0]) + at(i1[0], i1[1], i1[2]) * f[0];
  const double c0 = c00 * (1 - f[1]) + c10 * f[1];
  const double c1 = c01 * (1 - f[1]) + c11 * f[1];
  return c0 * (1 - f[2]) + c1 * f[2];
}

PlaneImage reslice(const Volume& v, ViewPlane plane, Vec3 through, double pixelMm,
                   int32_t outside) {
  PlaneImage img;
  // Screen axes in LPS: columns run along `col`, rows along `row`.
  Vec3 col, row;
  switch (plane) {
  case ViewPlane::Axial:
    col = {1, 0, 0}; // toward the patient's left: the patient's right is on the left
    row = {0, 1, 0}; // toward posterior: anterior is up
    break;
  case ViewPlane::Coronal:
    col = {1, 0, 0};
    row = {0, 0, -1}; // toward the feet: head up
    break;
  case ViewPlane::Sagittal:
    col = {0, 1, 0}; // toward posterior: anterior on the left
    row = {0, 0, -1};
    break;
  }
  const Vec3 normal = cross(col, row);
  if (pixelMm <= 0) pixelMm = std::min({v.spacingMm.x, v.spacingMm.y, v.spacingMm.z});
  // The volume's bounding box projected on the screen axes.
  double lo[2] = {std::numeric_limits<double>::max(), std::numeric_limits<double>::max()};
  double hi[2] = {std::numeric_limits<double>::lowest(), std::numeric_limits<double>::lowest()};
  for (int c = 0; c < 8; ++c) {
    const Vec3 idx{c & 1 ? double(v.size[0]) - 1 : 0, c & 2 ? double(v.size[1]) - 1 : 0,
                   c & 4 ? double(v.size[2]) - 1 : 0};
    const Vec3 p = v.indexToLps(idx);
    const double u = dot(p, col), w = dot(p, row);
    lo[0] = std::min(lo[0], u);
    hi[0] = std::max(hi[0], u);
    lo[1] = std::min(lo[1], w);
    hi[1] = std::max(hi[1], w);
  }
  img.width = static_cast<uint32_t>(std::floor((hi[0] - lo[0]) / pixelMm)) + 1;
  img.height = static_cast<uint32_t>(std::floor((hi[1] - lo[1]) / pixelMm)) + 1;
  img.pixelMm = pixelMm;
  img.columnDirLps = col;
  img.rowDirLps = row;
  img.topLeftLps = lo[0] * col + lo[1] * row + dot(through, normal) * normal;
  img.values.resize(std::size_t(img.width) * img.height);
  for (uint32_t r = 0; r < img.height; ++r)
    for (uint32_t c = 0; c < img.width; ++c) {
      const Vec3 p = img.topLeftLps + (c * pixelMm) * col + (r * pixelMm) * row;
      img.values[std::size_t(r) * img.width + c] =
          static_cast<int32_t>(std::lround(sampleTrilinear(v, v.lpsToIndex(p), outside)));
    }
  return img;
}

PlaneImage cropAround(const PlaneImage& image, Vec3 centre, double halfWidthMm,
                      double halfHeightMm) {
  // Pixel coordinates of the centre, then the clipped pixel box around it.
  const Vec3 rel = centre - image.topLeftLps;
  const double cc = dot(rel, image.columnDirLps) / image.pixelMm,
               rc = dot(rel, image.rowDirLps) / image.pixelMm;
  const double hw = halfWidthMm / image.pixelMm, hh = halfHeightMm / image.pixelMm;
  const long c0 = std::max(0L, std::lround(std::ceil(cc - hw - 1e-9))),
             c1 = std::min(long(image.width) - 1, std::lround(std::floor(cc + hw + 1e-9))),
             r0 = std::max(0L, std::lround(std::ceil(rc - hh - 1e-9))),
             r1 = std::min(long(image.height) - 1, std::lround(std::floor(rc + hh + 1e-9)));
  PlaneImage out = image;
  out.values.clear();
  if (c1 < c0 || r1 < r0) {
    out.width = out.height = 0;
    return out;
  }
  out.width = static_cast<uint32_t>(c1 - c0 + 1);
  out.height = static_cast<uint32_t>(r1 - r0 + 1);
  out.topLeftLps = image.topLeftLps + (double(c0) * image.pixelMm) * image.columnDirLps +
                   (double(r0) * image.pixelMm) * image.rowDirLps;
  out.values.reserve(std::size_t(out.width) * out.height);
  for (long r = r0; r <= r1; ++r)
    for (long c = c0; c <= c1; ++c)
      out.values.push_back(image.values[std::size_t(r) * image.width + std::size_t(c)]);
  return out;
}

Volume blockAverage(const Volume& ct, double mm, std::array<std::size_t, 3>* factors) {
  std::array<std::size_t, 3> f{};
  Volume c;
  for (int a = 0; a < 3; ++a) {
    f[std::size_t(a)] = std::max<std::size_t>(1, std::size_t(std::lround(mm / ct.spacingMm[a])));
    c.size[std::size_t(a)] = std::max<std::size_t>(1, ct.size[std::size_t(a)] / f[std::size_t(a)]);
  }
  c.spacingMm = {ct.spacingMm.x * double(f[0]), ct.spacingMm.y * double(f[1]),
                 ct.spacingMm.z * double(f[2])};
  c.directionLps = ct.directionLps;
  c.originLps =
      ct.indexToLps({(double(f[0]) - 1) / 2, (double(f[1]) - 1) / 2, (double(f[2]) - 1) / 2});
  c.hu.resize(c.voxelCount());
  const double n = double(f[0] * f[1] * f[2]);
  for (std::size_t K = 0; K < c.size[2]; ++K)
    for (std::size_t J = 0; J < c.size[1]; ++J)
      for (std::size_t I = 0; I < c.size[0]; ++I) {
        double s = 0;
        for (std::size_t k = 0; k < f[2]; ++k)
          for (std::size_t j = 0; j < f[1]; ++j)
            for (std::size_t i = 0; i < f[0]; ++i)
              s += ct.at(I * f[0] + i, J * f[1] + j, K * f[2] + k);
        c.hu[c.offset(I, J, K)] = static_cast<int16_t>(std::lround(s / n));
      }
  if (factors) *factors = f;
  return c;
}

Volume resampleToAxial(const Volume& v, double pixelMm, double sliceMm, int16_t outside) {
  Volume a;
  if (v.empty()) return a;
  // The extent of the voxel centres in LPS: the 8 corners of the index box.
  Vec3 lo{1e300, 1e300, 1e300}, hi{-1e300, -1e300, -1e300};
  for (int c = 0; c < 8; ++c) {
    const Vec3 p =
        v.indexToLps({c & 1 ? double(v.size[0] - 1) : 0.0, c & 2 ? double(v.size[1] - 1) : 0.0,
                      c & 4 ? double(v.size[2] - 1) : 0.0});
    for (int k = 0; k < 3; ++k) {
      lo[k] = std::min(lo[k], p[k]);
      hi[k] = std::max(hi[k], p[k]);
    }
  }
  a.spacingMm = {pixelMm, pixelMm, sliceMm};
  a.directionLps = Mat3::fromColumns({1, 0, 0}, {0, 1, 0}, {0, 0, 1});
  a.originLps = lo;
  for (int k = 0; k < 3; ++k)
    a.size[std::size_t(k)] = std::size_t(std::floor((hi[k] - lo[k]) / a.spacingMm[k] + 1e-6)) + 1;
  a.hu.resize(a.voxelCount());
  parallelFor(a.size[2], 0, [&](std::size_t k) {
    for (std::size_t j = 0; j < a.size[1]; ++j)
      for (std::size_t i = 0; i < a.size[0]; ++i) {
        const Vec3 idx = v.lpsToIndex(a.indexToLps({double(i), double(j), double(k)}));
        a.hu[a.offset(i, j, k)] =
            static_cast<int16_t>(std::lround(sampleTrilinear(v, idx, double(outside))));
      }
  });
  return a;
}

Volume labelsOnGrid(const Volume& labels, const Volume& grid) {
  Volume out = grid;
  out.hu.assign(grid.voxelCount(), 0);
  parallelFor(grid.size[2], 0, [&](std::size_t k) {
    for (std::size_t j = 0; j < grid.size[1]; ++j)
      for (std::size_t i = 0; i < grid.size[0]; ++i) {
        const Vec3 idx = labels.lpsToIndex(grid.indexToLps({double(i), double(j), double(k)}));
        if (!labels.containsIndex(idx)) continue;
        out.hu[out.offset(i, j, k)] =
            labels.at(std::size_t(std::lround(std::clamp(idx.x, 0.0, double(labels.size[0] - 1)))),
                      std::size_t(std::lround(std::clamp(idx.y, 0.0, double(labels.size[1] - 1)))),
                      std::size_t(std::lround(std::clamp(idx.z, 0.0, double(labels.size[2] - 1)))));
      }
  });
  return out;
}

} // namespace fluoroplan
