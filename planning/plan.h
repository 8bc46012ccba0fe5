#pragma once
// TrajectoryPlanner: SpineModel + ProcedureRequest -> Plan. One needle per
// nerve for facet blocks and RF (DESIGN.md section 3), the best of ranked
// candidates, or none with the reason when no safe path exists; for SCS,
// the Tuohy needle into the dorsal epidural space and the lead's path up
// to the target level.
#include <optional>
#include <string>
#include <vector>

#include "imaging/core/progress.h"
#include "imaging/core/volume.h"
#include "imaging/segmentation/nerve_courses.h"
#include "imaging/segmentation/spine_model.h"
#include "planning/carm_view.h"
#include "planning/path_check.h"
#include "planning/procedure.h"

namespace fluoroplan {

struct Trajectory {
  std::string forWhat; // "L3 medial branch" or "epidural space at T12-L1"
  std::string side;    // "left" / "right"
  std::string bone;    // what the target lies on: "root of the L4 transverse process"
  std::string boneLevel;
  Vec3 entryLps, targetLps;
  double depthMm = 0;          // skin to target
  double caudalAngleDeg = 0;   // needle from caudal, in the vertebra's sagittal plane
  double lateralAngleDeg = 0;  // needle from lateral, from the parasagittal plane
  Vec3 anglesToPatientAxesDeg; // angle between the needle and the L, P, S axes
  std::string skinMark;        // "4.5 cm left of the midline, 3.0 cm below the L5 spinous process"
  NeedleView downTheNeedle, progress;
  PathCheck check;
  double activeTipOnNerveMm = 0; // RF: active tip within 2 mm of the nerve
  double angleToNerveDeg = 0;
  double score = 0;
  std::string reasons;
};

struct NervePlan {
  std::string nerve, side;
  std::optional<NerveCourse> course;
  std::optional<Trajectory> best;
  std::vector<Trajectory> alternatives; // ranked, best first (best included)
  std::string whyNone;                  // when no safe path exists
};

struct Plan {
  ProcedureRequest request;
  std::vector<NerveCourse> nerves; // every nerve course of the spine
  std::vector<NervePlan> needles;  // one per nerve (facets) or one (SCS)
  std::vector<Vec3> leadPathLps;   // SCS: up the dorsal epidural space to the tip level
  std::string leadSummary;
  std::vector<std::string> warnings;
};

struct PlanOptions {
  CArmLimits carm;
  double nerveToleranceMm = 2.0; // active tip "on the nerve" within this distance
  unsigned threads = 0;
};

Plan planProcedure(const Volume& ct, const SpineModel& spine, const ProcedureRequest& request,
                   const PlanOptions& options = {}, const ProgressCallback& progress = {});

// Re-checks a path a user moved: the same rules and measures as a suggestion,
// with what the edit breaks in `check.violations`. `course` may be null.
Trajectory evaluatePath(const PathScene& scene, const SpineModel& spine,
                        const ProcedureRequest& request, const NerveCourse* course,
                        const std::string& side, Vec3 entryLps, Vec3 targetLps,
                        const PlanOptions& options = {});

} // namespace fluoroplan
