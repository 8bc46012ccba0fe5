#pragma once
// The C-arm geometry of one frame of a run, from its DICOM attributes
// (DESIGN.md section 4): angles, source-to-detector and source-to-isocentre
// distances, imager pixel spacing, the image's size. What a mobile C-arm
// leaves out is filled from calibrated defaults and listed by name, so a
// screen can say "SID assumed 1000 mm". The isocentre's place in the CT is
// not in DICOM: the caller (registration) supplies it.
#include <string>
#include <vector>

#include "imaging/dicom/xray_run.h"
#include "imaging/projection/carm_geometry.h"

namespace fluoroplan {

// Defaults for a mobile C-arm with a 9-inch image intensifier; a site sets
// its own from the C-arm's calibration.
struct CArmDefaults {
  double sourceToDetectorMm = 1000;
  double sourceToIsocentreMm = 650;
  double imagerPixelMm =
      0.45; // at the detector, when neither spacing nor intensifier size is given
};

struct FrameGeometry {
  CArmGeometry geometry;
  std::vector<std::string> defaultsUsed; // e.g. "source-to-detector distance 1000 mm (default)"
};

// Throws std::out_of_range for a frame the run does not have.
FrameGeometry frameGeometry(const XRayRun& run, std::size_t frame, Vec3 isocentreLps,
                            const CArmDefaults& defaults = {});

// The frame's own positioner (its collimator, table), else the run's.
const CArmPositioner& framePositioner(const XRayRun& run, std::size_t frame);

// Whether the table moved between two frames, by the table positions both
// record (Table Top Vertical, Longitudinal, Lateral Position (300A,0128-
// 012A); Table Height (0018,1130), Table Traverse (0018,1131)): each that
// both record and that differs by more than `toleranceMm`, named with both
// values ("Table Top Longitudinal Position 0 -> 40 mm"). `recorded`
// (optional) tells whether the two frames shared any table position at
// all: without one, a move cannot be seen.
std::vector<std::string> tableMovesBetween(const CArmPositioner& a, const CArmPositioner& b,
                                           double toleranceMm = 1, bool* recorded = nullptr);

} // namespace fluoroplan
