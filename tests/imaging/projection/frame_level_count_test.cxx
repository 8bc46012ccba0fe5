// FrameLevelCount against frames drawn by hand: a column of vertebral
// bodies with disc bands at known rows, and the CT's bodies placed so that
// the pose draws them half-way between.
#include <gtest/gtest.h>

#include "imaging/projection/frame_level_count.h"
#include "imaging/projection/frame_overlay.h"

using namespace fluoroplan;

namespace {

// Primary 0, secondary 0: the beam runs along -y (d = (0,-1,0)), columns
// along +x and rows along -z (v = u x d = (0,0,-1)). With the pixel
// 1000/750 mm at the detector, 1 mm at the isocentre (the origin) is 1 px:
// a point (x, 0, z) lands at column 99.5 + x, row 249.5 - z.
CArmGeometry pose() {
  CArmGeometry g;
  g.columns = 200;
  g.rows = 500;
  g.pixelMm = 1000.0 / 750.0;
  g.principalColumn = 99.5;
  g.principalRow = 249.5;
  return g;
}

Vec3 atRow(double row) {
  return {0, 0, 249.5 - row};
}

// The CT: L3, L4, L5 with their bodies at rows 50, 150, 250, the sacrum
// below: its discs at rows 100 (L3-L4), 200 (L4-L5) and 300 (L5-S1).
CtLevelNames ct() {
  CtLevelNames n;
  n.vertebrae = {{"L3", atRow(50)}, {"L4", atRow(150)}, {"L5", atRow(250)}, {"sacrum", atRow(380)}};
  return n;
}

// Bone (10) in columns 70-129 from row 0 to `boneEnd`, soft tissue (0)
// elsewhere, disc bands (2) 11 rows wide at `discRows`.
RegistrationImage frame(std::vector<int> discRows, int boneEnd = 500) {
  RegistrationImage f{200, 500, std::vector<float>(200 * 500, 0.f),
                      std::vector<uint8_t>(200 * 500, 1)};
  for (int r = 0; r < boneEnd; ++r)
    for (int c = 70; c < 130; ++c) {
      bool disc = false;
      for (int d : discRows)
        disc = disc || std::abs(r - d) <= 5;
      f.value[std::size_t(r) * 200 + std::size_t(c)] = disc ? 2.f : 10.f;
    }
  return f;
}

} // namespace

TEST(FrameLevelCount, DiscsWhereTheCtHasThemFitThePoseAndRuleOutACaudalShift) {
  const FrameLevelCount f = countLevelsOnFrame(frame({100, 200, 300}), pose(), ct());
  ASSERT_TRUE(f.counted) << f.summary;
  // Places: one above the CT's first disc (at row 0: its windows leave the
  // frame), the CT's three discs, one below them (row 400, in the sacrum).
  ASSERT_EQ(f.places.size(), 5u);
  EXPECT_EQ(f.places[1].name, "L3-L4");
  EXPECT_EQ(f.places[3].name, "L5-S1");
  EXPECT_NEAR(f.places[3].px[1], 300, 1e-9);
  EXPECT_NEAR(f.places[4].px[1], 400, 1e-9);
  EXPECT_FALSE(f.places[0].inField);
  for (std::size_t k = 1; k <= 3; ++k) {
    EXPECT_TRUE(f.places[k].seen) << f.places[k].name;
    EXPECT_NEAR(f.places[k].contrast, 8, 1e-3) << f.places[k].name; // bone 10 - disc 2
  }
  EXPECT_TRUE(f.places[4].inField);
  EXPECT_FALSE(f.places[4].seen);
  EXPECT_EQ(f.discsSeen, 3);
  // One level caudal draws the sacrum on the frame's L5-S1 disc.
  EXPECT_EQ(f.contradictions, (std::array<int, 3>{0, 0, 1}));
  EXPECT_TRUE(f.ruledOut(1));
  EXPECT_FALSE(f.ruledOut(-1));
  EXPECT_EQ(f.favouredShift, 0);
}

TEST(FrameLevelCount, ADiscWhereTheCtHasItsSacrumFavoursTheCtOneLevelCranial) {
  // The frame's anatomy a level lower than the pose draws it: a fourth
  // disc where the CT has its sacrum. The CT's vertebrae each drawn on the
  // place of the one below (one level cranial: its L4 where L5 is drawn
  // now) put its L5-S1 disc on that fourth disc.
  const FrameLevelCount f = countLevelsOnFrame(frame({100, 200, 300, 400}), pose(), ct());
  ASSERT_TRUE(f.counted) << f.summary;
  EXPECT_TRUE(f.places[4].seen);
  EXPECT_EQ(f.contradictions, (std::array<int, 3>{0, 1, 2}));
  EXPECT_EQ(f.favouredShift, -1);
  EXPECT_NE(f.summary.find("one level cranial"), std::string::npos) << f.summary;
}

TEST(FrameLevelCount, TheEndOfTheBoneIsNotADisc) {
  // Bone ends at the CT's L5-S1 place: bright on one side only.
  const FrameLevelCount f = countLevelsOnFrame(frame({100, 200}, 300), pose(), ct());
  ASSERT_TRUE(f.counted) << f.summary;
  EXPECT_TRUE(f.places[1].seen);
  EXPECT_TRUE(f.places[2].seen);
  EXPECT_FALSE(f.places[3].seen);
  EXPECT_EQ(f.discsSeen, 2);
  EXPECT_EQ(f.favouredShift, 0);
}

TEST(FrameLevelCount, NoDiscsOrNoSpineIsNotCounted) {
  const FrameLevelCount solid = countLevelsOnFrame(frame({}), pose(), ct());
  EXPECT_FALSE(solid.counted);
  EXPECT_EQ(solid.discsSeen, 0);
  EXPECT_EQ(solid.favouredShift, 0);
  EXPECT_NE(solid.summary.find("not counted"), std::string::npos) << solid.summary;
  CtLevelNames one;
  one.vertebrae = {{"L5", atRow(250)}, {"sacrum", atRow(380)}};
  const FrameLevelCount few = countLevelsOnFrame(frame({300}), pose(), one);
  EXPECT_FALSE(few.counted);
  EXPECT_NE(few.summary.find("fewer than two"), std::string::npos) << few.summary;
}

TEST(FrameLevelCount, TicksBesideTheCountedDiscsOnTheImagesRight) {
  const FrameLevelCount f = countLevelsOnFrame(frame({100, 200, 300}), pose(), ct());
  // A flat panel: stored pixels are ideal ones. The spine runs down the
  // column 99.5 with discs 100 px apart: each tick from 35 to 60 px right
  // of it, on its disc's row.
  const std::vector<DiscTick> ticks = discTicks(f, IntensifierDistortion{0, 250, 99.5, 249.5});
  ASSERT_EQ(ticks.size(), 3u);
  const char* names[] = {"L3-L4", "L4-L5", "L5-S1"};
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(ticks[i].disc, names[i]);
    EXPECT_NEAR(ticks[i].fromPx[0], 99.5 + 35, 1e-9);
    EXPECT_NEAR(ticks[i].toPx[0], 99.5 + 60, 1e-9);
    EXPECT_NEAR(ticks[i].fromPx[1], 100.0 * double(i + 1), 1e-9);
    EXPECT_NEAR(ticks[i].toPx[1], 100.0 * double(i + 1), 1e-9);
  }
}
