#include "planning/carm_view.h"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace fluoroplan {

namespace {
constexpr double kDeg = 3.14159265358979323846 / 180.0;
}

Vec3 detectorDirection(CArmAngles a) {
  const double p = a.primaryDeg * kDeg, s = a.secondaryDeg * kDeg;
  return {std::sin(p) * std::cos(s), -std::cos(p) * std::cos(s), std::sin(s)};
}

CArmAngles anglesForDetectorDirection(Vec3 d) {
  d = normalized(d);
  CArmAngles a;
  a.secondaryDeg = std::asin(std::clamp(d.z, -1.0, 1.0)) / kDeg;
  // At +-90 secondary the primary is undefined: report 0.
  a.primaryDeg = std::hypot(d.x, d.y) < 1e-9 ? 0.0 : std::atan2(d.x, -d.y) / kDeg;
  return a;
}

NeedleView describeView(Vec3 d, bool prone, const std::string& needleSide, Vec3 endplateCranial,
                        const CArmLimits& limits) {
  d = normalized(d);
  NeedleView v;
  v.detectorDirectionLps = d;
  v.angles = anglesForDetectorDirection(d);
  // The straight view a pain specialist starts from: detector over the
  // back (PA) for a prone patient, over the chest (AP) for a supine one.
  const Vec3 straight = prone ? Vec3{0, 1, 0} : Vec3{0, -1, 0};
  const Vec3 axial = normalized(Vec3{d.x, d.y, 0});
  const double obl = std::acos(std::clamp(dot(axial, straight), -1.0, 1.0)) / kDeg;
  v.obliqueDeg = obl;
  // Ipsilateral: the detector turned toward the needle's side.
  const bool towardLeft = d.x > 0;
  if (obl >= 0.5)
    v.obliqueSide = (towardLeft == (needleSide == "left")) ? "ipsilateral" : "contralateral";
  v.tiltDeg = std::abs(v.angles.secondaryDeg);
  if (v.tiltDeg >= 0.5) v.tiltSide = d.z < 0 ? "caudal" : "cranial";
  // Relative to the squared endplate: the angle between the beam and the
  // endplate's plane, in the sagittal direction.
  const Vec3 c = normalized(endplateCranial);
  v.tiltFromEndplateDeg = std::asin(std::clamp(-dot(d, c), -1.0, 1.0)) / kDeg; // + caudal
  std::ostringstream w;
  w.setf(std::ios::fixed);
  w.precision(0);
  if (v.obliqueSide.empty())
    w << "no oblique";
  else
    w << obl << " degrees " << v.obliqueSide << " oblique";
  if (v.tiltSide.empty())
    w << ", no tilt";
  else
    w << ", " << v.tiltDeg << " degrees " << v.tiltSide << " tilt";
  w << " (" << std::abs(v.tiltFromEndplateDeg) << " degrees "
    << (v.tiltFromEndplateDeg >= 0 ? "caudal" : "cranial") << " from the squared endplate)";
  v.words = w.str();
  if (std::abs(v.angles.secondaryDeg) > limits.maxSecondaryDeg) {
    v.reachable = false;
    std::ostringstream why;
    why.precision(0);
    why << std::fixed << "needs " << std::abs(v.angles.secondaryDeg)
        << " degrees of tilt; the C-arm reaches " << limits.maxSecondaryDeg;
    v.whyNot = why.str();
  } else if (obl > limits.maxObliqueDeg) {
    v.reachable = false;
    std::ostringstream why;
    why.precision(0);
    why << std::fixed << "needs " << obl << " degrees of oblique; the C-arm reaches "
        << limits.maxObliqueDeg;
    v.whyNot = why.str();
  }
  return v;
}

NeedleView downTheNeedleView(Vec3 entry, Vec3 target, bool prone, const std::string& needleSide,
                             Vec3 endplateCranial, const CArmLimits& limits) {
  // Detector on the skin side: the beam runs from beyond the target out
  // along the needle.
  return describeView(entry - target, prone, needleSide, endplateCranial, limits);
}

NeedleView progressView(Vec3 entry, Vec3 target, bool prone, const std::string& needleSide,
                        Vec3 endplateCranial, const CArmLimits& limits) {
  const Vec3 t = normalized(entry - target);
  // Detector toward the needle's side, at right angles to the needle; for
  // a needle from the side (the neck's lateral approach) the AP or PA view,
  // with the detector above the patient.
  const Vec3 side{needleSide == "left" ? 1.0 : -1.0, 0, 0};
  Vec3 d = side - dot(side, t) * t;
  if (norm(d) < 0.5) {
    const Vec3 up{0, prone ? 1.0 : -1.0, 0};
    d = up - dot(up, t) * t;
  }
  if (norm(d) < 1e-6) d = Vec3{0, 0, 1} - t.z * t;
  return describeView(d, prone, needleSide, endplateCranial, limits);
}

} // namespace fluoroplan
