#include "imaging/projection/carm_geometry.h"

#include <cmath>

namespace fluoroplan {

namespace {
constexpr double kDeg = 3.14159265358979323846 / 180.0;
}

Vec3 CArmGeometry::detectorDirection() const {
  const double a = primaryDeg * kDeg, b = secondaryDeg * kDeg;
  return {std::sin(a) * std::cos(b), -std::cos(a) * std::cos(b), std::sin(b)};
}
Vec3 CArmGeometry::columnDirection() const {
  const double a = primaryDeg * kDeg;
  const Vec3 u{std::cos(a), std::sin(a), 0};
  if (inPlaneDeg == 0) return u;
  // Rotated about d: u' = cos t u + sin t v, with v = u x d.
  const double t = inPlaneDeg * kDeg;
  return std::cos(t) * u + std::sin(t) * cross(u, detectorDirection());
}
Vec3 CArmGeometry::rowDirection() const {
  return cross(columnDirection(), detectorDirection());
}
Vec3 CArmGeometry::sourceLps() const {
  return isocentreLps - sourceToIsocentreMm * detectorDirection();
}
Vec3 CArmGeometry::detectorCentreLps() const {
  return isocentreLps + (sourceToDetectorMm - sourceToIsocentreMm) * detectorDirection();
}

std::array<double, 2> CArmGeometry::project(Vec3 p) const {
  const Vec3 s = sourceLps(), d = detectorDirection(), c = detectorCentreLps();
  const double t = dot(c - s, d) / dot(p - s, d);
  const Vec3 x = s + t * (p - s) - c;
  return {principalColumn + dot(x, columnDirection()) / pixelMm,
          principalRow + dot(x, rowDirection()) / pixelMm};
}

std::array<double, 12> CArmGeometry::projectionMatrix() const {
  // With q = p - s: w = d.q / SID; c w = cc w + (u.q)/px; r w = rc w + (v.q)/px
  // (the detector plane lies SID from the source along d).
  const Vec3 s = sourceLps(), d = detectorDirection(), u = columnDirection(), v = rowDirection();
  const double f = sourceToDetectorMm;
  const Vec3 rowC = (1.0 / pixelMm) * u + (principalColumn / f) * d;
  const Vec3 rowR = (1.0 / pixelMm) * v + (principalRow / f) * d;
  const Vec3 rowW = (1.0 / f) * d;
  return {rowC.x, rowC.y,        rowC.z, -dot(rowC, s), rowR.x, rowR.y,
          rowR.z, -dot(rowR, s), rowW.x, rowW.y,        rowW.z, -dot(rowW, s)};
}

Vec3 CArmGeometry::pixelLps(double column, double row) const {
  return detectorCentreLps() + ((column - principalColumn) * pixelMm) * columnDirection() +
         ((row - principalRow) * pixelMm) * rowDirection();
}

} // namespace fluoroplan
