#include "planning/distance_map.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace fluoroplan {

namespace {
// 1D squared distance transform of f (spacing h) into d (Felzenszwalb &
// Huttenlocher): the lower envelope of parabolas h^2 (q - p)^2 + f(p).
void transform1d(const float* f, float* d, std::size_t n, double h, std::vector<int>& v,
                 std::vector<double>& z) {
  const double inf = std::numeric_limits<double>::infinity();
  const double h2 = h * h;
  int k = 0;
  std::size_t first = 0;
  while (first < n && std::isinf(f[first]))
    ++first;
  if (first == n) {
    for (std::size_t q = 0; q < n; ++q)
      d[q] = std::numeric_limits<float>::infinity();
    return;
  }
  v[0] = int(first);
  z[0] = -inf;
  z[1] = inf;
  for (std::size_t q = first + 1; q < n; ++q) {
    if (std::isinf(f[q])) continue;
    double s;
    for (;;) {
      const int p = v[std::size_t(k)];
      s = ((f[q] + h2 * double(q) * double(q)) - (f[p] + h2 * double(p) * double(p))) /
          (2.0 * h2 * (double(q) - double(p)));
      if (s <= z[std::size_t(k)] && k > 0)
        --k;
      else
        break;
    }
    if (s <= z[std::size_t(k)]) { // k == 0 and the new parabola wins everywhere
      v[0] = int(q);
      z[0] = -inf;
      z[1] = inf;
      continue;
    }
    ++k;
    v[std::size_t(k)] = int(q);
    z[std::size_t(k)] = s;
    z[std::size_t(k) + 1] = inf;
  }
  k = 0;
  for (std::size_t q = 0; q < n; ++q) {
    while (z[std::size_t(k) + 1] < double(q))
      ++k;
    const int p = v[std::size_t(k)];
    d[q] = float(h2 * (double(q) - p) * (double(q) - p) + f[p]);
  }
}
} // namespace

DistanceMap::DistanceMap(const Volume& labels, std::array<std::size_t, 3> lo,
                         std::array<std::size_t, 3> hi, const std::function<bool(int16_t)>& inSet) {
  for (int c = 0; c < 3; ++c) {
    hi[c] = std::min(hi[c], labels.size[std::size_t(c)] - 1);
    if (lo[c] > hi[c]) return;
    n_[c] = hi[c] - lo[c] + 1;
  }
  lo_ = lo;
  grid_.size = n_;
  grid_.spacingMm = labels.spacingMm;
  grid_.directionLps = labels.directionLps;
  grid_.originLps = labels.indexToLps({double(lo[0]), double(lo[1]), double(lo[2])});
  const std::size_t total = n_[0] * n_[1] * n_[2];
  const float inf = std::numeric_limits<float>::infinity();
  mm_.assign(total, inf);
  for (std::size_t k = 0; k < n_[2]; ++k)
    for (std::size_t j = 0; j < n_[1]; ++j)
      for (std::size_t i = 0; i < n_[0]; ++i)
        if (inSet(labels.at(lo[0] + i, lo[1] + j, lo[2] + k))) mm_[i + n_[0] * (j + n_[1] * k)] = 0;
  const std::size_t longest = std::max({n_[0], n_[1], n_[2]});
  std::vector<float> f(longest), d(longest);
  std::vector<int> v(longest);
  std::vector<double> z(longest + 1);
  const double h[3] = {labels.spacingMm.x, labels.spacingMm.y, labels.spacingMm.z};
  const std::size_t stride[3] = {1, n_[0], n_[0] * n_[1]};
  for (int axis = 0; axis < 3; ++axis) {
    const int a1 = (axis + 1) % 3, a2 = (axis + 2) % 3;
    for (std::size_t u = 0; u < n_[a1]; ++u)
      for (std::size_t w = 0; w < n_[a2]; ++w) {
        const std::size_t base = u * stride[a1] + w * stride[a2];
        for (std::size_t q = 0; q < n_[axis]; ++q)
          f[q] = mm_[base + q * stride[axis]];
        transform1d(f.data(), d.data(), n_[axis], h[axis], v, z);
        for (std::size_t q = 0; q < n_[axis]; ++q)
          mm_[base + q * stride[axis]] = d[q];
      }
  }
  for (auto& x : mm_)
    x = std::sqrt(x);
}

double DistanceMap::atLps(Vec3 lps, double outside) const {
  if (mm_.empty()) return outside;
  const Vec3 idx = grid_.lpsToIndex(lps);
  if (!grid_.containsIndex(idx)) return outside;
  const auto i = std::size_t(std::lround(idx.x)), j = std::size_t(std::lround(idx.y)),
             k = std::size_t(std::lround(idx.z));
  const float d = mm_[i + n_[0] * (j + n_[1] * k)];
  return std::isinf(d) ? outside : double(d);
}

} // namespace fluoroplan
