// Frames rendered by the sample case's own simulator from phantoms and known
// poses, for what the sample runs do not show:
// - the wrong-level guard on phantoms whose count is unusual (an L6, a
//   sacralised L5), registered from a start 10 mm / 5 degrees off and from
//   a start one level off, as when the operator counts up from the sacrum
//   and puts landmarks on the level that count names: the plan's levels
//   must land where they truly are on the frame either way;
// - collimator blades in the field, whose straight edges no DRR has.
#include <gtest/gtest.h>

#include <algorithm>
#include <iostream>

#include "dicom_samples/spine_phantom.h"
#include "dicom_samples/xray_simulator.h"
#include "imaging/projection/level_check.h"

using namespace fluoroplan;
using namespace fluoroplan::samples;

namespace {

struct VariantCase {
  Phantom phantom;
  CArmGeometry truth;
  RegistrationImage frame;
  CtLevelNames names;
  Vec3 of(const std::string& level) const {
    for (const auto& v : names.vertebrae)
      if (v.level == level) return v.bodyLps;
    throw std::runtime_error("no " + level);
  }
};

VariantCase variantCase(bool lumbarSixth, bool sacralisedL5, Detector det = {},
                        double primaryDeg = 180) {
  PhantomOptions o;
  o.columns = o.rows = 384;
  o.pixelMm = 1.0;
  o.topLevel = "L1";
  o.prone = true;
  o.lumbarSixth = lumbarSixth;
  o.sacralisedL5 = sacralisedL5;
  VariantCase c{makeSpinePhantom(o), {}, {}, {}};
  for (const auto& m : c.phantom.truth.levels)
    c.names.vertebrae.push_back({m.level, m.bodyCentroidLps, m.ribs});
  // Prone, table AP (primary 180), centred between the L4 and L5 bodies,
  // as the sample runs are; a flat panel (no pincushion), `det` otherwise.
  CArmPose pose;
  pose.primaryDeg = primaryDeg;
  pose.isocenterLps = 0.5 * (c.of("L4") + c.of("L5"));
  det.pincushionK = 0;
  const XRaySimulator sim(c.phantom.ct, pose, det);
  const auto stored = sim.render({}, Exposure{});
  c.frame = registrationImageFromFrame(std::vector<float>(stored.begin(), stored.end()),
                                       det.columns, det.rows);
  c.truth.primaryDeg = primaryDeg;
  c.truth.sourceToDetectorMm = pose.sourceToDetectorMm;
  c.truth.sourceToIsocentreMm = pose.sourceToIsocenterMm;
  c.truth.isocentreLps = pose.isocenterLps;
  c.truth.columns = det.columns;
  c.truth.rows = det.rows;
  c.truth.pixelMm = det.pixelMm;
  c.truth.principalColumn = det.principalColumn;
  c.truth.principalRow = det.principalRow;
  return c;
}

// Where a pose draws a level's body against where it truly is, mm at the
// isocentre.
double errorMm(const VariantCase& c, const CArmGeometry& g, const std::string& level) {
  const auto a = c.truth.project(c.of(level)), b = g.project(c.of(level));
  return std::hypot(a[0] - b[0], a[1] - b[1]) * c.truth.pixelMm * c.truth.sourceToIsocentreMm /
         c.truth.sourceToDetectorMm;
}

// The start an operator's landmarks give when the frame's `seen` level is
// taken for the CT's `named` one: that vertebra drawn where `seen` is.
CArmGeometry startOnWrongLevel(const VariantCase& c, const std::string& named,
                               const std::string& seen) {
  CArmGeometry g = c.truth;
  g.isocentreLps = c.truth.isocentreLps + (c.of(named) - c.of(seen));
  return g;
}

// The start: 10 mm (6 across, 8 along the spine) and 5 degrees
// (3 and 4 about the C-arm's axes) off the true pose.
CArmGeometry startNear(const VariantCase& c) {
  CArmGeometry g = c.truth;
  g.isocentreLps = g.isocentreLps + Vec3{6, 0, -8};
  g.primaryDeg += 3;
  g.secondaryDeg -= 4;
  return g;
}

// `confirmed` (if given) gets the check of the pose from the near start.
void expectGuardKeepsTheLevel(const VariantCase& c, LevelCheck* confirmed = nullptr) {
  const Registration2D3D reg(c.phantom.ct);
  // From a start 10 mm and 5 degrees off: registered and confirmed.
  const CArmGeometry near = startNear(c);
  const RegistrationResult r = reg.run(c.frame, near, false);
  ASSERT_TRUE(r.accepted) << r.reason;
  EXPECT_LT(errorMm(c, r.geometry, "L4"), 1.0);
  const LevelCheck ok = checkLevel(reg, c.frame, r, near, c.names);
  std::cout << "from 10 mm / 5 deg off: " << ok.reason << "\n";
  EXPECT_TRUE(ok.confirmed) << ok.reason;
  EXPECT_FALSE(ok.betterStart);
  if (confirmed) *confirmed = ok;

  // Counted up from the sacrum: the lowest mobile vertebra taken for L5,
  // the one above it for L4 (an L6 patient: the CT's L5 for its L4; a
  // sacralised L5: the CT's L3 for its L4). From there the refinement
  // settles a level off (on the L6 phantom it is even accepted: its
  // restarts agree) or is refused; either way the guard finds the right
  // level, and from there the plan's L4 is drawn on the frame's L4.
  const bool l6 = std::any_of(c.names.vertebrae.begin(), c.names.vertebrae.end(),
                              [](const auto& v) { return v.level == "L6"; });
  const CArmGeometry wrong =
      l6 ? startOnWrongLevel(c, "L4", "L5") : startOnWrongLevel(c, "L4", "L3");
  const RegistrationResult off = reg.run(c.frame, wrong, false);
  std::cout << "one level off: " << off.reason << "; L4 drawn " << errorMm(c, off.geometry, "L4")
            << " mm from the frame's L4\n";
  ASSERT_GT(errorMm(c, off.geometry, "L4"), 15) << "the start did not stay a level off";
  const LevelCheck check = checkLevel(reg, c.frame, off, wrong, c.names);
  std::cout << check.reason << "\n";
  EXPECT_FALSE(check.confirmed);
  ASSERT_TRUE(check.betterStart) << check.reason;
  const RegistrationResult again = reg.run(c.frame, *check.betterStart, false);
  ASSERT_TRUE(again.accepted) << again.reason;
  EXPECT_LT(errorMm(c, again.geometry, "L4"), 1.0);
  EXPECT_LT(errorMm(c, again.geometry, "L5"), 1.0);
  const LevelCheck after = checkLevel(reg, c.frame, again, *check.betterStart, c.names);
  EXPECT_TRUE(after.confirmed) << after.reason;
}

} // namespace

TEST(LevelCheck, LumbarSixthIsNotShiftedByALevel) {
  LevelCheck names;
  expectGuardKeepsTheLevel(variantCase(true, false), &names);
  // What lies in the field, by the CT's names, and how counting misleads.
  EXPECT_FALSE(names.sacrumInView); // a 15 cm field centred on L4-L5 ends at L6
  EXPECT_NE(names.countWarning.find("L6"), std::string::npos) << names.countWarning;
  EXPECT_NE(std::find(names.levelsInView.begin(), names.levelsInView.end(), "L6"),
            names.levelsInView.end());
}

TEST(LevelCheck, SacralisedFifthIsNotShiftedByALevel) {
  expectGuardKeepsTheLevel(variantCase(false, true));
}

TEST(LevelCheck, CountWarnings) {
  CtLevelNames usual{{{"L4", {}, false}, {"L5", {}, false}, {"sacrum", {}, false}}, true, ""};
  EXPECT_EQ(levelCountWarning(usual), "");
  CtLevelNames t13{{{"T13", {}, true}, {"L1", {}, false}}, true, ""};
  EXPECT_NE(levelCountWarning(t13).find("thirteenth"), std::string::npos);
  usual.namingCertain = false;
  usual.evidence = "no ribs in view";
  EXPECT_NE(levelCountWarning(usual).find("no ribs in view"), std::string::npos);
  EXPECT_EQ(levelCountBadge(usual), "CT LEVEL NAMES UNCERTAIN - CONFIRM THE COUNT");
  EXPECT_EQ(levelCountBadge(t13), "CT HAS A T13 - NAMES ARE THE CT'S");
  const CtLevelNames l6{{{"L5", {}, false}, {"L6", {}, false}, {"sacrum", {}, false}}, false, ""};
  EXPECT_EQ(levelCountBadge(l6), "CT HAS AN L6 - NAMES ARE THE CT'S");
}

TEST(CollimatorBlades, TheirEdgesAreLeftOutAndTheFrameStillRegisters) {
  // Blades over the left 150 columns and below row 400 (30% transmission):
  // a third of the field in their shadow, as when the operator cones down
  // on the joints treated.
  Detector det;
  det.bladeLeft = 150;
  det.bladeBottom = 400;
  const VariantCase c = variantCase(false, false, det);
  const CollimatorEdges e =
      findCollimatorEdges(std::vector<float>(c.frame.value.size()), c.frame.columns, c.frame.rows);
  EXPECT_FALSE(e.left || e.right || e.top || e.bottom); // a blank frame has none
  // registrationImageFromFrame negated the samples; find them on the frame.
  std::vector<float> stored(c.frame.value.size());
  for (std::size_t i = 0; i < stored.size(); ++i)
    stored[i] = -c.frame.value[i];
  const CollimatorEdges blades = findCollimatorEdges(stored, c.frame.columns, c.frame.rows);
  ASSERT_TRUE(blades.left);
  ASSERT_TRUE(blades.bottom);
  EXPECT_NEAR(*blades.left, 150, 3);
  EXPECT_NEAR(*blades.bottom, 400, 3);
  EXPECT_FALSE(blades.right || blades.top);
  for (unsigned col : {100u, 155u})
    EXPECT_EQ(c.frame.mask[256 * c.frame.columns + col], 0) << col;
  EXPECT_EQ(c.frame.mask[256 * c.frame.columns + 200], 1);

  const Registration2D3D reg(c.phantom.ct);
  const CArmGeometry near = startNear(c);
  const RegistrationResult r = reg.run(c.frame, near, false);
  ASSERT_TRUE(r.accepted) << r.reason;
  EXPECT_LT(errorMm(c, r.geometry, "L4"), 1.0);
  EXPECT_LT(errorMm(c, r.geometry, "L5"), 1.0);
  // The same frame compared over the whole field, blades' edges and all.
  RegistrationImage unmasked = c.frame;
  for (std::size_t i = 0; i < unmasked.mask.size(); ++i)
    unmasked.mask[i] = stored[i] > 0;
  const RegistrationResult u = reg.run(unmasked, near, false);
  std::cout << "with the blades' shadows masked: L4 " << errorMm(c, r.geometry, "L4")
            << " mm, gradient correlation " << r.correlation << "; unmasked: L4 "
            << errorMm(c, u.geometry, "L4") << " mm, " << u.correlation << " ("
            << (u.accepted ? "accepted" : "refused") << ")\n";
  EXPECT_GT(r.correlation, u.correlation + 0.2); // the edges would dominate the match
}

// The disc spaces counted on lateral frames (where the L5-S1 disc shows)
// and on AP frames (where lordosis tilts it out of view), at the true pose
// and at a pose a level off.
TEST(FrameLevelCount, PhantomFramesShowTheCtsDiscsAndTheSacrumEndsTheCount) {
  auto seen = [](const FrameLevelCount& f, const std::string& disc) {
    for (const auto& p : f.places)
      if (p.name == disc) return p.seen;
    return false;
  };
  {
    const VariantCase c = variantCase(false, false, {}, 90);
    const FrameLevelCount f = countLevelsOnFrame(c.frame, c.truth, c.names);
    std::cout << "lateral: " << f.summary << "\n";
    EXPECT_TRUE(seen(f, "L3-L4") && seen(f, "L4-L5") && seen(f, "L5-S1")) << f.summary;
    EXPECT_EQ(f.contradictions[1], 0);
    EXPECT_TRUE(f.ruledOut(1)) << "one level caudal puts the sacrum on the L5-S1 disc";
    EXPECT_EQ(f.favouredShift, 0);
    // The CT's L4 drawn on the frame's L3: its sacrum lies on the frame's
    // L5-S1 disc, and one level cranial is the way back.
    const FrameLevelCount off =
        countLevelsOnFrame(c.frame, startOnWrongLevel(c, "L4", "L3"), c.names);
    std::cout << "lateral, a level off: " << off.summary << "\n";
    EXPECT_EQ(off.favouredShift, -1) << off.summary;
  }
  {
    const VariantCase c = variantCase(true, false, {}, 90);
    const FrameLevelCount f = countLevelsOnFrame(c.frame, c.truth, c.names);
    std::cout << "lateral, L6: " << f.summary << "\n";
    EXPECT_TRUE(seen(f, "L4-L5") && seen(f, "L5-L6")) << f.summary;
    EXPECT_EQ(f.contradictions[1], 0);
    EXPECT_EQ(f.favouredShift, 0);
  }
  {
    // The rudimentary disc below a sacralised L5 (3 mm) does not show: no
    // disc is counted there, and nothing contradicts the pose.
    const VariantCase c = variantCase(false, true, {}, 90);
    const FrameLevelCount f = countLevelsOnFrame(c.frame, c.truth, c.names);
    std::cout << "lateral, sacralised L5: " << f.summary << "\n";
    EXPECT_TRUE(seen(f, "L4-L5")) << f.summary;
    EXPECT_FALSE(seen(f, "L5-S1")) << f.summary;
    EXPECT_EQ(f.contradictions[1], 0);
    EXPECT_EQ(f.favouredShift, 0);
  }
  for (auto [l6, sacralised] : {std::pair{false, false}, {true, false}, {false, true}}) {
    const VariantCase c = variantCase(l6, sacralised);
    const FrameLevelCount f = countLevelsOnFrame(c.frame, c.truth, c.names);
    std::cout << "AP" << (l6 ? ", L6" : "") << (sacralised ? ", sacralised L5" : "") << ": "
              << f.summary << "\n";
    EXPECT_TRUE(f.counted);
    EXPECT_TRUE(seen(f, "L3-L4") && seen(f, "L4-L5")) << f.summary;
    EXPECT_EQ(f.contradictions[1], 0);
    EXPECT_EQ(f.favouredShift, 0);
  }
}

// On a lateral frame the guard's match and the count agree: from a start
// a level off, both send the pose back to the right level.
TEST(LevelCheck, OnALateralFrameTheCountAgreesWithTheMatch) {
  LevelCheck ok;
  expectGuardKeepsTheLevel(variantCase(false, false, {}, 90), &ok);
  EXPECT_TRUE(ok.frameCount.ruledOut(1)) << ok.frameCount.summary;
}
