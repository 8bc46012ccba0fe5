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

// Slices further apart than this lose the thin tips of the transverse
// processes the grooves are measured on (on the L1-S1 phantom at 2 mm
// slices 7 of 14 courses went unfound and one found was 14 mm off): every
// course then says it may be several mm off, and a plan warns.
constexpr double kMaxSliceMmForGrooves = 1.5;
bool slicesTooThickForGrooves(const SpineModel& model);

// Every medial branch (and dorsal ramus) whose bone is in the model, plus,
// reported as outside, those of the lowest level whose bone lies below the
// scan.
std::vector<NerveCourse> nerveCourses(const SpineModel& model);

// The nerve course for `nerve` ("L4 medial branch") on `side`, if listed.
const NerveCourse* findNerve(const std::vector<NerveCourse>& courses, const std::string& nerve,
                             const std::string& side);

} // namespace fluoroplan
