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
#include "imaging/projection/frame_level_count.h"
#include "imaging/projection/intensifier_distortion.h"
#include "imaging/projection/needle_detection.h"

namespace fluoroplan {

struct OverlayTrajectory {
  std::string name; // e.g. "L4 medial branch, left"
  Vec3 entryLps, targetLps;
  double activeTipMm = 0; // RF: the last mm before the target that heat
  std::string boneLevel;  // the vertebra its target lies on ("L5"), if known
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

// A vertebra as the frame shows it: its bone's shadow on a grid of
// `cellPx` pixel cells, the cells on the shadow's edge (their centres, in
// stored-frame pixels) and where its body's centre falls, for drawing its
// outline and name. Empty outline when none of it falls in the frame.
struct VertebraInFrame {
  std::string level;
  std::vector<std::array<double, 2>> outlinePx;
  std::array<double, 2> bodyPx{};
  bool bodyInFrame = false;
};
VertebraInFrame projectVertebra(const CArmGeometry& g, const IntensifierDistortion& d,
                                const std::string& level, const std::vector<Vec3>& boneLps,
                                Vec3 bodyCentroidLps, unsigned cellPx = 2);

// A needle found on a frame against the plan: the planned trajectory whose
// projected path it lies along (one needle per path, the closest first; -1:
// none within `matchWithinMm`), how far
// its tip is from that target and off that path, in mm at the target's
// depth, in the image plane (one view does not see depth).
struct NeedleToPlan {
  DetectedNeedle needle;
  int trajectory = -1;
  double tipToTargetMm = 0;
  double tipOffPathMm = 0;
};
std::vector<NeedleToPlan> compareNeedlesToPlan(const std::vector<DetectedNeedle>& needles,
                                               const CArmGeometry& g,
                                               const std::vector<OverlayTrajectory>& plan,
                                               double matchWithinMm = 10);

// A tick beside each disc space counted on the frame (FrameLevelCount),
// in stored-frame pixels: square to the spine, from 0.35 to 0.6 of the
// spacing between discs off its axis on the image's right (or lower)
// side, clear of the bodies' middle, where the count read the frame.
struct DiscTick {
  std::string disc; // the CT's name at the pose ("L4-L5"), "" beyond the CT's discs
  std::array<double, 2> fromPx{}, toPx{};
};
std::vector<DiscTick> discTicks(const FrameLevelCount& count, const IntensifierDistortion& d);

// The image direction (unit, in pixels) in which the patient's left lies,
// projected at the isocentre: where the "L" marker goes. {0, 0} when the
// patient's left-right axis lies within 30 degrees of the beam (a lateral
// view shows no left and right: lateralSideMarker says which side faces
// the detector).
std::array<double, 2> patientLeftInImage(const CArmGeometry& g);
// "LEFT LATERAL" (the patient's left toward the detector), "RIGHT
// LATERAL", or empty when the view is not lateral (see above).
std::string lateralSideMarker(const CArmGeometry& g);

} // namespace fluoroplan
