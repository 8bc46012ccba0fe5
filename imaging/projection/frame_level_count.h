#pragma once
// FrameLevelCount: the disc spaces counted on a C-arm frame, as the
// operator counts levels on the screen. Along the spine each disc space is
// a band that lets more X-rays through than the vertebral bodies either
// side of it. The pose says only where the spine runs on the frame and
// where the CT's discs fall at that pose; whether a disc is there is read
// from the frame's pixels alone (a profile along the spine, averaged
// across it), so the count is evidence apart from the registration's
// gradient match.
//
// Vertebrae repeat: in the middle of the spine the frame's discs fit the
// pose and a pose one level off alike. What tells them apart is where the
// count ends: below the CT's last disc lies the sacrum, solid bone, so a
// disc seen there says the pose is a level off. A disc the CT has but the
// frame does not show (a narrow degenerated disc, the rudimentary disc
// below a sacralised L5) is weak evidence and counts for nothing; a disc
// seen where the CT at an alignment has solid bone rules it out. So the
// count can rule out a pose a level caudal of the truth (it puts the
// sacrum on the frame's lowest disc), never one a level cranial (that
// would need the CT's missing disc to be told from a narrow one).
#include <array>
#include <string>
#include <vector>

#include "imaging/projection/ct_level_names.h"
#include "imaging/projection/registration_2d3d.h"

namespace fluoroplan {

// A place along the spine where the CT at the pose has a disc (or, at the
// two ends, where the next disc would be).
struct DiscPlace {
  std::string name;            // the CT's disc at the pose, "L4-L5"; "" beyond the CT's discs
  std::array<double, 2> px{};  // (column, row) on the frame
  bool inField = false;        // the profile around it lies in the open field
  double contrast = 0;         // the bodies beside it minus the band, frame units
  double relativeContrast = 0; // contrast / the frame's typical disc's (see seenFraction)
  bool seen = false;           // a disc space shows there on the frame
};

struct FrameLevelCount {
  std::vector<DiscPlace> places; // cranial first
  int discsSeen = 0;             // disc spaces seen on the frame along the spine
  // Discs seen where each alignment has solid bone (the sacrum below the
  // CT's last disc): [0] one level cranial, [1] the pose, [2] one level
  // caudal (LevelShift's -1, 0, +1). Only a contradiction counts: a disc
  // not seen may be narrow, and beyond the CT nothing is known.
  std::array<int, 3> contradictions{};
  // -1 or +1 where the pose is contradicted and that shift is not (nor
  // worse than the other): the count says the pose is a level off; 0
  // otherwise.
  int favouredShift = 0;
  bool ruledOut(int shift) const {
    return contradictions[std::size_t(shift + 1)] > contradictions[1];
  }
  bool counted = false; // enough of the spine in the field to count on
  std::string summary;
};

struct FrameLevelCountOptions {
  // A disc is seen where its band is this fraction, or more, of the
  // frame's own typical disc contrast (the median of the discs every
  // alignment agrees on).
  double seenFraction = 0.4;
  // Half the band's width across the spine, as a fraction of the spacing
  // between discs (about a third of a body's width).
  double bandHalfWidth = 0.25;
};

// `frame`: as registered (its mask marks the open field, needles masked
// out); `pose`: where the CT is drawn on it; `names`: the CT's vertebrae,
// cranial first.
FrameLevelCount countLevelsOnFrame(const RegistrationImage& frame, const CArmGeometry& pose,
                                   const CtLevelNames& names,
                                   const FrameLevelCountOptions& options = {});

} // namespace fluoroplan
