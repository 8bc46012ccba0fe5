#pragma once
// The nerves a facet treatment targets, keyed by nerve and side, each naming
// the bone it lies on (DESIGN.md section 3), from a SpineModel's grooves and
// level names: a user's renaming renames the nerves.
//
// The medial branch of level n crosses the bone of level n+1 (lumbar and
// T11-T12: the root of its transverse process; T1-T10: the superolateral
// corner of its transverse process); the L5 dorsal ramus lies in the groove
// between the sacral ala and the S1 superior articular process (Bogduk,
// Clinical and Radiological Anatomy of the Lumbar Spine, 5th ed.; Chua &
// Bogduk 1995; Lau et al., Pain Med 2004).
#include <string>
#include <vector>

#include "imaging/segmentation/spine_model.h"

namespace fluoroplan {

struct NerveCourse {
  std::string nerve;          // "L3 medial branch", "L5 dorsal ramus"
  std::string level;          // the nerve's level: "L3"
  std::string side;           // "left" / "right"
  std::string boneLevel;      // the vertebra it crosses: "L4" ("sacrum")
  std::string bone;           // "root of the L4 transverse process"
  bool inScan = false;        // false: the bone is outside or cut by the scan, or not found
  std::string reason;         // why it is not in the scan / how sure
  Vec3 cranialLps, caudalLps; // the course over the bone (only when inScan)
  double confidence = 0;
  std::string method;
};

// Voxels coarser than this along any axis blur the bone the grooves are
// measured on, above all the junction of the transverse process and the
// superior articular process that the courses hug, where 1 mm of the
// pillar's wall moves the course 3 mm up or down. On the L1-S1 phantom
// every course lies within 1.6 mm of the truth at 1 mm voxels, but some lie
// 4-8 mm off at 1.1-1.25 mm pixels (1 mm slices), at 1.25 mm slices with
// 0.8, 0.9 or 1.25 mm pixels (1.0 mm pixels happened to stay within 1.4 mm)
// and at 2-3 mm slices: every course then says it may be several mm off,
// and a plan warns.
constexpr double kMaxVoxelMmForGrooves = 1.0;
double coarsestVoxelMm(const SpineModel& model);
bool voxelsTooCoarseForGrooves(const SpineModel& model);
// "0.8 x 0.8 x 1.25 mm": the label map's voxel size.
std::string voxelSizeText(const SpineModel& model);

// Every medial branch (and dorsal ramus) whose bone is in the model, plus,
// reported as outside, those of the lowest level whose bone lies below the
// scan.
std::vector<NerveCourse> nerveCourses(const SpineModel& model);

// The nerve course for `nerve` ("L4 medial branch") on `side`, if listed.
const NerveCourse* findNerve(const std::vector<NerveCourse>& courses, const std::string& nerve,
                             const std::string& side);

} // namespace fluoroplan
