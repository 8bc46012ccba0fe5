// C-arm angles against hand-computed vectors (DESIGN.md section 4).
#include <gtest/gtest.h>

#include <cmath>

#include "planning/carm_view.h"

using namespace fluoroplan;

TEST(CArmView, DetectorDirectionConvention) {
  // a = b = 0: detector over the chest (anterior, -y in LPS).
  const Vec3 d0 = detectorDirection({0, 0});
  EXPECT_NEAR(d0.x, 0, 1e-12);
  EXPECT_NEAR(d0.y, -1, 1e-12);
  EXPECT_NEAR(d0.z, 0, 1e-12);
  // LAO 90: detector at the patient's left (+x).
  EXPECT_NEAR(detectorDirection({90, 0}).x, 1, 1e-12);
  // CRA 90: detector toward the head (+z).
  EXPECT_NEAR(detectorDirection({0, 90}).z, 1, 1e-12);
}

TEST(CArmView, DesignWorkedExample) {
  // a = +160, b = -40: d = (sin160 cos40, -cos160 cos40, sin(-40))
  //                      = (0.342 * 0.766, 0.940 * 0.766, -0.643) = (0.26, 0.72, -0.64).
  const Vec3 d = detectorDirection({160, -40});
  EXPECT_NEAR(d.x, 0.262, 0.002);
  EXPECT_NEAR(d.y, 0.720, 0.002);
  EXPECT_NEAR(d.z, -0.643, 0.002);
  const CArmAngles back = anglesForDetectorDirection(d);
  EXPECT_NEAR(back.primaryDeg, 160, 1e-9);
  EXPECT_NEAR(back.secondaryDeg, -40, 1e-9);
}

TEST(CArmView, ProneLeftL4MedialBranchFromCaudalLateral) {
  // Prone patient, left L4 medial branch: the needle comes from behind,
  // left and caudal. Target at the origin, skin entry 100 mm away along
  // (0.26, 0.72, -0.64): the down-the-needle view puts the detector on that
  // side: primary ~ +160, secondary ~ -40; in words 20 degrees ipsilateral
  // oblique, 40 degrees caudal tilt.
  const Vec3 target{0, 0, 0};
  const Vec3 entry = 100.0 * Vec3{0.2620, 0.7198, -0.6428};
  const NeedleView v = downTheNeedleView(entry, target, true, "left", {0, 0, 1});
  EXPECT_NEAR(v.angles.primaryDeg, 160, 0.1);
  EXPECT_NEAR(v.angles.secondaryDeg, -40, 0.1);
  EXPECT_EQ(v.obliqueSide, "ipsilateral");
  EXPECT_NEAR(v.obliqueDeg, 20, 0.1);
  EXPECT_EQ(v.tiltSide, "caudal");
  EXPECT_NEAR(v.tiltDeg, 40, 0.1);
  EXPECT_NE(v.words.find("20 degrees ipsilateral oblique, 40 degrees caudal tilt"),
            std::string::npos)
      << v.words;
  EXPECT_TRUE(v.reachable);
  // The same needle on the right side of a prone patient mirrors: primary
  // -160, still ipsilateral.
  const NeedleView r =
      downTheNeedleView({-entry.x, entry.y, entry.z}, target, true, "right", {0, 0, 1});
  EXPECT_NEAR(r.angles.primaryDeg, -160, 0.1);
  EXPECT_EQ(r.obliqueSide, "ipsilateral");
}

TEST(CArmView, SupineStraightViewIsAp) {
  // Supine, needle straight from the front: detector over the chest, no
  // oblique, no tilt.
  const NeedleView v = downTheNeedleView({0, -100, 0}, {0, 0, 0}, false, "left", {0, 0, 1});
  EXPECT_NEAR(v.angles.primaryDeg, 0, 1e-9);
  EXPECT_NEAR(v.obliqueDeg, 0, 1e-9);
  EXPECT_EQ(v.obliqueSide, "");
  // A left-lateral view of a supine patient is LAO 90, "90 degrees ipsilateral".
  const NeedleView l = describeView({1, 0, 0}, false, "left", {0, 0, 1});
  EXPECT_NEAR(l.angles.primaryDeg, 90, 1e-9);
  EXPECT_EQ(l.obliqueSide, "ipsilateral");
}

TEST(CArmView, TiltBeyondTheCArmIsFlagged) {
  const NeedleView v = describeView(detectorDirection({180, -60}), true, "left", {0, 0, 1});
  EXPECT_FALSE(v.reachable);
  EXPECT_NE(v.whyNot.find("60"), std::string::npos);
}

TEST(CArmView, ProgressViewIsAtRightAnglesToTheNeedle) {
  const Vec3 entry{30, 80, -60}, target{0, 0, 0};
  const NeedleView p = progressView(entry, target, true, "left", {0, 0, 1});
  EXPECT_NEAR(dot(p.detectorDirectionLps, normalized(entry - target)), 0, 1e-9);
  EXPECT_GT(p.detectorDirectionLps.x, 0); // toward the needle's side
}

// The neck's lateral approach, supine: the needle comes straight from the
// left, so its down-the-needle view is LAO 90 and the view at right angles
// is the AP one (detector over the patient), not one along the spine.
TEST(CArmView, LateralNeedleProgressViewIsAp) {
  const Vec3 entry{60, 0, 0}, target{20, 0, 0};
  const NeedleView d = downTheNeedleView(entry, target, false, "left", {0, 0, 1});
  EXPECT_NEAR(d.angles.primaryDeg, 90, 1e-9);
  EXPECT_TRUE(d.reachable);
  const NeedleView p = progressView(entry, target, false, "left", {0, 0, 1});
  EXPECT_NEAR(p.detectorDirectionLps.y, -1, 1e-9);
  EXPECT_NEAR(p.angles.primaryDeg, 0, 1e-9);
  EXPECT_NEAR(p.angles.secondaryDeg, 0, 1e-9);
  EXPECT_TRUE(p.reachable);
}
