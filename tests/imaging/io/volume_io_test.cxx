#include <gtest/gtest.h>

#include "imaging/io/image_2d.h"
#include "imaging/io/volume_io.h"
#include "tests/support/test_data.h"

using namespace fluoroplan;
using namespace fluoroplan::test;
namespace fs = std::filesystem;

namespace {
class ResearchFormat : public ::testing::TestWithParam<std::string> {};
} // namespace

TEST_P(ResearchFormat, RoundTripKeepsLpsGeometryAndValues) {
  Mat3 d = rotation(0, 15.0);
  d.setColumn(0, -1.0 * d.column(0)); // a flipped axis, as NIfTI's RAS storage produces
  const Volume v = indexCodedVolume(9, 8, 5, {0.7, 0.9, 2.0}, {12.5, -40.0, 300.0}, d);
  const fs::path f = freshDir("rt") / ("volume" + GetParam());
  writeVolumeFile(v, f);
  ASSERT_TRUE(isResearchVolumeFile(f));
  const Volume r = readVolumeFile(f);
  EXPECT_EQ(r.size, v.size);
  for (int a = 0; a < 3; ++a) {
    EXPECT_NEAR(r.spacingMm[a], v.spacingMm[a], 1e-5);
    EXPECT_NEAR(r.originLps[a], v.originLps[a], 1e-4);
  }
  for (int n = 0; n < 9; ++n)
    EXPECT_NEAR(r.directionLps.m[n], v.directionLps.m[n], 1e-5);
  // The same physical point holds the same value.
  const Vec3 p = v.indexToLps({4, 3, 2});
  const Vec3 ri = r.lpsToIndex(p);
  EXPECT_NEAR(ri.x, 4, 1e-3);
  EXPECT_EQ(r.hu, v.hu);
}

INSTANTIATE_TEST_SUITE_P(Formats, ResearchFormat, ::testing::Values(".nrrd", ".nii", ".nii.gz"));

TEST(VolumeIo, MissingOrCorruptFileNamesIt) {
  const fs::path dir = freshDir("bad");
  try {
    readVolumeFile(dir / "absent.nii.gz");
    FAIL();
  } catch (const VolumeFileError& e) {
    EXPECT_NE(std::string(e.what()).find("absent.nii.gz"), std::string::npos);
  }
  std::ofstream(dir / "corrupt.nrrd")
      << "NRRD0004\ntype: short\ndimension: 3\nsizes: 10 10 10\nencoding: raw\n\n";
  EXPECT_THROW(readVolumeFile(dir / "corrupt.nrrd"), VolumeFileError);
}

TEST(Png, RoundTripAndWindow) {
  Gray8Image img = windowToGray8({-1000, 40, 1000, 3000}, 2, 2, 0, 2000);
  EXPECT_EQ(img.pixels, (std::vector<uint8_t>{0, 133, 255, 255}));
  const fs::path f = freshDir("png") / "x.png";
  writePng(img, f);
  const Gray8Image back = readPng(f);
  EXPECT_EQ(back.width, 2u);
  EXPECT_EQ(back.pixels, img.pixels);
}
