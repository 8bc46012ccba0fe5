#include <gtest/gtest.h>

#include <dcmtk/dcmdata/dcdeftag.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "imaging/dicom/study_inventory.h"
#include "tests/support/test_data.h"

using namespace fluoroplan;
using namespace fluoroplan::test;
namespace fs = std::filesystem;

namespace {

Volume loadOnly(const fs::path& folder) {
  StudyInventory inv = buildInventory(folder);
  EXPECT_EQ(inv.volumeSeries.size(), 1u);
  for (const auto& p : inv.problems)
    ADD_FAILURE() << p.toString();
  VolumeSeriesLoad load = loadVolume(inv, 0);
  EXPECT_TRUE(load.volume.has_value());
  return load.volume ? *load.volume : Volume{};
}

// Every voxel of `loaded` must hold the value the written volume has at the
// same LPS position: the check is physical, so it holds whatever order the
// reader chose for its axes.
void expectSamePhysicalContent(const Volume& written, const Volume& loaded) {
  ASSERT_EQ(written.voxelCount(), loaded.voxelCount());
  for (std::size_t k = 0; k < loaded.size[2]; ++k)
    for (std::size_t j = 0; j < loaded.size[1]; ++j)
      for (std::size_t i = 0; i < loaded.size[0]; ++i) {
        const Vec3 p = loaded.indexToLps({double(i), double(j), double(k)});
        const Vec3 w = written.lpsToIndex(p);
        const auto wi = std::lround(w.x), wj = std::lround(w.y), wk = std::lround(w.z);
        ASSERT_NEAR(w.x, double(wi), 1e-3);
        ASSERT_NEAR(w.y, double(wj), 1e-3);
        ASSERT_NEAR(w.z, double(wk), 1e-3);
        ASSERT_EQ(loaded.at(i, j, k), written.at(wi, wj, wk)) << i << "," << j << "," << k;
      }
}

void roundTrip(const Mat3& direction, const std::string& seed, const std::string& expectedPlane) {
  const Volume v = indexCodedVolume(12, 10, 7, {0.6, 0.9, 1.7}, {-31.5, 12.25, 104.0}, direction);
  const fs::path dir = freshDir(seed);
  SeriesIdentity id;
  id.seed = seed;
  auto files = writeCtSeries(v, dir, id);
  // File names must not matter: give them a random order.
  std::mt19937 rng(3);
  std::shuffle(files.begin(), files.end(), rng);
  for (std::size_t n = 0; n < files.size(); ++n)
    fs::rename(files[n], dir / ("IM" + std::to_string(n)));
  const Volume loaded = loadOnly(dir);
  EXPECT_EQ(slicePlaneName(loaded.directionLps), expectedPlane);
  EXPECT_NEAR(loaded.spacingMm.z, 1.7, 1e-6);
  expectSamePhysicalContent(v, loaded);
}

} // namespace

TEST(CtSeries, AxialRoundTripKeepsLpsGeometry) {
  roundTrip(Mat3{}, "axial", "axial");
  // Exact origin and direction for the axial case, hand-checked.
  const Volume v = indexCodedVolume(4, 3, 3, {0.5, 0.5, 2}, {-100, 50, -20}, Mat3{});
  const fs::path dir = freshDir("axial-exact");
  SeriesIdentity id;
  id.seed = "axial-exact";
  writeCtSeries(v, dir, id);
  const Volume loaded = loadOnly(dir);
  EXPECT_EQ(loaded.originLps, (Vec3{-100, 50, -20}));
  EXPECT_EQ(loaded.directionLps, Mat3{});
  EXPECT_EQ(loaded.indexToLps({3, 2, 2}), (Vec3{-98.5, 51, -16}));
}

TEST(CtSeries, SlicesWrittenFeetwardAreSortedHeadward) {
  // Slice axis pointing inferior: the reader sorts along +normal, so its
  // volume runs the other way, but every voxel keeps its position.
  roundTrip(Mat3::fromColumns({1, 0, 0}, {0, -1, 0}, {0, 0, -1}), "feetward", "axial");
}

TEST(CtSeries, SagittalRoundTrip) {
  roundTrip(Mat3::fromColumns({0, 1, 0}, {0, 0, -1}, {-1, 0, 0}), "sagittal", "sagittal");
}

TEST(CtSeries, CoronalRoundTrip) {
  roundTrip(Mat3::fromColumns({1, 0, 0}, {0, 0, -1}, {0, 1, 0}), "coronal", "coronal");
}

TEST(CtSeries, ObliqueRoundTrip) {
  const Mat3 r = rotation(0, 20.0);
  const Mat3 r2 = rotation(2, -12.0);
  Mat3 d;
  for (int c = 0; c < 3; ++c)
    d.setColumn(c, r2 * (r * Mat3{}.column(c)));
  roundTrip(d, "oblique", "oblique");
}

TEST(CtSeries, RescaleInterceptAndSlopeGiveHu) {
  const fs::path dir = freshDir("rescale");
  const auto files = writeSmallCt(dir, "rescale", 3);
  for (const auto& f : files)
    editDicom(f, [](DcmDataset& d) {
      d.putAndInsertString(DCM_RescaleIntercept, "-1024");
      d.putAndInsertString(DCM_RescaleSlope, "0.5");
    });
  const Volume loaded = loadOnly(dir);
  for (std::size_t k = 0; k < 3; ++k)
    for (std::size_t j = 0; j < loaded.size[1]; ++j)
      for (std::size_t i = 0; i < loaded.size[0]; ++i) {
        const double expected = std::nearbyint(indexCodedValue(i, j, k) * 0.5 - 1024);
        ASSERT_EQ(loaded.at(i, j, k), expected);
      }
}

TEST(CtSeries, UnsignedStoredValuesWithInterceptFastPath) {
  // Many scanners store unsigned values with intercept -1024: the fast path.
  const fs::path dir = freshDir("unsigned");
  const auto files = writeSmallCt(dir, "unsigned", 3);
  for (const auto& f : files)
    editDicom(f, [](DcmDataset& d) {
      d.putAndInsertUint16(DCM_PixelRepresentation, 0);
      d.putAndInsertString(DCM_RescaleIntercept, "-1024");
    });
  const Volume loaded = loadOnly(dir);
  // Stored bits of indexCodedValue read as unsigned, minus 1024, clamped.
  for (std::size_t j = 0; j < loaded.size[1]; ++j)
    for (std::size_t i = 0; i < loaded.size[0]; ++i) {
      const int stored = static_cast<uint16_t>(indexCodedValue(i, j, 1));
      ASSERT_EQ(loaded.at(i, j, 1), std::clamp(stored - 1024, -32768, 32767));
    }
}

TEST(CtSeries, ProgressIsReportedAndLoadCanBeCancelled) {
  const fs::path dir = freshDir("cancel");
  writeSmallCt(dir, "cancel", 8);
  StudyInventory inv = buildInventory(dir);
  int calls = 0;
  auto ok = loadVolume(inv, 0, 1, [&](double, std::string_view) {
    ++calls;
    return true;
  });
  EXPECT_TRUE(ok.volume);
  EXPECT_GT(calls, 0);
  EXPECT_THROW(loadVolume(inv, 0, 1, [](double, std::string_view) { return false; }), Cancelled);
  EXPECT_THROW(buildInventory(dir, {}, [](double, std::string_view) { return false; }), Cancelled);
}
