#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "imaging/dicom/slice_stack.h"

using namespace fluoroplan;

namespace {
DicomHeader slice(double z, int instance, Vec3 row = {1, 0, 0}, Vec3 col = {0, 1, 0},
                  Vec3 inPlaneShift = {}) {
  DicomHeader h;
  h.path = "slice" + std::to_string(instance) + ".dcm";
  h.seriesInstanceUid = "1.2.3";
  h.instanceNumber = instance;
  h.hasPixelData = true;
  h.rows = 4;
  h.columns = 5;
  const Vec3 n = cross(row, col);
  h.imagePositionLps = Vec3{-10, -20, 0} + z * n + inPlaneShift;
  h.imageOrientationLps = std::array<Vec3, 2>{row, col};
  h.pixelSpacingMm = std::array<double, 2>{0.5, 0.7};
  h.sliceThicknessMm = 3.0; // deliberately unlike the spacing
  return h;
}
std::vector<DicomHeader> stack(int n, double step) {
  std::vector<DicomHeader> s;
  for (int k = 0; k < n; ++k)
    s.push_back(slice(k * step, k + 1));
  return s;
}
bool mentions(const Problems& ps, const std::string& text) {
  return std::any_of(ps.begin(), ps.end(),
                     [&](const Problem& p) { return p.message.find(text) != std::string::npos; });
}
} // namespace

TEST(SliceStack, SortsShuffledSlicesAlongNormalAndTakesSpacingFromPositions) {
  auto s = stack(10, 2.0);
  std::mt19937 rng(7);
  std::shuffle(s.begin(), s.end(), rng);
  const SliceStack st = analyseSliceStack(s);
  ASSERT_TRUE(st.usable);
  ASSERT_EQ(st.order.size(), 10u);
  for (std::size_t k = 0; k < st.order.size(); ++k)
    EXPECT_EQ(s[st.order[k]].instanceNumber, int(k) + 1);
  EXPECT_DOUBLE_EQ(st.spacingMm[2], 2.0); // not the 3 mm Slice Thickness
  EXPECT_DOUBLE_EQ(st.spacingMm[0], 0.7); // along a row: the column spacing
  EXPECT_DOUBLE_EQ(st.spacingMm[1], 0.5);
  EXPECT_EQ(st.originLps, (Vec3{-10, -20, 0}));
  EXPECT_TRUE(st.problems.empty());
}

TEST(SliceStack, SortsByPositionNotInstanceNumber) {
  auto s = stack(5, 1.5);
  for (auto& h : s)
    h.instanceNumber = 100 - h.instanceNumber; // reversed numbering
  const SliceStack st = analyseSliceStack(s);
  ASSERT_TRUE(st.usable);
  EXPECT_EQ(st.order.front(), 0u);
  EXPECT_EQ(st.order.back(), 4u);
}

TEST(SliceStack, MissingSliceReportsGapInMillimetresAndPositions) {
  auto s = stack(10, 2.0);
  s.erase(s.begin() + 4); // slice at 8 mm
  const SliceStack st = analyseSliceStack(s);
  EXPECT_FALSE(st.usable);
  ASSERT_EQ(st.gaps.size(), 1u);
  EXPECT_DOUBLE_EQ(st.gaps[0].gapMm, 4.0);
  EXPECT_DOUBLE_EQ(st.gaps[0].fromMm, 6.0);
  EXPECT_DOUBLE_EQ(st.gaps[0].toMm, 10.0);
  EXPECT_EQ(st.gaps[0].missingSlices, 1);
  EXPECT_TRUE(mentions(st.problems, "gap of 4 mm between slices 4 and 5 (at 6 and 10 mm"));
  EXPECT_TRUE(mentions(st.problems, "about 1 slice(s) missing"));
}

TEST(SliceStack, UnevenSpacingIsReported) {
  auto s = stack(8, 2.0);
  *s[5].imagePositionLps = *s[5].imagePositionLps + Vec3{0, 0, 0.6};
  const SliceStack st = analyseSliceStack(s);
  EXPECT_FALSE(st.usable);
  EXPECT_TRUE(mentions(st.problems, "uneven slice spacing"));
}

TEST(SliceStack, SmallJitterIsTolerated) {
  auto s = stack(8, 2.0);
  *s[3].imagePositionLps = *s[3].imagePositionLps + Vec3{0, 0, 0.02};
  EXPECT_TRUE(analyseSliceStack(s).usable);
}

TEST(SliceStack, DuplicatePositionKeepsOneAndNamesTheOther) {
  auto s = stack(6, 2.0);
  DicomHeader dup = s[2];
  dup.path = "duplicate.dcm";
  dup.instanceNumber = 99;
  s.push_back(dup);
  const SliceStack st = analyseSliceStack(s);
  EXPECT_TRUE(st.usable);
  EXPECT_EQ(st.order.size(), 6u);
  ASSERT_FALSE(st.problems.empty());
  EXPECT_EQ(st.problems[0].file, "duplicate.dcm");
  EXPECT_TRUE(mentions(st.problems, "duplicate slice position"));
}

TEST(SliceStack, NonParallelSliceIsLeftOutAndNamed) {
  auto s = stack(6, 2.0);
  DicomHeader tilted = slice(5.0, 50, {1, 0, 0}, normalized(Vec3{0, 1, 0.2}));
  tilted.path = "scout.dcm";
  s.push_back(tilted);
  const SliceStack st = analyseSliceStack(s);
  EXPECT_TRUE(st.usable);
  EXPECT_EQ(st.order.size(), 6u);
  ASSERT_EQ(st.problems.size(), 1u);
  EXPECT_EQ(st.problems[0].file, "scout.dcm");
  EXPECT_TRUE(mentions(st.problems, "not parallel"));
}

TEST(SliceStack, GantryTiltIsDetectedAndRefused) {
  std::vector<DicomHeader> s;
  // Each slice shifts 0.35 mm posterior per 2 mm step: atan(0.35/2) = 9.9 degrees.
  for (int k = 0; k < 8; ++k)
    s.push_back(slice(k * 2.0, k + 1, {1, 0, 0}, {0, 1, 0}, Vec3{0, 0.35 * k, 0}));
  s[0].gantryTiltDeg = 10;
  const SliceStack st = analyseSliceStack(s);
  EXPECT_FALSE(st.usable);
  EXPECT_NEAR(st.gantryTiltDeg, 9.93, 0.01);
  EXPECT_TRUE(mentions(st.problems, "gantry tilt"));
}

TEST(SliceStack, MissingGeometryIsNamedPerFile) {
  auto s = stack(4, 1.0);
  s[1].pixelSpacingMm.reset();
  s[2].imagePositionLps.reset();
  const SliceStack st = analyseSliceStack(s);
  EXPECT_EQ(st.order.size(), 2u);
  EXPECT_TRUE(mentions(st.problems, "without Pixel Spacing"));
  EXPECT_TRUE(mentions(st.problems, "without Image Position"));
}

TEST(SliceStack, AllSlicesAtOnePositionIsNotAVolume) {
  auto s = stack(3, 0.0);
  const SliceStack st = analyseSliceStack(s);
  EXPECT_EQ(st.order.size(), 1u);
  EXPECT_TRUE(mentions(st.problems, "duplicate slice position"));
  EXPECT_TRUE(mentions(st.problems, "single slice"));
}
