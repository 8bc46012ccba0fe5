// PathScene on a synthetic body: the skin is where outside air begins (the
// gap between the back and the table is outside), enclosed air far from the
// target (a lung or bowel pocket) is inside and flagged, and a ray leaving
// the scan gives no skin.
#include <gtest/gtest.h>

#include "imaging/core/spine_levels.h"
#include "planning/path_check.h"

using namespace fluoroplan;

namespace {
// 200 mm cube at 1 mm; a body cylinder of radius 80 mm along z (0 HU); a
// 10 mm air pocket at (0, 55, -65); a table behind the back (y 88-95 mm)
// with an air gap between; a canal label near the target.
struct Scene {
  Volume ct, labels;
};
Scene body() {
  Scene s;
  s.ct.size = {200, 200, 200};
  s.ct.spacingMm = {1, 1, 1};
  s.ct.originLps = {-99.5, -99.5, -99.5};
  s.ct.hu.assign(s.ct.voxelCount(), -1000);
  s.labels = s.ct;
  std::fill(s.labels.hu.begin(), s.labels.hu.end(), int16_t{0});
  for (std::size_t k = 0; k < 200; ++k)
    for (std::size_t j = 0; j < 200; ++j)
      for (std::size_t i = 0; i < 200; ++i) {
        const Vec3 p = s.ct.indexToLps({double(i), double(j), double(k)});
        const std::size_t o = s.ct.offset(i, j, k);
        if (std::hypot(p.x, p.y) < 80) s.ct.hu[o] = 0;
        if (norm(p - Vec3{0, 55, -65}) < 10) s.ct.hu[o] = -900;
        if (p.y > 88 && p.y < 95) s.ct.hu[o] = 100; // the table
        if (std::hypot(p.x + 20, p.y) < 6) s.labels.hu[o] = spine_label::kSpinalCanal;
      }
  return s;
}
} // namespace

TEST(PathScene, SkinIsWhereOutsideAirBeginsNotAtEnclosedAir) {
  const Scene s = body();
  const PathScene scene(s.ct, s.labels, {{0, 0, 0}});
  // Straight back: skin at y = 80 (not the table beyond the air gap).
  const auto back = scene.skinAlong({0, 0, 0}, {0, 1, 0});
  ASSERT_TRUE(back.has_value());
  EXPECT_NEAR(back->y, 79.5, 1.0);
  // Through the pocket, 65 mm caudal (beyond the distance maps' box): the
  // skin is still the body's edge, and the path check names the air.
  const Vec3 dir = normalized(Vec3{0, 55, -65});
  const auto skin = scene.skinAlong({0, 0, 0}, dir);
  ASSERT_TRUE(skin.has_value());
  EXPECT_GT(skin->y, 75);
  const PathCheck c = scene.check(*skin, {0, 0, 0}, {200, 3, 0, 5});
  EXPECT_FALSE(c.safe);
  bool air = false;
  for (const auto& v : c.violations)
    air |= v.find("air inside the body") != std::string::npos;
  EXPECT_TRUE(air);
  // The canal 20 mm to the right of the path: its clearance is measured.
  const PathCheck straight = scene.check(*back, {0, 0, 0}, {200, 3, 0, 5});
  EXPECT_TRUE(straight.safe);
  EXPECT_NEAR(straight.canalClearanceMm, 14.0, 1.0);
  // A ray that leaves the scan (through its top) before any skin: none.
  EXPECT_FALSE(scene.skinAlong({0, 0, 90}, normalized(Vec3{0, 0.2, 1})).has_value());
}
