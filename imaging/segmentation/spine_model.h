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

struct VertebraModel {
  int label = 0;     // VerSe label as named
  std::string level; // "L4"
  bool namingCertain = false;
  std::vector<std::string> alternatives; // other names the evidence allows
  bool ribs = false;
  bool partial = false; // cut by the scan's edge
  Landmark bodyCentroid, superiorEndplate, inferiorEndplate;
  Vec3 endplateNormalLps;
  std::optional<Landmark> pedicleLeft, pedicleRight, transverseTipLeft, transverseTipRight, lamina,
      spinousTip, interlaminarWindowBelow;
  double volumeMl = 0;
};

struct SpineModel {
  Volume labels;                        // on the CT grid; hu[] holds label values
  std::vector<VertebraModel> vertebrae; // cranial to caudal
  std::vector<Vec3> canalCentrelineLps; // cranial to caudal
  std::vector<double> canalRadiusMm;
  std::string namingEvidence; // in words: sacrum found? ribs? how counted
  bool namingCertain = false;
};

} // namespace fluoroplan
