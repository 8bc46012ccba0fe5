#pragma once
// What segmentation knows about a spine: a label map on the CT grid
// (vertebrae numbered as VerSe, plus the spinal canal), per-vertebra level
// names with the evidence for them, landmarks, and the canal centreline.
#include <optional>
#include <string>
#include <vector>

#include "imaging/core/spine_levels.h"
#include "imaging/core/volume.h"

namespace fluoroplan {

// Label values and level names: imaging/core/spine_levels.h.

struct Landmark {
  Vec3 lps;
  double confidence = 0; // 0..1
  std::string method;    // how it was found
};

// A vertebra's own axes in LPS: `cranial` is the endplate normal, `posterior`
// points from the body to the canal, `left` completes a right-handed set
// (left = posterior x cranial), as the patient's left.
struct VertebraAxes {
  Vec3 origin; // body centroid
  Vec3 left{1, 0, 0}, posterior{0, 1, 0}, cranial{0, 0, 1};
  Vec3 toLocal(Vec3 p) const {
    const Vec3 d = p - origin;
    return {dot(d, left), dot(d, posterior), dot(d, cranial)};
  }
  Vec3 toLps(Vec3 q) const { return origin + q.x * left + q.y * posterior + q.z * cranial; }
};

// Where a medial branch (or dorsal ramus) runs over this bone, cranial end
// first, on one side. Which nerve it is follows from the level names
// (nerve_courses.h), so a renamed spine renames its nerves.
struct NerveGroove {
  Vec3 cranialLps, caudalLps;
  double confidence = 0;
  std::string method;
};

struct VertebraModel {
  int label = 0;     // VerSe label as named
  std::string level; // "L4"
  bool namingCertain = false;
  std::vector<std::string> alternatives; // other names the evidence allows
  bool ribs = false;
  bool partial = false; // cut by the scan's edge
  Landmark bodyCentroid, superiorEndplate, inferiorEndplate;
  Vec3 endplateNormalLps;
  VertebraAxes axes;
  std::optional<Landmark> pedicleLeft, pedicleRight, transverseTipLeft, transverseTipRight, lamina,
      spinousTip, interlaminarWindowBelow;
  std::optional<Landmark> superiorArticularLeft, superiorArticularRight, inferiorArticularLeft,
      inferiorArticularRight, transverseRootLeft, transverseRootRight;
  // Lumbar-type course: over the root of the transverse process at the
  // lateral neck of the superior articular process (sacrum: the ala-SAP
  // groove). Thoracic-type course: over the superolateral corner of the
  // transverse process. Both are measured; the level decides which applies.
  std::optional<NerveGroove> rootGrooveLeft, rootGrooveRight, cornerGrooveLeft, cornerGrooveRight;
  // Cervical-type course: across the lateral face of the articular pillar
  // at its waist; and the third occipital nerve's, across the lateral face
  // of the facet joint above (C2-C3 when this is C3).
  std::optional<NerveGroove> pillarWaistLeft, pillarWaistRight, jointAboveLeft, jointAboveRight;
  double volumeMl = 0;
};

struct SpineModel {
  Volume labels;                        // on the CT grid; hu[] holds label values
  std::vector<VertebraModel> vertebrae; // cranial to caudal
  std::vector<Vec3> canalCentrelineLps; // cranial to caudal
  std::vector<double> canalRadiusMm;
  std::string namingEvidence; // in words: sacrum found? ribs? how counted
  bool namingCertain = false;
  std::string boneEvidence; // the thresholds this scan's bone was found with, and why
};

} // namespace fluoroplan
