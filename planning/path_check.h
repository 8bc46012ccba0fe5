#pragma once
// PathCheck: what a straight needle path from a skin entry to a target
// passes through, sampled every 0.5 mm through the label map and the CT:
// bone before the target, the spinal canal, a neural foramen or exiting
// root, air inside the body (lung), any danger structure the label map
// holds (pleura/lung, kidney, aorta, vena cava, vertebral artery), and the
// needle's length; with the clearances in mm that make it safe.
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "imaging/core/volume.h"
#include "planning/distance_map.h"

namespace fluoroplan {

struct PathRules {
  double needleLengthMm = 100;
  double boneAllowanceMm = 3; // an RF tip rests on bone: bone counts up to this far from the target
  double canalAllowanceMm = 0; // SCS: the last mm may lie in the dorsal epidural space
  double handleMarginMm = 5;   // needle that must stay outside the skin
};

struct PathCheck {
  bool safe = false;
  std::vector<std::string> violations; // in words, each naming what and where
  double lengthMm = 0;                 // skin to target
  double canalClearanceMm = 1e9;       // closest approach to the canal (outside any allowance)
  double foramenClearanceMm = 1e9;     // to the foramen / exiting root
  double boneClearanceMm = 1e9;        // to vertebral bone, before the last boneAllowanceMm
  double dangerClearanceMm = 1e9;      // to labelled danger structures, or air in the body
};

// The scene a path is checked against: CT (HU) and a label map on its grid
// (VerSe vertebrae, canal 200, foramen 201, and any of 202, 210-214), with
// distance maps around the region of interest.
class PathScene {
public:
  // `aroundLps`: points (targets) the distance maps must cover, +-50 mm.
  PathScene(const Volume& ct, const Volume& labels, const std::vector<Vec3>& aroundLps);
  PathCheck check(Vec3 entryLps, Vec3 targetLps, const PathRules& rules) const;
  // The skin point on the ray from `targetLps` along `outward` (unit): the
  // last body voxel before air outside the patient; nullopt if none within
  // 250 mm or if the ray leaves the scan first.
  std::optional<Vec3> skinAlong(Vec3 targetLps, Vec3 outward) const;
  const Volume& ct() const { return ct_; }
  const Volume& labels() const { return labels_; }
  int16_t labelAt(Vec3 lps) const;
  int16_t huAt(Vec3 lps) const;

private:
  const Volume& ct_;
  const Volume& labels_;
  DistanceMap canal_, foramen_, bone_, danger_;
  // Air reachable from the image's edge, slice by slice: outside the
  // patient. Air not reachable (lung, bowel) is inside. Each slice is
  // flooded the first time a path reaches it (paths run far beyond the
  // distance maps' box), under a lock since plans check paths in parallel.
  mutable std::mutex outsideMutex_;
  mutable std::vector<std::vector<uint8_t>> outsideSlices_;
  const std::vector<uint8_t>& outsideSlice(std::size_t k) const;
  bool outsideAt(Vec3 lps) const;
};

std::string structureName(int16_t label);

} // namespace fluoroplan
