#include "imaging/projection/level_check.h"

#include <cmath>
#include <sstream>

namespace fluoroplan {

namespace {

bool inField(const RegistrationImage& frame, const CArmGeometry& g, Vec3 p) {
  const auto px = g.project(p);
  const long c = std::lround(px[0]), r = std::lround(px[1]);
  if (c < 0 || r < 0 || c >= long(frame.columns) || r >= long(frame.rows)) return false;
  return frame.mask[std::size_t(r) * frame.columns + std::size_t(c)] != 0;
}

std::string shiftName(int levels) {
  return levels < 0 ? "one level cranial" : "one level caudal";
}

} // namespace

std::string levelCountWarning(const CtLevelNames& names) {
  std::string out;
  for (const auto& v : names.vertebrae) {
    if (v.level == "L6")
      out += "The CT has six lumbar vertebrae (an L6): counted up from the sacrum on a frame, L6 "
             "would be taken for L5 and every level above it misnamed by one. ";
    if (v.level == "T13")
      out += "The CT has a thirteenth rib-bearing vertebra (T13): counted down from the ribs on "
             "a frame, the lumbar levels would be misnamed by one. ";
  }
  if (!names.namingCertain)
    out += "The CT's level names are uncertain (" +
           (names.evidence.empty() ? std::string("see the segmentation") : names.evidence) +
           "): confirm the count on a view that shows the sacrum or the ribs. ";
  if (!out.empty()) out += "The names drawn are the CT's.";
  return out;
}

std::string levelCountBadge(const CtLevelNames& names) {
  std::string what;
  for (const auto& v : names.vertebrae)
    if (v.level == "L6" || v.level == "T13")
      what += (what.empty() ? "CT HAS A" : " AND A") + std::string(v.level == "L6" ? "N " : " ") +
              v.level;
  if (!what.empty()) return what + " - NAMES ARE THE CT'S";
  return names.namingCertain ? "" : "CT LEVEL NAMES UNCERTAIN - CONFIRM THE COUNT";
}

LevelCheck checkLevel(const Registration2D3D& registration, const RegistrationImage& frame,
                      const RegistrationResult& registered, const CArmGeometry& start,
                      const CtLevelNames& names, const LevelCheckOptions& o) {
  LevelCheck out;
  out.correlation = registered.correlation;
  out.countWarning = levelCountWarning(names);
  // A refused pose may have turned far off (13 degrees of tilt on the
  // sacralised phantom): its shifts start from where it started instead.
  const CArmGeometry& g = registered.accepted ? registered.geometry : start;
  const auto& vs = names.vertebrae;
  for (const auto& v : vs)
    if (inField(frame, g, v.bodyLps)) {
      out.levelsInView.push_back(v.level);
      out.sacrumInView = out.sacrumInView || v.level == "sacrum";
      if (v.ribs) out.lowestRibsInView = v.level;
    }
  // The mobile vertebra seen nearest the image's centre, and its
  // neighbours' offsets: the sacrum's centre lies far below a vertebra's
  // spacing (more so with a sacralised L5), so it sets no shift.
  std::vector<Vec3> mobile;
  for (const auto& v : vs)
    if (v.level != "sacrum") mobile.push_back(v.bodyLps);
  if (mobile.size() < 2) {
    out.reason = "not checked: the CT holds fewer than two mobile vertebrae";
    return out;
  }
  std::size_t k = 0;
  double nearest = 1e300;
  for (std::size_t i = 0; i < mobile.size(); ++i) {
    const auto px = g.project(mobile[i]);
    const double d = std::hypot(px[0] - g.principalColumn, px[1] - g.principalRow);
    if (d < nearest) {
      nearest = d;
      k = i;
    }
  }
  auto offset = [&](int levels) {
    // Where the neighbour lies from vertebra k; at the end of the CT, the
    // other neighbour's offset reversed (the spacing is about the same).
    const long j = long(k) + levels;
    if (j >= 0 && j < long(mobile.size())) return mobile[std::size_t(j)] - mobile[k];
    return mobile[k] - mobile[std::size_t(long(k) - levels)];
  };
  RegistrationOptions ro = o.registration;
  ro.restarts = 0; // only the match matters, not the spread
  ro.tracking.reset();
  const double toMm = g.pixelMmAtIsocentre();
  const auto here = g.project(g.isocentreLps);
  std::optional<LevelShift> better, rival;
  for (int levels : {-1, 1}) {
    // Vertebra k+levels drawn where k is now: the isocentre moves by
    // their offset (moving it by d moves every projected point by -d).
    CArmGeometry shifted = g;
    shifted.isocentreLps = g.isocentreLps + offset(levels);
    const RegistrationResult r = registration.run(frame, shifted, false, ro);
    LevelShift s;
    s.levels = levels;
    s.correlation = r.correlation;
    s.pose = r.geometry;
    const auto there = r.geometry.project(g.isocentreLps);
    s.movedMm = std::hypot(there[0] - here[0], there[1] - here[1]) * toMm;
    s.separate = s.movedMm >= o.separateMm;
    out.shifts.push_back(s);
    if (!s.separate) continue;
    const double m = o.margin * std::abs(registered.correlation);
    if (s.correlation > registered.correlation + m) {
      if (!better || s.correlation > better->correlation) better = s;
    } else if (s.correlation >= registered.correlation - m) {
      rival = s;
    }
  }
  // The count on the frame: where it says the pose is a level off and the
  // match does not say so clearly the other way, the level is not
  // confirmed; where the shift it names matches about as well (a rival),
  // that shift is the better start.
  out.frameCount = countLevelsOnFrame(frame, g, names);
  const int counted = out.frameCount.favouredShift;
  std::optional<LevelShift> byCount;
  if (counted != 0 && !better)
    for (const LevelShift& s : out.shifts)
      if (s.levels == counted && s.separate &&
          s.correlation >= registered.correlation - o.margin * std::abs(registered.correlation))
        byCount = s;
  std::ostringstream why;
  if (counted != 0 && better && better->levels != counted) {
    why << "level not sure: the match says the pose is " << shiftName(better->levels)
        << " off, the disc spaces counted on the frame say " << shiftName(counted);
  } else if (byCount) {
    out.betterStart = byCount->pose;
    why << "wrong level: the disc spaces counted on the frame say the pose is "
        << shiftName(byCount->levels) << " off, and the CT there matches about as well (gradient "
        << "correlation " << byCount->correlation << " vs " << registered.correlation << ")";
  } else if (better) {
    out.betterStart = better->pose;
    why << "wrong level: the frame matches the CT " << shiftName(better->levels)
        << " better (gradient correlation " << better->correlation << " vs "
        << registered.correlation << "): the start was a level off";
  } else if (!registered.accepted) {
    why << "not registered, and neither neighbouring level matches better";
  } else if (counted != 0) {
    why << "level not sure: the disc spaces counted on the frame say the pose is "
        << shiftName(counted) << " off, but the CT there matches worse";
  } else if (rival && !out.frameCount.ruledOut(rival->levels)) {
    why << "level not sure: the CT " << shiftName(rival->levels)
        << " matches the frame almost as well (gradient correlation " << rival->correlation
        << " vs " << registered.correlation
        << "); give landmarks on a view that shows the sacrum or the ribs";
  } else if (rival) {
    out.confirmed = true;
    why << "level confirmed by the count on the frame: the CT " << shiftName(rival->levels)
        << " matches almost as well (gradient correlation " << rival->correlation << " vs "
        << registered.correlation << "), but puts its sacrum where the frame shows a disc";
  } else {
    out.confirmed = true;
    why << "level confirmed: one level cranial and caudal match worse (";
    for (std::size_t i = 0; i < out.shifts.size(); ++i) {
      const LevelShift& s = out.shifts[i];
      why << (i ? ", " : "") << shiftName(s.levels) << " "
          << (s.separate ? std::to_string(s.correlation).substr(0, 5)
                         : "settles back on this pose");
    }
    why << ", this pose " << std::to_string(registered.correlation).substr(0, 5) << ")";
  }
  why << ". " << out.frameCount.summary;
  out.reason = why.str();
  return out;
}

} // namespace fluoroplan
