#include <gtest/gtest.h>

#include "imaging/core/geometry.h"

using namespace fluoroplan;

TEST(Geometry, CrossFollowsRightHandRuleInLps) {
  // L x P = S: columns running left and rows running posterior give a slice
  // normal toward the head, as for an axial CT.
  const Vec3 n = cross({1, 0, 0}, {0, 1, 0});
  EXPECT_EQ(n, (Vec3{0, 0, 1}));
}

TEST(Geometry, InverseOfKnownMatrix) {
  Mat3 a;
  a.m = {2, 0, 0, 0, 4, 0, 1, 0, 1};
  const Mat3 inv = inverse(a);
  // Hand-computed: [[0.5,0,0],[0,0.25,0],[-0.5,0,1]].
  const std::array<double, 9> expected{0.5, 0, 0, 0, 0.25, 0, -0.5, 0, 1};
  for (int i = 0; i < 9; ++i)
    EXPECT_NEAR(inv.m[i], expected[i], 1e-12) << i;
  EXPECT_DOUBLE_EQ(determinant(a), 8.0);
}

TEST(Geometry, SingularMatrixThrows) {
  Mat3 a;
  a.m = {1, 2, 3, 2, 4, 6, 0, 0, 1};
  EXPECT_THROW(inverse(a), std::domain_error);
}

TEST(Geometry, AngleBetweenDirections) {
  EXPECT_NEAR(angleDegrees({1, 0, 0}, {0, 1, 0}), 90.0, 1e-12);
  EXPECT_NEAR(angleDegrees({1, 0, 0}, {1, 1, 0}), 45.0, 1e-12);
  EXPECT_NEAR(angleDegrees({1, 0, 0}, {-2, 0, 0}), 180.0, 1e-12);
}

TEST(Geometry, DistanceToSegmentKnownAnswers) {
  const Vec3 a{0, 0, 0}, b{10, 0, 0};
  EXPECT_DOUBLE_EQ(distanceToSegment({5, 3, 4}, a, b), 5.0);  // beside the middle
  EXPECT_DOUBLE_EQ(distanceToSegment({-3, 4, 0}, a, b), 5.0); // beyond a: to a
  EXPECT_DOUBLE_EQ(distanceToSegment({13, 0, 4}, a, b), 5.0); // beyond b: to b
  EXPECT_DOUBLE_EQ(distanceToSegment({1, 2, 2}, a, a), 3.0);  // a point segment
}

TEST(Geometry, RotationAboutAnAxisKnownAnswers) {
  // 90 degrees about S (z) turns L (x) into P (y), right-handed.
  const Mat3 r = rotationDeg({0, 0, 90});
  const Vec3 p = r * Vec3{1, 0, 0};
  EXPECT_NEAR(p.x, 0, 1e-12);
  EXPECT_NEAR(p.y, 1, 1e-12);
  EXPECT_NEAR(p.z, 0, 1e-12);
  // 120 degrees about (1,1,1) cycles the axes: x -> y -> z.
  const Vec3 q = rotationDeg(120.0 / std::sqrt(3.0) * Vec3{1, 1, 1}) * Vec3{1, 0, 0};
  EXPECT_NEAR(q.x, 0, 1e-12);
  EXPECT_NEAR(q.y, 1, 1e-12);
  EXPECT_NEAR(q.z, 0, 1e-12);
  // The identity for no turn; a product of turns about one axis adds them.
  EXPECT_EQ(rotationDeg({0, 0, 0}), Mat3{});
  const Mat3 a = rotationDeg({0, 10, 0}) * rotationDeg({0, 25, 0}), b = rotationDeg({0, 35, 0});
  for (int i = 0; i < 9; ++i)
    EXPECT_NEAR(a.m[std::size_t(i)], b.m[std::size_t(i)], 1e-12);
}
