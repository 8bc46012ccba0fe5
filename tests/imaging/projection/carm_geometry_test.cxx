// C-arm projection against hand-computed pixels (not against the sample
// generator, which could share a mistake).
#include <gtest/gtest.h>

#include "imaging/projection/carm_geometry.h"
#include "imaging/projection/frame_geometry.h"
#include "imaging/projection/frame_overlay.h"

using namespace fluoroplan;

namespace {
CArmGeometry ap() {
  CArmGeometry g; // a = b = 0: detector over the chest, tube behind
  g.sourceToDetectorMm = 1000;
  g.sourceToIsocentreMm = 750;
  g.pixelMm = 0.5;
  g.columns = g.rows = 512;
  g.principalColumn = g.principalRow = 255.5;
  return g;
}
} // namespace

TEST(CArmGeometry, ApViewByHand) {
  const CArmGeometry g = ap();
  // Source 750 mm behind the isocentre (+y, posterior), detector 250 mm in front.
  EXPECT_NEAR(g.sourceLps().y, 750, 1e-9);
  EXPECT_NEAR(g.detectorCentreLps().y, -250, 1e-9);
  // The isocentre lands on the principal point.
  auto px = g.project({0, 0, 0});
  EXPECT_NEAR(px[0], 255.5, 1e-9);
  EXPECT_NEAR(px[1], 255.5, 1e-9);
  // 10 mm to the patient's left, magnified 1000/750: 13.333 mm = 26.667 px
  // to the right (columns run toward the patient's left, "L\F").
  px = g.project({10, 0, 0});
  EXPECT_NEAR(px[0], 255.5 + 26.6667, 1e-3);
  EXPECT_NEAR(px[1], 255.5, 1e-9);
  // 10 mm toward the feet: 26.667 px down (rows run toward the feet).
  px = g.project({0, 0, -10});
  EXPECT_NEAR(px[1], 255.5 + 26.6667, 1e-3);
  // Nearer the source magnifies more: 500 mm from it, 2x.
  px = g.project({10, 250, 0});
  EXPECT_NEAR(px[0], 255.5 + 40, 1e-9);
}

TEST(CArmGeometry, ProjectionMatrixAgreesWithProject) {
  CArmGeometry g = ap();
  g.primaryDeg = 160;
  g.secondaryDeg = -40;
  g.isocentreLps = {12, -30, 100};
  g.principalColumn = 240;
  g.principalRow = 270;
  const auto P = g.projectionMatrix();
  for (Vec3 p : {Vec3{12, -30, 100}, Vec3{40, 0, 80}, Vec3{-20, -60, 130}}) {
    const double w = P[8] * p.x + P[9] * p.y + P[10] * p.z + P[11];
    const double c = (P[0] * p.x + P[1] * p.y + P[2] * p.z + P[3]) / w;
    const double r = (P[4] * p.x + P[5] * p.y + P[6] * p.z + P[7]) / w;
    const auto px = g.project(p);
    EXPECT_NEAR(c, px[0], 1e-6);
    EXPECT_NEAR(r, px[1], 1e-6);
  }
}

TEST(CArmGeometry, WorkedExampleDetectorBehindLeftCaudal) {
  CArmGeometry g = ap();
  g.primaryDeg = 160;
  g.secondaryDeg = -40;
  const Vec3 d = g.detectorDirection();
  EXPECT_NEAR(d.x, 0.262, 0.002);
  EXPECT_NEAR(d.y, 0.720, 0.002);
  EXPECT_NEAR(d.z, -0.643, 0.002);
  // The frame is right-handed and orthonormal.
  EXPECT_NEAR(dot(g.columnDirection(), d), 0, 1e-12);
  EXPECT_NEAR(norm(g.rowDirection()), 1, 1e-12);
  // The source is on the other side: in front, right, cranial.
  EXPECT_LT(g.sourceLps().y, 0);
  EXPECT_LT(g.sourceLps().x, 0);
  EXPECT_GT(g.sourceLps().z, 0);
  // A pixel's LPS position projects back onto that pixel.
  const auto px = g.project(g.pixelLps(100, 400));
  EXPECT_NEAR(px[0], 100, 1e-9);
  EXPECT_NEAR(px[1], 400, 1e-9);
}

TEST(CArmGeometry, TurnedAboutTheIsocentreKnownAngles) {
  CArmGeometry g; // AP: d = (0, -1, 0), u = (1, 0, 0), v = (0, 0, -1)
  // About S by 10 degrees: the detector swings toward the patient's left.
  CArmGeometry t = turnedAboutIsocentre(g, rotationDeg({0, 0, 10}));
  EXPECT_NEAR(t.primaryDeg, 10, 1e-9);
  EXPECT_NEAR(t.secondaryDeg, 0, 1e-9);
  EXPECT_NEAR(t.inPlaneDeg, 0, 1e-9);
  // About L by 20 degrees: d = (0, -cos 20, -sin 20), the detector caudal.
  t = turnedAboutIsocentre(g, rotationDeg({20, 0, 0}));
  EXPECT_NEAR(t.primaryDeg, 0, 1e-9);
  EXPECT_NEAR(t.secondaryDeg, -20, 1e-9);
  EXPECT_NEAR(t.inPlaneDeg, 0, 1e-9);
  // About the beam d by 15 degrees: u turns toward d x u = -v.
  t = turnedAboutIsocentre(g, rotationDeg(15.0 * g.detectorDirection()));
  EXPECT_NEAR(t.primaryDeg, 0, 1e-9);
  EXPECT_NEAR(t.secondaryDeg, 0, 1e-9);
  EXPECT_NEAR(t.inPlaneDeg, -15, 1e-9);
  // Any turn of any view: the new frame is the turned frame.
  CArmGeometry o;
  o.primaryDeg = 160;
  o.secondaryDeg = -35;
  o.inPlaneDeg = 4;
  const Mat3 r = rotationDeg({3, -7, 5});
  t = turnedAboutIsocentre(o, r);
  EXPECT_NEAR(norm(t.detectorDirection() - r * o.detectorDirection()), 0, 1e-12);
  EXPECT_NEAR(norm(t.columnDirection() - r * o.columnDirection()), 0, 1e-12);
  EXPECT_NEAR(norm(t.rowDirection() - r * o.rowDirection()), 0, 1e-12);
  EXPECT_NEAR(norm(t.isocentreLps - o.isocentreLps), 0, 1e-12);
}

TEST(CArmGeometry, PoseDisplacementKnownAnswers) {
  CArmGeometry truth;
  truth.isocentreLps = {10, 20, 30};
  const Vec3 p{15, 20, 30}; // 5 mm along u of the truth
  EXPECT_NEAR(norm(poseDisplacement(truth, truth, p)), 0, 1e-12);
  // The estimate's isocentre 2 mm deeper: every point moves 2 mm along d.
  CArmGeometry deeper = truth;
  deeper.isocentreLps = truth.isocentreLps + 2.0 * truth.detectorDirection();
  const Vec3 e = poseDisplacement(truth, deeper, p);
  EXPECT_NEAR(norm(e - 2.0 * truth.detectorDirection()), 0, 1e-12);
  // Turned 90 degrees about the beam (u' = v): the point 5 mm along u lands
  // 5 mm along v, 5 mm along v minus 5 along u from where it was.
  CArmGeometry turned = truth;
  turned.inPlaneDeg = 90;
  const Vec3 f = poseDisplacement(truth, turned, p);
  EXPECT_NEAR(norm(f - (5.0 * truth.rowDirection() - 5.0 * truth.columnDirection())), 0, 1e-12);
  // The isocentre itself does not move under a turn.
  EXPECT_NEAR(norm(poseDisplacement(truth, turned, truth.isocentreLps)), 0, 1e-12);
}

TEST(FrameGeometry, TableMovesAreNamedWithBothValues) {
  CArmPositioner a, b;
  bool recorded = true;
  // Nothing recorded: no move seen, and it says so.
  EXPECT_TRUE(tableMovesBetween(a, b, 1, &recorded).empty());
  EXPECT_FALSE(recorded);
  // Recorded on one frame only: still nothing to compare.
  a.tableTopLongitudinalMm = 0;
  EXPECT_TRUE(tableMovesBetween(a, b, 1, &recorded).empty());
  EXPECT_FALSE(recorded);
  // Both record it: within the tolerance it stayed; beyond, it moved.
  b.tableTopLongitudinalMm = 0.8;
  EXPECT_TRUE(tableMovesBetween(a, b, 1, &recorded).empty());
  EXPECT_TRUE(recorded);
  b.tableTopLongitudinalMm = 40;
  a.tableHeightMm = 900;
  b.tableHeightMm = 880;
  a.tableTopLateralMm = 5; // one side only: not compared
  const auto moves = tableMovesBetween(a, b, 1, &recorded);
  ASSERT_EQ(moves.size(), 2u);
  EXPECT_EQ(moves[0], "Table Top Longitudinal Position 0.0 -> 40.0 mm");
  EXPECT_EQ(moves[1], "Table Height 900.0 -> 880.0 mm");
}

TEST(FrameOverlay, TheLeftMarkerAndTheLateralSide) {
  CArmGeometry g; // prone, table AP: the detector on the back (primary 180)
  g.primaryDeg = 180;
  auto left = patientLeftInImage(g);
  // u = (cos 180, sin 180, 0) = patient's right: the left is toward column 0.
  EXPECT_NEAR(left[0], -1, 1e-9);
  EXPECT_NEAR(left[1], 0, 1e-9);
  EXPECT_EQ(lateralSideMarker(g), "");
  g.primaryDeg = 0; // supine AP: the detector over the chest
  EXPECT_NEAR(patientLeftInImage(g)[0], 1, 1e-9);
  // Lateral, the detector at the patient's left (+90), or nearly: no L on
  // the image, the left side named as the one toward the detector.
  for (double a : {90.0, 75.0, 100.0}) {
    g.primaryDeg = a;
    left = patientLeftInImage(g);
    EXPECT_EQ(left[0], 0) << a;
    EXPECT_EQ(left[1], 0) << a;
    EXPECT_EQ(lateralSideMarker(g), "LEFT LATERAL") << a;
  }
  g.primaryDeg = -90;
  EXPECT_EQ(lateralSideMarker(g), "RIGHT LATERAL");
  g.primaryDeg = 140; // a 40-degree oblique is not lateral
  EXPECT_EQ(lateralSideMarker(g), "");
}

// A 20 mm cube of bone at the isocentre, seen AP: its shadow is a square
// of 20 mm times the magnification, its outline the square's edge cells,
// its body's centre at the principal point.
TEST(FrameOverlay, AVertebraOutlineIsItsShadowsEdge) {
  CArmGeometry g;
  g.columns = g.rows = 256;
  g.pixelMm = 0.5;
  g.principalColumn = g.principalRow = 127.5;
  g.sourceToDetectorMm = 1000;
  g.sourceToIsocentreMm = 500; // magnification 2: 20 mm is 40 mm, 80 pixels
  std::vector<Vec3> bone;
  for (double x = -10; x <= 10; x += 0.5)
    for (double y = -10; y <= 10; y += 0.5)
      for (double z = -10; z <= 10; z += 0.5)
        bone.push_back(g.isocentreLps + Vec3{x, y, z});
  const IntensifierDistortion none;
  const VertebraInFrame v = projectVertebra(g, none, "L4", bone, g.isocentreLps, 4);
  EXPECT_EQ(v.level, "L4");
  EXPECT_TRUE(v.bodyInFrame);
  EXPECT_NEAR(v.bodyPx[0], 127.5, 1e-6);
  EXPECT_NEAR(v.bodyPx[1], 127.5, 1e-6);
  // The cube's near face is magnified a little more (the source is 490 mm
  // from it): half-widths of 40-41.7 pixels about the centre.
  ASSERT_FALSE(v.outlinePx.empty());
  for (const auto& p : v.outlinePx) {
    const double half = std::max(std::abs(p[0] - 127.5), std::abs(p[1] - 127.5));
    EXPECT_GT(half, 36) << p[0] << " " << p[1];
    EXPECT_LT(half, 44) << p[0] << " " << p[1];
  }
  // 4-pixel cells around a ~83-pixel square: about 4 x 21 of them.
  EXPECT_GT(v.outlinePx.size(), 70u);
  EXPECT_LT(v.outlinePx.size(), 100u);
  // Entirely outside the frame: no outline, the body off the frame.
  CArmGeometry away = g;
  away.isocentreLps = g.isocentreLps + Vec3{300, 0, 0};
  const VertebraInFrame off = projectVertebra(away, none, "L4", bone, g.isocentreLps, 4);
  EXPECT_TRUE(off.outlinePx.empty());
  EXPECT_FALSE(off.bodyInFrame);
}
