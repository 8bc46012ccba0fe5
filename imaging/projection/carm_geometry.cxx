#include "imaging/projection/carm_geometry.h"

#include <algorithm>
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

CArmGeometry turnedAboutIsocentre(const CArmGeometry& g, const Mat3& r) {
  const Vec3 d = r * g.detectorDirection(), u = r * g.columnDirection();
  CArmGeometry out = g;
  out.secondaryDeg = std::asin(std::clamp(d.z, -1.0, 1.0)) / kDeg;
  out.primaryDeg = std::atan2(d.x, -d.y) / kDeg;
  out.inPlaneDeg = 0;
  // The in-plane turn from the untilted column direction toward v.
  const Vec3 u0 = out.columnDirection(), v0 = out.rowDirection();
  out.inPlaneDeg = std::atan2(dot(u, v0), dot(u, u0)) / kDeg;
  return out;
}

Vec3 poseDisplacement(const CArmGeometry& truth, const CArmGeometry& estimate, Vec3 p) {
  const Vec3 q = p - truth.isocentreLps;
  const double a = dot(q, truth.columnDirection()), b = dot(q, truth.rowDirection()),
               c = dot(q, truth.detectorDirection());
  return estimate.isocentreLps + a * estimate.columnDirection() + b * estimate.rowDirection() +
         c * estimate.detectorDirection() - p;
}

} // namespace fluoroplan
