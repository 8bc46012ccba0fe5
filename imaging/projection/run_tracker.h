#pragma once
// RunTracker: the pose of every frame of a C-arm run, frame after frame, as
// the room sees them. The first frame is searched; a frame whose C-arm
// angles and image did not change keeps the previous frame's result (a
// pose, or a refusal); a frame after the C-arm moved is refined from the
// previous pose turned by the change of the DICOM angles, and searched
// again if that fails.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "imaging/dicom/dicom_file.h"
#include "imaging/dicom/xray_run.h"
#include "imaging/projection/frame_geometry.h"
#include "imaging/projection/frame_overlay.h"
#include "imaging/projection/intensifier_distortion.h"
#include "imaging/projection/level_check.h"
#include "imaging/projection/registration_2d3d.h"

namespace fluoroplan {

struct TrackedFrame {
  std::size_t index = 0;
  RegistrationResult registration;
  std::string how; // searched, refined, or kept
  // The pose the user's landmarks gave, when they started this frame (kept
  // even when the whole frame then did not register on it).
  std::optional<CArmGeometry> landmarkStart;
  std::vector<std::string> defaultsUsed; // geometry the run did not state
  std::vector<float> samples;            // as stored
  RegistrationImage image;               // distortion corrected, the whole field
  unsigned columns = 0, rows = 0;
  // The needles found on it (registered frames only), against the plan.
  std::vector<NeedleToPlan> needles;
  // Pixels near the previous frame's needles, left out of this frame's
  // registration (the CT holds no needle to match them).
  std::size_t needlePixelsMasked = 0;
  // The wrong-level guard's verdict on the pose (with the CT's level names
  // only): checked on every frame that was searched, started from
  // landmarks or fully refined; a kept or tracked frame keeps the last one.
  std::optional<LevelCheck> levelCheck;
};

// The DRR needles are found against: at `pose`, in the frame's `field`
// only (needleResidual reads nothing outside it), rendered at half the
// frame's size and interpolated back (Registration2D3D::drrAt).
Drr needleDrr(const Registration2D3D& registration, const CArmGeometry& pose,
              const std::vector<uint8_t>& field);

// A DRR at a pose, rendered in a frame's field only.
struct FieldDrr {
  CArmGeometry pose;
  std::vector<uint8_t> field;
  Drr drr;
};

class RunTracker {
public:
  // `guess`: where the isocentre probably is in the CT (the plan's targets,
  // or the CT's centre); `distortion.k` 0: a flat panel.
  // `plan`: what needles are compared with (may be empty).
  RunTracker(const Registration2D3D& registration, IntensifierDistortion distortion, Vec3 guess,
             RegistrationOptions options = {}, std::vector<OverlayTrajectory> plan = {});
  // Landmarks the user marked on the next frame (stored pixels): that frame
  // starts from them instead of a search (and is searched if that fails).
  void useLandmarks(std::vector<LandmarkPair> storedPx) { landmarks_ = std::move(storedPx); }
  // The CT's vertebrae by name: from then on each pose is checked against
  // the poses a level cranial and caudal (checkLevel). A pose a level off
  // is replaced by the right level's when that registers and is confirmed;
  // a pose whose level is not sure is refused.
  void useLevelNames(CtLevelNames names) { names_ = std::move(names); }
  // The next frame of `run` (frames in order; a new run starts afresh).
  TrackedFrame next(const DicomFile& file, const XRayRun& run, std::size_t frame);

private:
  // The guard on t's registration (started from `start`); true when t is
  // now registered.
  bool guardLevel(TrackedFrame& t, const RegistrationImage& compared, const CArmGeometry& start);

  const Registration2D3D& reg_;
  IntensifierDistortion distortion_;
  Vec3 guess_;
  RegistrationOptions options_;
  std::vector<OverlayTrajectory> plan_;
  std::string runUid_;
  std::vector<DetectedNeedle> previousNeedles_;
  std::vector<LandmarkPair> landmarks_;
  std::optional<CtLevelNames> names_;
  std::optional<LevelCheck> previousCheck_;
  std::optional<FieldDrr> previousDrr_; // the DRR the last needles were found against
  std::optional<RegistrationResult> previous_;
  std::optional<CArmGeometry> previousDicom_;
  std::vector<float> previousSamples_;
};

// Per-level poses over a run (Registration2D3D::runLevel): the planned
// levels, each registered alone on every registered frame. The CT is
// usually supine and the patient prone: one pose for the frame cannot fit
// every level, and its error estimate (restarts that agree) does not show
// it. A frame kept unchanged keeps the levels' poses; the next frame of a
// run starts each level from its previous pose, moved as the frame's pose
// moved, with tracking; a level that then fails, or a run's first frame,
// starts from the frame's pose, or from the user's landmarks when the
// whole frame did not register on them (as a prone frame over a supine CT
// may not: no one pose fits it); from landmarks, also 25 mm nearer and
// farther in depth when the first try fails, since their fit leaves depth
// at the DICOM pose's guess.
class LevelTracker {
public:
  // `boneByLevel`: each planned level's bone points in the CT (LPS mm).
  LevelTracker(const Registration2D3D& registration,
               std::map<std::string, std::vector<Vec3>> boneByLevel,
               RegistrationOptions options = {});
  // The levels' poses on `frame` (none when the frame is not registered).
  // `sameRun`: it follows the previous frame given, of the same run.
  std::map<std::string, RegistrationResult> next(const TrackedFrame& frame, bool sameRun);

private:
  const Registration2D3D& reg_;
  std::map<std::string, std::vector<Vec3>> bone_;
  RegistrationOptions options_;
  std::map<std::string, RegistrationResult> previous_;
  std::optional<CArmGeometry> previousFrame_;
};

// The needles on a tracked frame that was registered, found against the
// DRR at its pose (the plan's targets decide which end is a tip), each
// compared with the plan; empty when the frame was not registered. `drr`,
// when given, receives the needleDrr (and, when it already holds the one
// of this pose and field, is used instead of rendering it again).
std::vector<NeedleToPlan> needlesOnFrame(const Registration2D3D& registration,
                                         const TrackedFrame& frame,
                                         const std::vector<OverlayTrajectory>& plan,
                                         std::optional<FieldDrr>* drr = nullptr);

// One needle's placement over the frames of a procedure, for its share of
// the dose: from the first frame it is seen on to the last frame on which
// its tip came at least `advanceMm` closer to its target than it had been.
struct NeedlePlacement {
  int trajectory = -1; // in the plan the needles were compared with
  double startSeconds = 0, endSeconds = 0;
  int frames = 0; // on which it was seen
  double closestTipToTargetMm = 0;
};
struct FrameNeedles {
  double timeSeconds = 0; // when the frame was taken
  std::vector<NeedleToPlan> needles;
};
std::vector<NeedlePlacement> needlePlacements(std::vector<FrameNeedles> frames,
                                              double advanceMm = 1.0);

// Pearson correlation of two frames' samples: 1 for the same picture.
double frameSimilarity(const std::vector<float>& a, const std::vector<float>& b);

} // namespace fluoroplan
