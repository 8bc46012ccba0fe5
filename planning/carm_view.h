#pragma once
// C-arm views for a needle: the DICOM positioner angles (DESIGN.md section
// 4, PS3.3 C.8.7.5: primary LAO+, secondary CRA+, patient-relative) that
// look straight down the needle and at right angles to it, whether a C-arm
// reaches them, and the same view as a pain specialist says it.
#include <string>

#include "imaging/core/geometry.h"

namespace fluoroplan {

struct CArmAngles {
  double primaryDeg = 0;   // (0018,1510) LAO+ / RAO-
  double secondaryDeg = 0; // (0018,1511) CRA+ / CAU-
};

// Unit vector from the isocentre to the detector in LPS:
// d = (sin a cos b, -cos a cos b, sin b).
Vec3 detectorDirection(CArmAngles angles);
CArmAngles anglesForDetectorDirection(Vec3 d);

struct CArmLimits {
  double maxSecondaryDeg = 45; // orbital tilt of a mobile C-arm
  double maxObliqueDeg = 90;   // rotation away from the AP/PA position
};

struct NeedleView {
  CArmAngles angles;
  Vec3 detectorDirectionLps;
  bool reachable = true;
  std::string whyNot;             // when not reachable
  double obliqueDeg = 0;          // from the PA (prone) or AP (supine) view, >= 0
  std::string obliqueSide;        // "ipsilateral", "contralateral" or "" (none)
  double tiltDeg = 0;             // >= 0
  std::string tiltSide;           // "caudal", "cranial" or ""
  double tiltFromEndplateDeg = 0; // tilt relative to the squared endplate
  std::string words;              // "20 degrees ipsilateral oblique, 40 degrees caudal tilt"
};

// The view with the detector on the skin side of the needle, looking down
// it (the needle is a dot): entry and target in LPS; needleSide "left" or
// "right"; endplateCranial the vertebra's cranial axis (for "from the
// squared endplate").
NeedleView downTheNeedleView(Vec3 entryLps, Vec3 targetLps, bool prone,
                             const std::string& needleSide, Vec3 endplateCranial,
                             const CArmLimits& limits = {});

// A view at right angles to the needle (its whole length visible, depth
// readable): the detector on the needle's side, as lateral as the needle
// allows.
NeedleView progressView(Vec3 entryLps, Vec3 targetLps, bool prone, const std::string& needleSide,
                        Vec3 endplateCranial, const CArmLimits& limits = {});

NeedleView describeView(Vec3 detectorDirectionLps, bool prone, const std::string& needleSide,
                        Vec3 endplateCranial, const CArmLimits& limits = {});

} // namespace fluoroplan
