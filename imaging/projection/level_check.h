#pragma once
// LevelCheck: the wrong-level guard. Vertebrae look alike on a C-arm frame,
// so a registration that starts a level off (landmarks put on the level the
// operator counted to, a run tracked on from a wrong first frame) can
// settle a level off and still match well: every path would then be drawn
// on the wrong joint. What tells the levels apart on a frame is what ends
// the repetition: the sacrum, the last ribs, the field's edge. The check
// moves the pose by one level each way (each vertebra onto its neighbour's
// place, from the CT's own spacing), refines it, and compares: the pose is
// confirmed only when it matches clearly better than both shifts, and the
// disc spaces counted on the frame (FrameLevelCount) do not say it is a
// level off; where they do, and the shift they name matches about as well,
// that shift is the better start. It also
// lists the CT's vertebrae that lie in the field at the pose, and, where
// the CT counts unusually (an L6, a T13) or its names are uncertain, says
// how counting on the frame would mislead: the names drawn are the CT's.
#include <optional>
#include <string>
#include <vector>

#include "imaging/projection/ct_level_names.h"
#include "imaging/projection/frame_level_count.h"
#include "imaging/projection/registration_2d3d.h"

namespace fluoroplan {

struct LevelShift {
  int levels = 0;          // -1: one level cranial, +1: one level caudal
  double correlation = -1; // after refining the shifted pose
  double movedMm = 0;      // how far it ended from the pose checked, at the isocentre
  bool separate = false;   // it settled elsewhere (not back on the pose checked)
  CArmGeometry pose;
};

struct LevelCheck {
  std::vector<std::string> levelsInView; // the CT's vertebrae whose body centre is in the field
  bool sacrumInView = false;
  std::string lowestRibsInView; // the lowest rib-bearing vertebra in the field, if any
  double correlation = 0;       // of the pose checked
  std::vector<LevelShift> shifts;
  FrameLevelCount frameCount; // the disc spaces counted on the frame at the pose
  bool confirmed = false;
  // A shift that matches clearly better: the pose to register from instead.
  std::optional<CArmGeometry> betterStart;
  std::string countWarning; // empty where the CT counts as usual and is sure
  std::string reason;
};

struct LevelCheckOptions {
  // A shift within this fraction of the pose's correlation makes the level
  // ambiguous; beyond it above, the shift is the better level.
  double margin = 0.1;
  double separateMm = 15; // a shift refined back within this is the same optimum
  RegistrationOptions registration;
};

// `registered`: a registration of `frame`, whose pose is checked. A refused
// one is checked too: a start a level off (landmarks on the wrong level)
// often fails to register at all, and the shift that matches says where
// the right level is; its shifts start from `start` (where it started),
// since a refused pose may have turned far off. Only an accepted pose can
// be confirmed.
LevelCheck checkLevel(const Registration2D3D& registration, const RegistrationImage& frame,
                      const RegistrationResult& registered, const CArmGeometry& start,
                      const CtLevelNames& names, const LevelCheckOptions& options = {});

// The warning about the CT's count (see LevelCheck::countWarning).
std::string levelCountWarning(const CtLevelNames& names);
// The same in a few words, for a frame's picture ("" when none): "CT HAS
// AN L6 - NAMES ARE THE CT'S".
std::string levelCountBadge(const CtLevelNames& names);

} // namespace fluoroplan
