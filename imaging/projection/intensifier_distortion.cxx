#include "imaging/projection/intensifier_distortion.h"

#include <cmath>

namespace fluoroplan {

std::array<double, 2> IntensifierDistortion::distort(double c, double r) const {
  if (k == 0 || fieldRadiusPx <= 0) return {c, r};
  const double x = c - centreColumn, y = r - centreRow;
  const double s = 1 + k * (x * x + y * y) / (fieldRadiusPx * fieldRadiusPx);
  return {centreColumn + s * x, centreRow + s * y};
}

std::array<double, 2> IntensifierDistortion::undistort(double c, double r) const {
  if (k == 0 || fieldRadiusPx <= 0) return {c, r};
  const double x = c - centreColumn, y = r - centreRow;
  const double rOut = std::sqrt(x * x + y * y);
  if (rOut == 0) return {c, r};
  // Fixed point r = r' / (1 + k (r/R)^2): converges fast for |k| < 0.3.
  double rIn = rOut;
  for (int it = 0; it < 30; ++it)
    rIn = rOut / (1 + k * (rIn / fieldRadiusPx) * (rIn / fieldRadiusPx));
  const double s = rIn / rOut;
  return {centreColumn + s * x, centreRow + s * y};
}

std::vector<float> correctDistortion(const std::vector<float>& f, unsigned w, unsigned h,
                                     const IntensifierDistortion& d, float outside) {
  if (w < 2 || h < 2) return f;
  std::vector<float> out(std::size_t(w) * h, outside);
  for (unsigned r = 0; r < h; ++r)
    for (unsigned c = 0; c < w; ++c) {
      const auto [x, y] = d.distort(c, r);
      if (x < 0 || y < 0 || x > w - 1.0 || y > h - 1.0) continue;
      const unsigned x0 = std::min(unsigned(x), w - 2), y0 = std::min(unsigned(y), h - 2);
      const double fx = x - x0, fy = y - y0;
      const float* p = &f[std::size_t(y0) * w + x0];
      out[std::size_t(r) * w + c] =
          float((1 - fy) * ((1 - fx) * p[0] + fx * p[1]) + fy * ((1 - fx) * p[w] + fx * p[w + 1]));
    }
  return out;
}

} // namespace fluoroplan
