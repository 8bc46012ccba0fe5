#include <gtest/gtest.h>

#include "imaging/segmentation/spine_segmenter.h"

using namespace fluoroplan;

TEST(SpineLabels, TotalSegmentatorMappingTable) {
  EXPECT_EQ(verseFromTotalSegmentator(26), 26); // S1 -> sacrum
  EXPECT_EQ(verseFromTotalSegmentator(27), 24); // L5
  EXPECT_EQ(verseFromTotalSegmentator(31), 20); // L1
  EXPECT_EQ(verseFromTotalSegmentator(32), 19); // T12
  EXPECT_EQ(verseFromTotalSegmentator(33), 18); // T11
  EXPECT_EQ(verseFromTotalSegmentator(43), 8);  // T1
  EXPECT_EQ(verseFromTotalSegmentator(5), 0);   // not a vertebra
  EXPECT_EQ(verseLevelName(19), "T12");
  EXPECT_EQ(verseLevelName(25), "L6");
  EXPECT_EQ(verseLevelName(28), "T13");
}

TEST(SpineSegmenter, CtWithoutSpineSaysSo) {
  // A water cylinder in air: no bone, no canal.
  Volume v;
  v.size = {96, 96, 60};
  v.spacingMm = {1.5, 1.5, 2.0};
  v.hu.resize(v.voxelCount());
  for (std::size_t k = 0; k < 60; ++k)
    for (std::size_t j = 0; j < 96; ++j)
      for (std::size_t i = 0; i < 96; ++i) {
        const double x = double(i) - 48, y = double(j) - 48;
        v.hu[v.offset(i, j, k)] = static_cast<int16_t>(x * x + y * y < 40 * 40 ? 20 : -1000);
      }
  try {
    segmentSpine(v);
    FAIL() << "expected NoSpineFound";
  } catch (const NoSpineFound& e) {
    EXPECT_NE(std::string(e.what()).find("no spine found"), std::string::npos) << e.what();
  }
}

// Sagittal slices are resampled, not refused: a water block stored so
// still says that it holds no spine.
TEST(SpineSegmenter, EmptyVolumesAndSagittalOnesWithoutSpineSayNoSpine) {
  EXPECT_THROW(segmentSpine(Volume{}), NoSpineFound);
  Volume v;
  v.size = {10, 10, 10};
  v.hu.assign(1000, 0);
  v.directionLps = Mat3::fromColumns({0, 1, 0}, {0, 0, -1}, {1, 0, 0}); // sagittal slices
  try {
    segmentSpine(v);
    ADD_FAILURE() << "a water block gave a spine";
  } catch (const NoSpineFound& e) {
    EXPECT_NE(std::string(e.what()).find("no spine"), std::string::npos) << e.what();
  }
}

TEST(SpineSegmenter, RenameLevelsRewritesLabelsAndNames) {
  SpineModel m;
  m.labels.size = {3, 1, 1};
  m.labels.hu = {20, 21, 0};
  m.vertebrae.resize(2);
  m.vertebrae[0].label = 20;
  m.vertebrae[0].level = "L1";
  m.vertebrae[1].label = 21;
  m.vertebrae[1].level = "L2";
  renameLevels(m, 1, "L3"); // the user says the second one is L3
  EXPECT_EQ(m.vertebrae[0].level, "L2");
  EXPECT_EQ(m.vertebrae[1].level, "L3");
  EXPECT_EQ(m.labels.hu[0], 21);
  EXPECT_EQ(m.labels.hu[1], 22);
  EXPECT_TRUE(m.namingCertain);
  EXPECT_THROW(renameLevels(m, 5, "L3"), std::out_of_range);
  EXPECT_THROW(renameLevels(m, 0, "X9"), std::invalid_argument);
}

TEST(SpineSegmenter, RenameLevelsKeepsTheSacrumAndCountsAcrossT12L1) {
  // T12, L1, sacrum: the user says the first is L1 (13 rib pairs or a miscount).
  SpineModel m;
  m.labels.size = {4, 1, 1};
  m.labels.hu = {19, 20, 26, 0};
  m.vertebrae.resize(3);
  const int labels[] = {19, 20, 26};
  for (int i = 0; i < 3; ++i) {
    m.vertebrae[std::size_t(i)].label = labels[i];
    m.vertebrae[std::size_t(i)].level = verseLevelName(labels[i]);
  }
  renameLevels(m, 0, "L1");
  EXPECT_EQ(m.vertebrae[0].level, "L1");
  EXPECT_EQ(m.vertebrae[1].level, "L2");
  EXPECT_EQ(m.vertebrae[2].level, "sacrum");
  EXPECT_EQ(m.labels.hu[0], 20);
  EXPECT_EQ(m.labels.hu[1], 21);
  EXPECT_EQ(m.labels.hu[2], 26);
  // Counting up across the thoracolumbar junction, and into an L6.
  renameLevels(m, 1, "L1");
  EXPECT_EQ(m.vertebrae[0].level, "T12");
  renameLevels(m, 1, "L6");
  EXPECT_EQ(m.vertebrae[0].level, "L5");
  EXPECT_EQ(m.labels.hu[1], 25);
  renameLevels(m, 0, "T13"); // 13 rib pairs: T13 then L1
  EXPECT_EQ(m.vertebrae[1].level, "L1");
  EXPECT_THROW(renameLevels(m, 2, "L5"), std::invalid_argument); // the sacrum
  EXPECT_THROW(renameLevels(m, 1, "C1"), std::invalid_argument); // nothing above C1
}

TEST(Dice, KnownOverlap) {
  Volume a, b;
  a.size = b.size = {4, 1, 1};
  a.hu = {1, 1, 0, 0};
  b.hu = {0, 1, 1, 0};
  EXPECT_DOUBLE_EQ(dice(a, 1, b, 1), 0.5);
}
