// Unit tests of the registration's parts, each against a known answer:
// intensifier distortion, the in-plane rotation, gradient correlation.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "imaging/projection/intensifier_distortion.h"
#include "imaging/projection/registration_2d3d.h"

using namespace fluoroplan;

TEST(IntensifierDistortion, RadialModelAndItsInverse) {
  const IntensifierDistortion d{0.08, 250, 255.5, 255.5};
  // 100 px right of the centre: r' = 100 (1 + 0.08 (100/250)^2) = 101.28.
  const auto p = d.distort(355.5, 255.5);
  EXPECT_NEAR(p[0], 255.5 + 101.28, 1e-9);
  EXPECT_NEAR(p[1], 255.5, 1e-12);
  for (double c : {10.0, 200.0, 400.0})
    for (double r : {30.0, 255.5, 480.0}) {
      const auto q = d.distort(c, r);
      const auto back = d.undistort(q[0], q[1]);
      EXPECT_NEAR(back[0], c, 1e-6);
      EXPECT_NEAR(back[1], r, 1e-6);
    }
  // Correcting a frame: a dot drawn where the distortion puts it comes
  // back to its ideal place.
  std::vector<float> frame(64 * 64, 0.f);
  const IntensifierDistortion small{0.2, 30, 31.5, 31.5};
  const auto at = small.distort(51.5, 31.5); // ideal (51.5, 31.5) -> (55.1, 31.5)
  frame[std::size_t(std::lround(at[1])) * 64 + std::size_t(std::lround(at[0] - 0.5))] = 1.f;
  frame[std::size_t(std::lround(at[1])) * 64 + std::size_t(std::lround(at[0] + 0.5))] = 1.f;
  const auto fixed = correctDistortion(frame, 64, 64, small);
  std::size_t argmax = 0;
  for (std::size_t i = 0; i < fixed.size(); ++i)
    if (fixed[i] > fixed[argmax]) argmax = i;
  EXPECT_NEAR(double(argmax % 64), 51.5, 1.0);
  EXPECT_NEAR(double(argmax / 64), 31.5, 1.0);
}

TEST(CArmGeometry, InPlaneRotationTurnsTheImageAboutTheBeam) {
  CArmGeometry g;
  const Vec3 u = g.columnDirection(), v = g.rowDirection(), d = g.detectorDirection();
  g.inPlaneDeg = 90;
  EXPECT_NEAR(norm(g.columnDirection() - v), 0, 1e-12);
  EXPECT_NEAR(norm(g.rowDirection() + u), 0, 1e-12);
  EXPECT_NEAR(norm(g.detectorDirection() - d), 0, 1e-12);
  // A point along u moves from the image's columns to its rows (v' = -u).
  g.inPlaneDeg = 0;
  const auto a = g.project(g.isocentreLps + 10.0 * u);
  g.inPlaneDeg = 90;
  const auto b = g.project(g.isocentreLps + 10.0 * u);
  EXPECT_NEAR(a[0] - g.principalColumn, -(b[1] - g.principalRow), 1e-9);
  EXPECT_NEAR(b[0], g.principalColumn, 1e-9);
}

TEST(GradientCorrelation, KnownAnswers) {
  const unsigned w = 32, h = 32;
  std::vector<float> a(w * h), b(w * h), flat(w * h, 5.f);
  std::vector<uint8_t> mask(w * h, 1);
  for (unsigned r = 0; r < h; ++r)
    for (unsigned c = 0; c < w; ++c)
      a[r * w + c] = float(std::sin(c * 0.3) + std::cos(r * 0.2) + 0.01 * ((r * 7 + c * 3) % 5));
  for (std::size_t i = 0; i < a.size(); ++i)
    b[i] = 3.f * a[i] + 100.f; // same image, other scale and offset
  EXPECT_NEAR(gradientCorrelation(a, b, mask, w, h), 1.0, 1e-9);
  for (auto& x : b)
    x = -x;
  EXPECT_NEAR(gradientCorrelation(a, b, mask, w, h), -1.0, 1e-9);
  EXPECT_EQ(gradientCorrelation(a, flat, mask, w, h), -1.0); // a blank frame matches nothing
}

namespace {
// A toy spine: a 120 mm water block in air (1 mm voxels) with bone balls
// and rods of different sizes, none symmetric, so every pose parameter
// changes the image.
Volume toySpine() {
  Volume v;
  v.size = {128, 128, 128};
  v.spacingMm = {1, 1, 1};
  v.originLps = {-63.5, -63.5, -63.5};
  v.hu.assign(v.voxelCount(), -1000);
  const Vec3 balls[] = {{0, 10, -40}, {0, 10, 0}, {0, 10, 40}, {-18, 25, -20}, {22, 28, 15}};
  const double radii[] = {12, 13, 11, 5, 7};
  for (std::size_t k = 0; k < 128; ++k)
    for (std::size_t j = 0; j < 128; ++j)
      for (std::size_t i = 0; i < 128; ++i) {
        const Vec3 p = v.indexToLps({double(i), double(j), double(k)});
        int16_t hu = -1000;
        if (std::abs(p.x) < 60 && std::abs(p.y) < 60 && std::abs(p.z) < 60) hu = 0;
        for (int b = 0; b < 5; ++b)
          if (norm(p - balls[b]) < radii[b]) hu = 900;
        // A rod along the spine, behind the balls, and a slanted one.
        if (std::hypot(p.x - 2, p.y - 35) < 4 && std::abs(p.z) < 50) hu = 800;
        if (std::hypot(p.x + 30 - 0.3 * p.z, p.y - 5) < 3 && std::abs(p.z) < 30) hu = 800;
        v.hu[v.offset(i, j, k)] = hu;
      }
  return v;
}

CArmGeometry toyTruth() {
  CArmGeometry g;
  g.primaryDeg = 170;
  g.secondaryDeg = -10;
  g.sourceToDetectorMm = 1000;
  g.sourceToIsocentreMm = 650;
  g.pixelMm = 0.45;
  g.isocentreLps = {3, 12, -4};
  return g;
}

// The frame as registration sees it: line integrals, compared inside a
// disc (the intensifier's field).
RegistrationImage toyFrame(const Volume& ct, const CArmGeometry& g) {
  const Drr d = renderDrr(ct, g);
  RegistrationImage img{g.columns, g.rows, d.lineIntegral,
                        std::vector<uint8_t>(d.lineIntegral.size(), 0)};
  for (unsigned r = 0; r < g.rows; ++r)
    for (unsigned c = 0; c < g.columns; ++c)
      img.mask[std::size_t(r) * g.columns + c] =
          std::hypot(c - g.principalColumn, r - g.principalRow) < 230;
  return img;
}

// The largest distance at the isocentre (mm) between where two poses put
// the bone balls' centres.
double errorMm(const CArmGeometry& truth, const CArmGeometry& g) {
  double worst = 0;
  for (const Vec3 p : {Vec3{0, 10, -40}, Vec3{0, 10, 0}, Vec3{0, 10, 40}, Vec3{22, 28, 15}}) {
    const auto a = truth.project(p), b = g.project(p);
    worst = std::max(worst, std::hypot(a[0] - b[0], a[1] - b[1]));
  }
  return worst * truth.pixelMm * truth.sourceToIsocentreMm / truth.sourceToDetectorMm;
}
} // namespace

TEST(Registration2D3D, RefinesAllSixParametersFromAStartOff) {
  const Volume ct = toySpine();
  const CArmGeometry truth = toyTruth();
  const RegistrationImage frame = toyFrame(ct, truth);
  CArmGeometry start = truth;
  start.isocentreLps = truth.isocentreLps + Vec3{4, -3, 4}; // 6.4 mm
  start.primaryDeg += 2;
  start.secondaryDeg -= 2;
  start.inPlaneDeg += 1.5;
  ASSERT_GT(errorMm(truth, start), 5);
  const Registration2D3D reg(ct);
  const RegistrationResult r = reg.run(frame, start, false);
  EXPECT_TRUE(r.accepted) << r.reason;
  EXPECT_LT(errorMm(truth, r.geometry), 0.5) << r.reason;
  EXPECT_NEAR(r.geometry.inPlaneDeg, truth.inPlaneDeg, 0.5);
  EXPECT_GT(r.correlation, 0.8);
}

// The DRR at half the size, interpolated back, is the full-size DRR within
// a small part of its range (the 1.2 mm voxels hold no finer detail than
// half a 512 frame's pixels show); pixels outside the mask stay 0.
TEST(Registration2D3D, HalfSizeDrrInterpolatedBackMatchesTheFullOne) {
  const Volume ct = toySpine();
  const CArmGeometry g = toyTruth();
  const Registration2D3D reg(ct);
  const RegistrationImage field = toyFrame(ct, g);
  const Drr full = reg.drrAt(g);
  const Drr half = reg.drrAt(g, &field.mask, 0, 2);
  ASSERT_EQ(half.lineIntegral.size(), full.lineIntegral.size());
  const float range = *std::max_element(full.lineIntegral.begin(), full.lineIntegral.end());
  double worst = 0, sum = 0;
  std::size_t n = 0;
  for (std::size_t i = 0; i < full.lineIntegral.size(); ++i) {
    if (!field.mask[i]) {
      EXPECT_EQ(half.lineIntegral[i], 0.f);
      continue;
    }
    const double d = std::abs(half.lineIntegral[i] - full.lineIntegral[i]);
    worst = std::max(worst, d);
    sum += d;
    ++n;
  }
  // Mean within 0.1% of the range; the worst, at the bone balls' edges,
  // within 2% (here 0.02% and 0.4%).
  EXPECT_LT(sum / double(n), 0.001 * range);
  EXPECT_LT(worst, 0.02 * range);
  std::printf("half-size DRR: mean %.4f, worst %.4f of a range %.3f\n", sum / double(n), worst,
              range);
}

TEST(Registration2D3D, TrackingCarriesTheEstimateOnlyWhenTheFrameStillMatches) {
  const Volume ct = toySpine();
  const CArmGeometry truth = toyTruth();
  const RegistrationImage frame = toyFrame(ct, truth);
  const Registration2D3D reg(ct);
  const RegistrationResult first = reg.run(frame, truth, false);
  ASSERT_TRUE(first.accepted) << first.reason;

  // The next frame, C-arm turned 3 degrees, predicted from the DICOM angles:
  // a few DRRs, the previous estimate carried over, and right.
  CArmGeometry moved = truth;
  moved.primaryDeg += 3;
  const RegistrationImage next = toyFrame(ct, moved);
  CArmGeometry predicted = first.geometry;
  predicted.primaryDeg += 3;
  RegistrationOptions o;
  o.tracking = TrackingPrior{first.correlation, 0.7, 1.5};
  const RegistrationResult t = reg.run(next, predicted, false, o);
  EXPECT_TRUE(t.accepted) << t.reason;
  EXPECT_NE(t.reason.find("tracked"), std::string::npos) << t.reason;
  EXPECT_DOUBLE_EQ(t.inPlaneErrorMm, 0.7);
  EXPECT_DOUBLE_EQ(t.alongBeamErrorMm, 1.5);
  EXPECT_LT(errorMm(moved, t.geometry), 0.5);
  EXPECT_LT(t.drrsRendered, first.drrsRendered / 4);

  // The C-arm moved 8 mm more than its angles say: the correction is too
  // large to trust the old estimate, so the full refinement and restarts
  // run, and the result is still right.
  CArmGeometry shifted = moved;
  shifted.isocentreLps = moved.isocentreLps + 8.0 * moved.columnDirection();
  const RegistrationResult full = reg.run(toyFrame(ct, shifted), predicted, false, o);
  EXPECT_EQ(full.reason.find("tracked"), std::string::npos) << full.reason;
  EXPECT_TRUE(full.accepted) << full.reason;
  EXPECT_LT(errorMm(shifted, full.geometry), 0.5);

  // A blank frame after a good one: refused, not tracked.
  RegistrationImage blank = next;
  std::fill(blank.value.begin(), blank.value.end(), 0.f);
  const RegistrationResult none = reg.run(blank, predicted, false, o);
  EXPECT_FALSE(none.accepted);
}

TEST(Registration2D3D, StartFromLandmarksRecoversTheShiftAndTurn) {
  CArmGeometry truth;
  truth.primaryDeg = 160;
  truth.secondaryDeg = -30;
  truth.isocentreLps = {10, 40, 60};
  const std::vector<Vec3> points{{10, 60, 60}, {25, 55, 80}, {-5, 58, 40}};
  std::vector<LandmarkPair> pairs;
  for (const Vec3& p : points)
    pairs.push_back({p, truth.project(p)});
  // The angles right, the isocentre off across the beam, the image turned:
  // recovered exactly.
  CArmGeometry dicom = truth;
  dicom.isocentreLps =
      truth.isocentreLps + 7.0 * truth.columnDirection() - 4.0 * truth.rowDirection();
  dicom.inPlaneDeg = 3;
  double rms = -1;
  CArmGeometry g = startFromLandmarks(dicom, pairs, &rms);
  EXPECT_NEAR(norm(g.isocentreLps - truth.isocentreLps), 0, 1e-3);
  EXPECT_NEAR(g.inPlaneDeg, 0, 1e-3);
  EXPECT_NEAR(rms, 0, 1e-3);
  // And 20 mm off in depth, which one view does not see: depth stays, and
  // the magnification it changes (about 3%, on points 20 mm from the
  // isocentre) leaves the shift a few tenths of a mm off.
  dicom.isocentreLps = dicom.isocentreLps + 20.0 * truth.detectorDirection();
  g = startFromLandmarks(dicom, pairs, &rms);
  const Vec3 off = g.isocentreLps - truth.isocentreLps;
  EXPECT_NEAR(dot(off, truth.columnDirection()), 0, 0.5);
  EXPECT_NEAR(dot(off, truth.rowDirection()), 0, 0.5);
  EXPECT_NEAR(dot(off, truth.detectorDirection()), 20, 1e-9);
  EXPECT_NEAR(g.inPlaneDeg, 0, 0.5);
  EXPECT_LT(rms, 3.0);
  // One pair: the shift only, the turn kept.
  const CArmGeometry one = startFromLandmarks(dicom, {pairs[0]});
  EXPECT_DOUBLE_EQ(one.inPlaneDeg, 3);
  const auto at = one.project(points[0]);
  EXPECT_NEAR(at[0], pairs[0].framePx[0], 1e-3);
  EXPECT_NEAR(at[1], pairs[0].framePx[1], 1e-3);
}

TEST(Registration2D3D, LevelWindowIsTheBonesFootprintWidenedByTheMargin) {
  CArmGeometry g; // default: 1000 mm SDD, 650 mm to the isocentre
  g.sourceToDetectorMm = 1000;
  g.sourceToIsocentreMm = 650;
  g.pixelMm = 0.65; // 0.4225 mm at the isocentre
  RegistrationImage frame{g.columns, g.rows, std::vector<float>(std::size_t(g.columns) * g.rows, 0),
                          std::vector<uint8_t>(std::size_t(g.columns) * g.rows, 1)};
  // One point at the isocentre: a disc of 2 mm / 0.4225 mm = 4.7 -> 5 px
  // radius about the principal point, 81 pixels (|dx|^2 + |dy|^2 <= 25).
  const auto m = levelWindow(frame, g, {g.isocentreLps}, 2.0);
  const auto c = g.project(g.isocentreLps);
  EXPECT_NEAR(c[0], g.principalColumn, 1e-9);
  std::size_t n = 0;
  for (unsigned r = 0; r < g.rows; ++r)
    for (unsigned col = 0; col < g.columns; ++col) {
      const bool inside =
          std::hypot(double(col) - std::round(c[0]), double(r) - std::round(c[1])) <= 5.0;
      EXPECT_EQ(m[std::size_t(r) * g.columns + col] != 0, inside) << col << " " << r;
      n += m[std::size_t(r) * g.columns + col];
    }
  EXPECT_EQ(n, 81u);
  // Outside the frame's own mask nothing is added.
  std::fill(frame.mask.begin(), frame.mask.end(), uint8_t{0});
  const auto none = levelWindow(frame, g, {g.isocentreLps}, 2.0);
  EXPECT_EQ(std::count(none.begin(), none.end(), uint8_t{1}), 0);
}

TEST(CollimatorEdges, BladesShadowsAreFoundAndLeftOutOfTheComparison) {
  // A 256-pixel frame: a circular field (radius 120) of textured anatomy
  // (values 300-700), black outside; a blade's grey shadow (40% of the
  // signal) over the columns left of 60 and the rows below 200.
  const unsigned w = 256, h = 256;
  std::vector<float> open(w * h, 0.f), bladed(w * h, 0.f);
  for (unsigned r = 0; r < h; ++r)
    for (unsigned c = 0; c < w; ++c) {
      if (std::hypot(c - 127.5, r - 127.5) > 120) continue;
      const float v = float(500 + 150 * std::sin(c * 0.07) * std::cos(r * 0.05) +
                            50 * std::sin((c + 2 * r) * 0.3));
      open[r * w + c] = v;
      bladed[r * w + c] = (c < 60 || r > 200) ? 0.4f * v : v;
    }
  const CollimatorEdges none = findCollimatorEdges(open, w, h);
  EXPECT_FALSE(none.left || none.right || none.top || none.bottom);
  const CollimatorEdges e = findCollimatorEdges(bladed, w, h);
  ASSERT_TRUE(e.left);
  ASSERT_TRUE(e.bottom);
  EXPECT_NEAR(*e.left, 59.5, 1.5);
  EXPECT_NEAR(*e.bottom, 200.5, 1.5);
  EXPECT_FALSE(e.right);
  EXPECT_FALSE(e.top);
  // Compared: inside the open field, 12 px clear of the blades' edges.
  const RegistrationImage img = registrationImageFromFrame(bladed, w, h, 12);
  auto compared = [&](unsigned c, unsigned r) { return img.mask[r * w + c] != 0; };
  EXPECT_FALSE(compared(50, 128));  // in the left blade's shadow
  EXPECT_FALSE(compared(66, 128));  // 6 px inside its edge
  EXPECT_TRUE(compared(80, 128));   // open field
  EXPECT_FALSE(compared(128, 195)); // 5 px above the lower blade's edge
  EXPECT_TRUE(compared(128, 180));
  const RegistrationImage plain = registrationImageFromFrame(open, w, h, 12);
  EXPECT_TRUE(plain.mask[128 * w + 50] != 0); // no blade: the field reaches there
}

TEST(CollimatorEdges, WhatTheDicomCollimatorBlockedIsLeftOut) {
  // 64 x 64, all compared; a collimator of columns 11-50 and rows 5-60
  // (1-based), with a 2-pixel margin: stored columns 12..47 stay (0-based).
  RegistrationImage img{64, 64, std::vector<float>(64 * 64, 1.f), std::vector<uint8_t>(64 * 64, 1)};
  CArmPositioner p;
  p.collimatorShape = "RECTANGULAR";
  p.collimatorLeftColumn = 11;
  p.collimatorRightColumn = 50;
  p.collimatorUpperRow = 5;
  p.collimatorLowerRow = 60;
  const IntensifierDistortion flat{0, 30, 31.5, 31.5};
  RegistrationImage a = img;
  maskOutsideCollimator(a, p, flat, 2);
  auto open = [](const RegistrationImage& m, unsigned c, unsigned r) {
    return m.mask[r * m.columns + c] != 0;
  };
  EXPECT_FALSE(open(a, 11, 30));
  EXPECT_TRUE(open(a, 12, 30));
  EXPECT_TRUE(open(a, 47, 30));
  EXPECT_FALSE(open(a, 48, 30));
  EXPECT_FALSE(open(a, 30, 5));
  EXPECT_TRUE(open(a, 30, 6));
  EXPECT_TRUE(open(a, 30, 57));
  EXPECT_FALSE(open(a, 30, 58));
  // A circle: centre row 32.5, column 32.5 (1-based), radius 20.
  CArmPositioner c;
  c.collimatorShape = "CIRCULAR";
  c.collimatorCircleCentre = std::array<double, 2>{32.5, 32.5};
  c.collimatorCircleRadius = 20;
  RegistrationImage b = img;
  maskOutsideCollimator(b, c, flat, 0);
  EXPECT_TRUE(open(b, 31, 31));
  EXPECT_TRUE(open(b, 31 + 19, 31));
  EXPECT_FALSE(open(b, 31 + 21, 31));
  // Through an intensifier's pincushion the ideal pixel shows a stored one
  // farther out: more of the ideal image lies outside the same blades.
  RegistrationImage d = img;
  const std::size_t flatDropped = maskOutsideCollimator(b = img, p, flat, 2);
  const std::size_t pincushionDropped =
      maskOutsideCollimator(d, p, IntensifierDistortion{0.2, 30, 31.5, 31.5}, 2);
  EXPECT_GT(pincushionDropped, flatDropped);
  // A polygon: a diamond (rows\columns, 1-based) with its corners at rows
  // 12 and 52 on column 32.5 and columns 12.5 and 52.5 on row 32: its edges
  // run at 45 degrees. With a 2-pixel margin, the point 2 px from an edge
  // stays; one 1 px from it does not; the centre and the corners' outside
  // too.
  CArmPositioner q;
  q.collimatorShape = "POLYGONAL";
  q.collimatorPolygon = {{12, 32.5}, {32, 52.5}, {52, 32.5}, {32, 12.5}};
  RegistrationImage g = img;
  maskOutsideCollimator(g, q, flat, 2);
  // 0-based pixel (c, r) is 1-based (c + 1, r + 1).
  EXPECT_TRUE(open(g, 31, 31));  // the centre
  EXPECT_FALSE(open(g, 5, 5));   // outside, beyond a corner
  EXPECT_FALSE(open(g, 60, 31)); // right of the right corner
  // On row 32 (1-based), the right edge is at column 52.5; the distance
  // from column x to the 45-degree edges is (52.5 - x) / sqrt(2).
  EXPECT_TRUE(open(g, 48, 31));  // column 49: 3.5 / 1.41 = 2.5 px from the edges
  EXPECT_FALSE(open(g, 50, 31)); // column 51: 1.1 px
  // A polygon the shape does not name is not applied.
  q.collimatorShape = "RECTANGULAR";
  RegistrationImage h = img;
  EXPECT_EQ(maskOutsideCollimator(h, q, flat, 0), 0u);
  // No collimator stated: nothing left out.
  RegistrationImage e = img;
  EXPECT_EQ(maskOutsideCollimator(e, CArmPositioner{}, flat, 2), 0u);
}
