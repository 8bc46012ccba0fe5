#include "imaging/segmentation/nerve_courses.h"

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

} // namespace

std::vector<NerveCourse> nerveCourses(const SpineModel& model) {
  std::vector<NerveCourse> out;
  const auto& vs = model.vertebrae;
  for (std::size_t m = 0; m < vs.size(); ++m) {
    const VertebraModel& bone = vs[m];
    const std::string nerveLevel = m > 0 ? vs[m - 1].level : levelAbove(bone.label);
    if (regionOf(bone.label) == 'C') continue; // cervical targets are not measured (issue note)
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
      auto inGrid = [&](Vec3 p) { return model.labels.containsIndex(model.labels.lpsToIndex(p)); };
      if (groove && !(inGrid(groove->cranialLps) && inGrid(groove->caudalLps))) {
        c.reason = "the course over the " + bone.level + " runs out of the scan";
      } else if (groove) {
        c.inScan = true;
        c.cranialLps = groove->cranialLps;
        c.caudalLps = groove->caudalLps;
        c.confidence = groove->confidence * (bone.namingCertain ? 1.0 : 0.7);
        c.method = groove->method;
        c.reason = bone.namingCertain ? "level names certain"
                                      : "level names uncertain: check the count before treating";
      } else {
        c.reason = bone.partial ? "the " + bone.level + " is cut by the scan's edge"
                                : "the bone it lies on was not found on the " + bone.level;
      }
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

const NerveCourse* findNerve(const std::vector<NerveCourse>& courses, const std::string& nerve,
                             const std::string& side) {
  for (const auto& c : courses)
    if (c.nerve == nerve && c.side == side) return &c;
  return nullptr;
}

} // namespace fluoroplan
