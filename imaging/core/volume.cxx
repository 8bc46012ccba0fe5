#include "imaging/core/volume.h"

#include <algorithm>
#include <cmath>

namespace fluoroplan {

Vec3 Volume::indexToLps(Vec3 index) const {
  const Vec3 scaled{index.x * spacingMm.x, index.y * spacingMm.y, index.z * spacingMm.z};
  return originLps + directionLps * scaled;
}

Vec3 Volume::lpsToIndex(Vec3 pointLps) const {
  const Vec3 local = inverse(directionLps) * (pointLps - originLps);
  return {local.x / spacingMm.x, local.y / spacingMm.y, local.z / spacingMm.z};
}

Volume reverseSlices(const Volume& v) {
  Volume r;
  r.size = v.size;
  r.spacingMm = v.spacingMm;
  r.directionLps = v.directionLps;
  r.directionLps.setColumn(2, -1.0 * v.directionLps.column(2));
  r.originLps = v.size[2] ? v.indexToLps({0, 0, double(v.size[2] - 1)}) : v.originLps;
  r.hu.resize(v.hu.size());
  const std::size_t slice = v.size[0] * v.size[1];
  for (std::size_t k = 0; k < v.size[2]; ++k)
    std::copy_n(v.hu.begin() + long(k * slice), slice,
                r.hu.begin() + long((v.size[2] - 1 - k) * slice));
  return r;
}

bool Volume::containsIndex(Vec3 index) const {
  for (int a = 0; a < 3; ++a) {
    if (index[a] < -0.5 || index[a] > static_cast<double>(size[a]) - 0.5) return false;
  }
  return true;
}

namespace {
// Letter of the patient axis closest to v, when within ~1 degree; '?' otherwise.
char axisLetter(Vec3 v) {
  const char pos[3] = {'L', 'P', 'S'};
  const char neg[3] = {'R', 'A', 'I'};
  for (int a = 0; a < 3; ++a) {
    if (std::abs(v[a]) > 0.99985) return v[a] > 0 ? pos[a] : neg[a];
  }
  return '?';
}
} // namespace

std::string orientationLabel(const Mat3& d) {
  std::string s;
  for (int c = 0; c < 3; ++c) {
    const char letter = axisLetter(d.column(c));
    if (letter == '?') return "oblique";
    s += letter;
  }
  return s;
}

std::string slicePlaneName(const Mat3& d) {
  const Vec3 n = d.column(2);
  const double ax = std::abs(n.x), ay = std::abs(n.y), az = std::abs(n.z);
  constexpr double kCos1Deg = 0.99985;
  if (az > kCos1Deg) return "axial";
  if (ay > kCos1Deg) return "coronal";
  if (ax > kCos1Deg) return "sagittal";
  return "oblique";
}

} // namespace fluoroplan
