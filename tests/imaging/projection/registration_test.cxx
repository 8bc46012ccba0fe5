// Unit tests of the registration's parts, each against a known answer:
// intensifier distortion, the in-plane rotation, gradient correlation.
#include <gtest/gtest.h>

#include <cmath>

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
