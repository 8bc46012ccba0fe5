// Exact distances on an anisotropic grid against hand-computed values.
#include <gtest/gtest.h>

#include "planning/distance_map.h"

using namespace fluoroplan;

TEST(DistanceMap, SingleVoxelOnAnisotropicGrid) {
  Volume v;
  v.size = {21, 21, 11};
  v.spacingMm = {0.5, 0.75, 2.0};
  v.hu.assign(v.voxelCount(), 0);
  v.hu[v.offset(10, 10, 5)] = 9;
  const DistanceMap d(v, {0, 0, 0}, {20, 20, 10}, [](int16_t l) { return l == 9; });
  auto at = [&](int i, int j, int k) {
    return d.atLps(v.indexToLps({double(i), double(j), double(k)}));
  };
  EXPECT_NEAR(at(10, 10, 5), 0, 1e-6);
  EXPECT_NEAR(at(14, 10, 5), 2.0, 1e-5); // 4 columns of 0.5 mm
  EXPECT_NEAR(at(10, 14, 5), 3.0, 1e-5); // 4 rows of 0.75 mm
  EXPECT_NEAR(at(10, 10, 8), 6.0, 1e-5); // 3 slices of 2 mm
  EXPECT_NEAR(at(13, 6, 7), std::sqrt(1.5 * 1.5 + 3.0 * 3.0 + 4.0 * 4.0), 1e-5);
  EXPECT_GT(d.atLps({1000, 0, 0}), 1e8); // outside the box
}

TEST(DistanceMap, EmptySetIsFarEverywhere) {
  Volume v;
  v.size = {5, 5, 5};
  v.spacingMm = {1, 1, 1};
  v.hu.assign(v.voxelCount(), 0);
  const DistanceMap d(v, {0, 0, 0}, {4, 4, 4}, [](int16_t l) { return l == 1; });
  EXPECT_GT(d.atLps({2, 2, 2}), 1e8);
}
