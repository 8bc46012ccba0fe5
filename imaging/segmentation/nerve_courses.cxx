#include "imaging/segmentation/nerve_courses.h"

#include <algorithm>
#include <iomanip>
#include <sstream>

namespace fluoroplan {

namespace {

char regionOf(int label) {
  if (label == spine_label::kSacrum) return 'S';
  if (label <= 7) return 'C';
  if (label <= 19 || label == spine_label::kT13) return 'T';
  return 'L';
}

// Thoracic levels whose medial branch crosses the superolateral corner of
// the transverse process; T11-T13 carry it over the root, as in the lumbar
// spine (Chua & Bogduk 1995).
bool cornerType(int boneLabel) {
  return regionOf(boneLabel) == 'T' && boneLabel < 18; // T1-T10
}

std::string boneText(int boneLabel, const std::string& boneName) {
  if (boneLabel == spine_label::kSacrum)
    return "groove between the sacral ala and the S1 superior articular process";
  if (regionOf(boneLabel) == 'C') return "waist of the " + boneName + " articular pillar";
  if (cornerType(boneLabel))
    return "superolateral corner of the " + boneName + " transverse process";
  return "root of the " + boneName + " transverse process";
}

// Name of the level cranial to `label` when that vertebra is not in the
// model: counting in VerSe order (T12 -> T13 only when T13 is in view).
std::string levelAbove(int label) {
  if (label == spine_label::kSacrum) return "L5";
  if (label == 20) return "T12";
  if (label == spine_label::kT13) return "T12";
  return verseLevelName(label - 1);
}

std::string levelBelow(int label) {
  if (label == 24) return "sacrum (or L6)";
  if (label == 19) return "L1";
  if (label == spine_label::kT13) return "L1";
  return verseLevelName(label + 1);
}

bool inGrid(const SpineModel& model, Vec3 p) {
  return model.labels.containsIndex(model.labels.lpsToIndex(p));
}

// Fills c's course from the groove measured on `bone` (moved `lift` mm
// toward the head), or says why there is none.
void placeOnGroove(const SpineModel& model, const VertebraModel& bone,
                   const std::optional<NerveGroove>& groove, double liftMm, NerveCourse& c) {
  const Vec3 lift = liftMm * bone.axes.cranial;
  if (!groove) {
    c.reason = bone.partial ? "the " + bone.level + " is cut by the scan's edge"
                            : "the bone it lies on was not found on the " + bone.level;
  } else if (!inGrid(model, groove->cranialLps + lift) ||
             !inGrid(model, groove->caudalLps + lift)) {
    c.reason = "the course over the " + bone.level + " runs out of the scan";
  } else {
    c.inScan = true;
    c.cranialLps = groove->cranialLps + lift;
    c.caudalLps = groove->caudalLps + lift;
    c.confidence = groove->confidence * (bone.namingCertain ? 1.0 : 0.7);
    c.method = groove->method;
    c.reason = bone.namingCertain ? "level names certain"
                                  : "level names uncertain: check the count before treating";
    if (voxelsTooCoarseForGrooves(model)) {
      c.confidence *= 0.5;
      c.reason += "; the CT's voxels are " + voxelSizeText(model) +
                  ", coarser than 1 mm: the bone under this course is blurred, so it can be "
                  "several mm off; confirm it on the C-arm";
    }
  }
}

// Cervical medial branches are named for the pillar they wrap around (the
// C4 medial branch crosses the waist of the C4 pillar; joint C4-C5 is
// supplied by C4 and C5): C5 at the waist, C3, C4, C6 and C7 slightly
// above it (DESIGN.md section 3; Bogduk). C3 also carries the third
// occipital nerve across the C2-C3 joint. C1 and C2 have none to treat.
void cervicalCourses(const SpineModel& model, const VertebraModel& bone,
                     std::vector<NerveCourse>& out) {
  if (bone.label < 3) return;
  for (const char* side : {"left", "right"}) {
    const bool left = std::string(side) == "left";
    auto add = [&](const std::string& nerve, const std::string& boneText,
                   const std::optional<NerveGroove>& groove, double liftMm) {
      NerveCourse c;
      c.level = bone.level;
      c.side = side;
      c.boneLevel = bone.level;
      c.nerve = nerve;
      c.bone = boneText;
      placeOnGroove(model, bone, groove, liftMm, c);
      out.push_back(c);
    };
    if (bone.label == 3)
      add("third occipital nerve", "lateral C2-C3 facet joint",
          left ? bone.jointAboveLeft : bone.jointAboveRight, 0.0);
    add(bone.level + " medial branch", "waist of the " + bone.level + " articular pillar",
        left ? bone.pillarWaistLeft : bone.pillarWaistRight, bone.label == 5 ? 0.0 : 2.0);
  }
}

} // namespace

std::vector<NerveCourse> nerveCourses(const SpineModel& model) {
  std::vector<NerveCourse> out;
  const auto& vs = model.vertebrae;
  for (std::size_t m = 0; m < vs.size(); ++m) {
    const VertebraModel& bone = vs[m];
    // The nerve crossing T1 is C8's: eight cervical nerves, seven vertebrae.
    const std::string nerveLevel = bone.label == 8 ? "C8"
                                   : m > 0         ? vs[m - 1].level
                                                   : levelAbove(bone.label);
    if (regionOf(bone.label) == 'C') {
      cervicalCourses(model, bone, out);
      continue;
    }
    for (const char* side : {"left", "right"}) {
      const bool left = std::string(side) == "left";
      NerveCourse c;
      c.level = nerveLevel;
      c.side = side;
      c.boneLevel = bone.level;
      c.nerve =
          nerveLevel + (bone.label == spine_label::kSacrum ? " dorsal ramus" : " medial branch");
      c.bone = boneText(bone.label, bone.level);
      const auto& groove = cornerType(bone.label)
                               ? (left ? bone.cornerGrooveLeft : bone.cornerGrooveRight)
                               : (left ? bone.rootGrooveLeft : bone.rootGrooveRight);
      placeOnGroove(model, bone, groove, 0.0, c);
      out.push_back(c);
    }
  }
  // The lowest mobile level's own nerve crosses the bone below the scan.
  if (!vs.empty() && vs.back().label != spine_label::kSacrum) {
    const VertebraModel& last = vs.back();
    for (const char* side : {"left", "right"}) {
      NerveCourse c;
      c.level = last.level;
      c.side = side;
      c.boneLevel = levelBelow(last.label);
      c.nerve =
          last.level + (last.label == 24 ? " medial branch or dorsal ramus" : " medial branch");
      c.bone = "bone below the " + last.level + " (" + c.boneLevel + ")";
      c.reason = "outside the scan: the " + c.boneLevel + " is not in view";
      out.push_back(c);
    }
  }
  return out;
}

double coarsestVoxelMm(const SpineModel& model) {
  const Vec3 s = model.labels.spacingMm;
  return std::max({s.x, s.y, s.z});
}

bool voxelsTooCoarseForGrooves(const SpineModel& model) {
  // A hair over: DICOM spacings such as 1.0000001 are 1 mm.
  return coarsestVoxelMm(model) > kMaxVoxelMmForGrooves + 1e-3;
}

std::string voxelSizeText(const SpineModel& model) {
  std::ostringstream t;
  t << std::setprecision(3) << model.labels.spacingMm.x << " x " << model.labels.spacingMm.y
    << " x " << model.labels.spacingMm.z << " mm";
  return t.str();
}

const NerveCourse* findNerve(const std::vector<NerveCourse>& courses, const std::string& nerve,
                             const std::string& side) {
  for (const auto& c : courses)
    if (c.nerve == nerve && c.side == side) return &c;
  return nullptr;
}

} // namespace fluoroplan
