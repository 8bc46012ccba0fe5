#pragma once
// Where a plan lands on a stored C-arm frame: each trajectory's entry,
// target and active tip projected with the frame's registered geometry and
// put through the intensifier's distortion, so the marks sit on the frame as
// stored; and which side of the image is the patient's left, for the R/L
// marker. Pixels (column, row), (0,0) the centre of the top-left pixel.
#include <array>
#include <string>
#include <vector>

#include "imaging/projection/carm_geometry.h"
#include "imaging/projection/intensifier_distortion.h"

namespace fluoroplan {

struct OverlayTrajectory {
  std::string name; // e.g. "L4 medial branch, left"
  Vec3 entryLps, targetLps;
  double activeTipMm = 0; // RF: the last mm before the target that heat
};

struct ProjectedTrajectory {
  std::string name;
  std::array<double, 2> entryPx{}, targetPx{}, activeTipStartPx{};
  bool targetInFrame = false;
};

ProjectedTrajectory projectTrajectory(const CArmGeometry& g, const IntensifierDistortion& d,
                                      const OverlayTrajectory& t);

// A stored-frame pixel for an LPS point.
std::array<double, 2> projectToFrame(const CArmGeometry& g, const IntensifierDistortion& d, Vec3 p);

// The image direction (unit, in pixels) in which the patient's left lies,
// projected at the isocentre: where the "L" marker goes.
std::array<double, 2> patientLeftInImage(const CArmGeometry& g);

} // namespace fluoroplan
