#include "tests/support/test_data.h"

#include "dicom_samples/broken_set.h"
#include "imaging/dicom/study_inventory.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <numbers>
#include <stdexcept>
#include <sys/wait.h>

namespace fluoroplan::test {
namespace fs = std::filesystem;

fs::path freshDir(const std::string& name) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string tag = info ? std::string(info->test_suite_name()) + "." + info->name() : "notest";
  for (char& c : tag)
    if (c == '/') c = '_';
  const fs::path dir = fs::path(::testing::TempDir()) / "fluoroplan-tests" / tag / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

int16_t indexCodedValue(std::size_t i, std::size_t j, std::size_t k) {
  return static_cast<int16_t>(static_cast<int>((i * 7 + j * 13 + k * 101) % 3000) - 1000);
}

Volume indexCodedVolume(std::size_t ni, std::size_t nj, std::size_t nk, Vec3 spacing, Vec3 origin,
                        const Mat3& direction) {
  Volume v;
  v.size = {ni, nj, nk};
  v.spacingMm = spacing;
  v.originLps = origin;
  v.directionLps = direction;
  v.hu.resize(v.voxelCount());
  for (std::size_t k = 0; k < nk; ++k)
    for (std::size_t j = 0; j < nj; ++j)
      for (std::size_t i = 0; i < ni; ++i)
        v.hu[v.offset(i, j, k)] = indexCodedValue(i, j, k);
  return v;
}

void editDicom(const fs::path& file, const std::function<void(DcmDataset&)>& edit) {
  samples::editDicomFile(file, edit);
}

void truncateFile(const fs::path& file, std::uintmax_t bytes) {
  fs::resize_file(file, bytes);
}

std::vector<fs::path> writeSmallCt(const fs::path& folder, const std::string& seed,
                                   std::size_t slices, DicomCompression compression) {
  SeriesIdentity id;
  id.seed = seed;
  id.seriesDescription = "test " + seed;
  CtWriteOptions o;
  o.compression = compression;
  return writeCtSeries(indexCodedVolume(24, 20, slices, {0.8, 0.8, 2.5}, {-10, -8, -50}, Mat3{}),
                       folder, id, o);
}

double courseDistance(Vec3 a0, Vec3 a1, Vec3 b0, Vec3 b1) {
  return std::max({distanceToSegment(a0, b0, b1), distanceToSegment(a1, b0, b1),
                   distanceToSegment(b0, a0, a1), distanceToSegment(b1, a0, a1)});
}

Mat3 rotation(int axis, double degrees) {
  const double a = degrees * std::numbers::pi / 180, c = std::cos(a), s = std::sin(a);
  Mat3 r;
  const int u = (axis + 1) % 3, w = (axis + 2) % 3;
  r(u, u) = c;
  r(u, w) = -s;
  r(w, u) = s;
  r(w, w) = c;
  return r;
}

CommandResult runCommandLine(const std::string& commandLine) {
  std::array<char, 4096> buf{};
  CommandResult r;
  FILE* p = popen(commandLine.c_str(), "r");
  if (!p) return r;
  while (fgets(buf.data(), int(buf.size()), p))
    r.output += buf.data();
  const int status = pclose(p);
  r.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

Volume loadCtFolder(const std::filesystem::path& folder) {
  const StudyInventory inv = buildInventory(folder);
  const auto series = primaryVolumeSeries(inv);
  EXPECT_TRUE(series.has_value()) << folder << ": no CT series";
  if (!series) return {};
  auto loaded = loadVolume(inv, *series);
  EXPECT_TRUE(loaded.volume.has_value()) << folder << ": the CT did not load";
  return loaded.volume ? std::move(*loaded.volume) : Volume{};
}

} // namespace fluoroplan::test
