#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "imaging/core/volume.h"

using namespace fluoroplan;

TEST(Volume, IndexToLpsAxial) {
  Volume v;
  v.size = {10, 10, 5};
  v.spacingMm = {0.5, 0.5, 2.0};
  v.originLps = {-100, -50, 20};
  const Vec3 p = v.indexToLps({2, 4, 3});
  EXPECT_EQ(p, (Vec3{-99, -48, 26}));
  const Vec3 back = v.lpsToIndex(p);
  EXPECT_NEAR(back.x, 2, 1e-12);
  EXPECT_NEAR(back.y, 4, 1e-12);
  EXPECT_NEAR(back.z, 3, 1e-12);
}

TEST(Volume, IndexToLpsSagittal) {
  // Sagittal stack: columns run posterior, rows run inferior (down), slices
  // run to the patient's left. Hand-computed: index (1,2,3) with spacing
  // (1,2,3) from origin (5,0,0) is (5 + 3*3, 1*1, -2*2) = (14, 1, -4).
  Volume v;
  v.size = {4, 4, 4};
  v.spacingMm = {1, 2, 3};
  v.originLps = {5, 0, 0};
  v.directionLps = Mat3::fromColumns({0, 1, 0}, {0, 0, -1}, {1, 0, 0});
  EXPECT_EQ(v.indexToLps({1, 2, 3}), (Vec3{14, 1, -4}));
  EXPECT_EQ(orientationLabel(v.directionLps), "PIL");
  EXPECT_EQ(slicePlaneName(v.directionLps), "sagittal");
}

TEST(Volume, PlaneNames) {
  EXPECT_EQ(slicePlaneName(Mat3{}), "axial");
  EXPECT_EQ(slicePlaneName(Mat3::fromColumns({1, 0, 0}, {0, 0, -1}, {0, 1, 0})), "coronal");
  const double c = std::sqrt(0.5);
  EXPECT_EQ(slicePlaneName(Mat3::fromColumns({c, c, 0}, {-c, c, 0}, {0, 0, 1})), "axial");
  EXPECT_EQ(orientationLabel(Mat3::fromColumns({c, c, 0}, {-c, c, 0}, {0, 0, 1})), "oblique");
  EXPECT_EQ(slicePlaneName(Mat3::fromColumns({1, 0, 0}, {0, c, -c}, {0, c, c})), "oblique");
}

TEST(Volume, ContainsIndex) {
  Volume v;
  v.size = {3, 3, 3};
  EXPECT_TRUE(v.containsIndex({0, 0, 0}));
  EXPECT_TRUE(v.containsIndex({2.4, -0.4, 1}));
  EXPECT_FALSE(v.containsIndex({2.6, 0, 0}));
}

TEST(Volume, ReverseSlicesKeepsEveryVoxelWhereItIs) {
  // Three slices 2 mm apart going up from z = 10: reversed, slice 0 is the
  // top one (z = 14) and the axis points down; each value stays at its place.
  Volume v;
  v.size = {2, 1, 3};
  v.spacingMm = {1, 1, 2};
  v.originLps = {0, 0, 10};
  v.hu = {1, 2, 3, 4, 5, 6};
  const Volume r = reverseSlices(v);
  EXPECT_EQ(r.originLps, (Vec3{0, 0, 14}));
  EXPECT_EQ(r.directionLps.column(2), (Vec3{0, 0, -1}));
  EXPECT_EQ(std::vector<int16_t>(r.hu.begin(), r.hu.end()),
            (std::vector<int16_t>{5, 6, 3, 4, 1, 2}));
  for (std::size_t k = 0; k < 3; ++k)
    for (std::size_t i = 0; i < 2; ++i) {
      const Vec3 p = v.indexToLps({double(i), 0, double(k)});
      const Vec3 q = r.lpsToIndex(p);
      EXPECT_EQ(r.at(std::size_t(std::lround(q.x)), 0, std::size_t(std::lround(q.z))),
                v.at(i, 0, k));
    }
  const Volume back = reverseSlices(r);
  EXPECT_EQ(back.originLps, v.originLps);
  EXPECT_EQ(back.directionLps, v.directionLps);
  EXPECT_EQ(back.hu, v.hu);
}

#include "imaging/core/reslice.h"

TEST(Reslice, AxialShowsPatientRightOnTheLeftAndAnteriorUp) {
  // A volume stored with its axes reversed (columns toward the patient's
  // right, rows anterior): a bright voxel on the patient's left-posterior
  // corner must still appear at the right-bottom of the axial picture.
  Volume v;
  v.size = {4, 4, 1};
  v.directionLps = Mat3::fromColumns({-1, 0, 0}, {0, -1, 0}, {0, 0, 1});
  v.hu.assign(16, 0);
  v.hu[v.offset(0, 0, 0)] = 1000; // index (0,0): largest x (left) and largest y (posterior)
  const PlaneImage img = reslice(v, ViewPlane::Axial, volumeCentreLps(v), 1.0);
  ASSERT_EQ(img.width, 4u);
  ASSERT_EQ(img.height, 4u);
  EXPECT_EQ(img.values[3 * 4 + 3], 1000);
  EXPECT_EQ(img.values[0], 0);
}

TEST(Reslice, SagittalHasHeadUpAndAnteriorLeft) {
  Volume v;
  v.size = {1, 3, 3};
  v.hu.assign(9, 0);
  v.hu[v.offset(0, 0, 2)] = 700; // most anterior (smallest y), most superior (largest z)
  const PlaneImage img = reslice(v, ViewPlane::Sagittal, volumeCentreLps(v), 1.0);
  ASSERT_EQ(img.width, 3u);
  EXPECT_EQ(img.values[0], 700); // top-left
}

TEST(Reslice, CropAroundKeepsThePixelsNearTheCentreAndTheirPositions) {
  // A 10 x 10 mm axial picture at 1 mm pixels; value = 100 * row + column.
  Volume v;
  v.size = {10, 10, 1};
  v.hu.resize(100);
  for (std::size_t j = 0; j < 10; ++j)
    for (std::size_t i = 0; i < 10; ++i)
      v.hu[v.offset(i, j, 0)] = static_cast<int16_t>(100 * j + i);
  const PlaneImage img = reslice(v, ViewPlane::Axial, volumeCentreLps(v), 1.0);
  // Around pixel (column 7, row 2), 2 mm either way: columns 5-9, rows 0-4
  // (clipped at the top edge, rows -> 0..4).
  const PlaneImage c = cropAround(img, Vec3{7, 2, 0}, 2.0, 2.0);
  ASSERT_EQ(c.width, 5u);
  ASSERT_EQ(c.height, 5u);
  EXPECT_EQ(c.values[0], 5);                   // row 0, column 5
  EXPECT_EQ(c.values[4 * 5 + 4], 100 * 4 + 9); // row 4, column 9
  EXPECT_DOUBLE_EQ(c.topLeftLps.x, 5.0);
  EXPECT_DOUBLE_EQ(c.topLeftLps.y, 0.0);
  // Entirely outside: an empty picture, not a crash.
  EXPECT_EQ(cropAround(img, Vec3{50, 50, 0}, 2.0, 2.0).width, 0u);
}

TEST(Reslice, BlockAverageKnownValuesAndCentres) {
  // 4 x 2 x 2 at 1 mm, value = 10 * i: 2 mm blocks average i = 0,1 -> 5 and
  // i = 2,3 -> 25, each block's value at its centre (index 0.5 of the fine grid).
  Volume v;
  v.size = {4, 2, 2};
  v.originLps = {10, 20, 30};
  v.hu.resize(16);
  for (std::size_t k = 0; k < 2; ++k)
    for (std::size_t j = 0; j < 2; ++j)
      for (std::size_t i = 0; i < 4; ++i)
        v.hu[v.offset(i, j, k)] = static_cast<int16_t>(10 * i);
  std::array<std::size_t, 3> f{};
  const Volume c = blockAverage(v, 2.0, &f);
  EXPECT_EQ(f[0], 2u);
  ASSERT_EQ(c.size[0], 2u);
  ASSERT_EQ(c.size[1], 1u);
  ASSERT_EQ(c.size[2], 1u);
  EXPECT_EQ(c.hu[0], 5);
  EXPECT_EQ(c.hu[1], 25);
  EXPECT_DOUBLE_EQ(c.spacingMm.x, 2.0);
  EXPECT_DOUBLE_EQ(c.originLps.x, 10.5);
  EXPECT_DOUBLE_EQ(c.originLps.z, 30.5);
}

TEST(Reslice, ResampleToAxialPutsASagittalStackOnLpsAxes) {
  // Sagittal stack: columns run posterior (1 mm), rows inferior (2 mm),
  // slices to the left (3 mm), from origin (5, 0, 0); value = 100 i + 10 j
  // + k. On an axial grid of 1 mm pixels and 2 mm slices, the voxel at LPS
  // (5 + 3k, i, -2j) holds that value exactly; between the sagittal slices
  // (1 mm apart on the new grid) values are interpolated linearly.
  Volume v;
  v.size = {4, 3, 2};
  v.spacingMm = {1, 2, 3};
  v.originLps = {5, 0, 0};
  v.directionLps = Mat3::fromColumns({0, 1, 0}, {0, 0, -1}, {1, 0, 0});
  v.hu.resize(v.voxelCount());
  for (std::size_t k = 0; k < 2; ++k)
    for (std::size_t j = 0; j < 3; ++j)
      for (std::size_t i = 0; i < 4; ++i)
        v.hu[v.offset(i, j, k)] = static_cast<int16_t>(100 * i + 10 * j + k);
  const Volume a = resampleToAxial(v, 1.0, 2.0);
  EXPECT_EQ(a.directionLps, Mat3{});
  EXPECT_EQ(a.originLps, (Vec3{5, 0, -4}));
  ASSERT_EQ(a.size, (std::array<std::size_t, 3>{4, 4, 3}));
  for (std::size_t k = 0; k < 2; ++k)
    for (std::size_t j = 0; j < 3; ++j)
      for (std::size_t i = 0; i < 4; ++i) {
        const Vec3 q = a.lpsToIndex(v.indexToLps({double(i), double(j), double(k)}));
        EXPECT_EQ(a.at(std::size_t(std::lround(q.x)), std::size_t(std::lround(q.y)),
                       std::size_t(std::lround(q.z))),
                  v.at(i, j, k));
      }
  // LPS x = 6 lies a third of the way from slice k = 0 to k = 1.
  EXPECT_EQ(a.at(1, 2, 2), 200); // i = 2, j = 0, k = 1/3 -> 200.33 rounds to 200
  EXPECT_EQ(a.at(1, 3, 0), 320); // x = 6, y = 3, z = -4: i = 3, j = 2, k = 1/3
  // The labels come back to the sagittal grid voxel for voxel.
  const Volume back = labelsOnGrid(a, v);
  EXPECT_EQ(back.directionLps, v.directionLps);
  EXPECT_EQ(back.hu, v.hu);
}

TEST(Reslice, LabelsOnGridTakeTheNearestVoxelAndZeroOutside) {
  Volume labels;
  labels.size = {2, 1, 1};
  labels.spacingMm = {2, 1, 1};
  labels.hu = {7, 9};
  Volume grid;
  grid.size = {6, 1, 1};
  grid.originLps = {-1, 0, 0}; // x = -1 .. 4 at 1 mm
  grid.hu.assign(6, 5);
  const Volume out = labelsOnGrid(labels, grid);
  // Labels at x = 0 (7) and x = 2 (9), each 2 mm wide: x = -1 and 0 -> 7;
  // x = 1 (half-way, rounds up), 2 and 3 (the last voxel's edge) -> 9;
  // x = 4 lies beyond.
  EXPECT_EQ(std::vector<int16_t>(out.hu.begin(), out.hu.end()),
            (std::vector<int16_t>{7, 7, 9, 9, 9, 0}));
}
