#include "imaging/core/geometry.h"

#include <algorithm>
#include <numbers>
#include <stdexcept>

namespace fluoroplan {

double determinant(const Mat3& a) {
  return a(0, 0) * (a(1, 1) * a(2, 2) - a(1, 2) * a(2, 1)) -
         a(0, 1) * (a(1, 0) * a(2, 2) - a(1, 2) * a(2, 0)) +
         a(0, 2) * (a(1, 0) * a(2, 1) - a(1, 1) * a(2, 0));
}

Mat3 inverse(const Mat3& a) {
  const double det = determinant(a);
  if (std::abs(det) < 1e-12) throw std::domain_error("singular 3x3 matrix");
  Mat3 r;
  r(0, 0) = (a(1, 1) * a(2, 2) - a(1, 2) * a(2, 1)) / det;
  r(0, 1) = (a(0, 2) * a(2, 1) - a(0, 1) * a(2, 2)) / det;
  r(0, 2) = (a(0, 1) * a(1, 2) - a(0, 2) * a(1, 1)) / det;
  r(1, 0) = (a(1, 2) * a(2, 0) - a(1, 0) * a(2, 2)) / det;
  r(1, 1) = (a(0, 0) * a(2, 2) - a(0, 2) * a(2, 0)) / det;
  r(1, 2) = (a(0, 2) * a(1, 0) - a(0, 0) * a(1, 2)) / det;
  r(2, 0) = (a(1, 0) * a(2, 1) - a(1, 1) * a(2, 0)) / det;
  r(2, 1) = (a(0, 1) * a(2, 0) - a(0, 0) * a(2, 1)) / det;
  r(2, 2) = (a(0, 0) * a(1, 1) - a(0, 1) * a(1, 0)) / det;
  return r;
}

Mat3 rotationDeg(Vec3 w) {
  const double angle = norm(w) * 3.14159265358979323846 / 180;
  if (angle < 1e-15) return Mat3{};
  const Vec3 k = normalized(w);
  const double c = std::cos(angle), s = std::sin(angle), t = 1 - c;
  Mat3 r;
  r(0, 0) = c + k.x * k.x * t;
  r(0, 1) = k.x * k.y * t - k.z * s;
  r(0, 2) = k.x * k.z * t + k.y * s;
  r(1, 0) = k.y * k.x * t + k.z * s;
  r(1, 1) = c + k.y * k.y * t;
  r(1, 2) = k.y * k.z * t - k.x * s;
  r(2, 0) = k.z * k.x * t - k.y * s;
  r(2, 1) = k.z * k.y * t + k.x * s;
  r(2, 2) = c + k.z * k.z * t;
  return r;
}

double angleDegrees(Vec3 a, Vec3 b) {
  const double na = norm(a), nb = norm(b);
  if (na == 0 || nb == 0) return 0;
  const double c = std::clamp(dot(a, b) / (na * nb), -1.0, 1.0);
  return std::acos(c) * 180.0 / std::numbers::pi;
}

double distanceToSegment(Vec3 p, Vec3 a, Vec3 b) {
  const Vec3 ab = b - a;
  const double t = std::clamp(dot(p - a, ab) / std::max(dot(ab, ab), 1e-12), 0.0, 1.0);
  return norm(p - (a + t * ab));
}

} // namespace fluoroplan
