// `fluoroplan bench load`: CT series loading against two baselines measured in
// the same run on the same files with a warm page cache: `cat` of the bytes
// into /dev/null (the I/O floor) and ITK's GDCM ImageSeriesReader.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <sys/wait.h>
#include <unistd.h>

#include "imaging/core/parallel.h"
#include "imaging/dicom/dicom_writer.h"
#include "imaging/dicom/study_inventory.h"
#include "imaging/io/gdcm_series_reader.h"
#include "ui/cli/commands.h"

namespace fluoroplan::cli {
namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

template <class Fn> double medianSeconds(int repeats, Fn&& fn) {
  std::vector<double> t;
  for (int r = 0; r < repeats; ++r) {
    const auto start = Clock::now();
    fn();
    t.push_back(std::chrono::duration<double>(Clock::now() - start).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

// Runs `cat FILES... > /dev/null` (through xargs to respect argv limits).
void catToDevNull(const fs::path& folder) {
  const std::string cmd =
      "find '" + folder.string() + "' -type f -name '*.dcm' -print0 | xargs -0 cat > /dev/null";
  if (std::system(cmd.c_str()) != 0) throw std::runtime_error("cat baseline failed");
}

Volume benchmarkVolume(int slices) {
  // A body-like ellipse of soft tissue with bone and noise: content does not
  // matter for uncompressed I/O, but realistic values keep the test honest.
  Volume v;
  v.size = {512, 512, static_cast<std::size_t>(slices)};
  v.spacingMm = {0.75, 0.75, 1.0};
  v.originLps = {-191.625, -191.625, -200.0};
  v.hu.resize(v.voxelCount());
  std::mt19937 rng(42);
  std::normal_distribution<float> noise(0.f, 15.f);
  for (std::size_t k = 0; k < v.size[2]; ++k)
    for (std::size_t j = 0; j < 512; ++j)
      for (std::size_t i = 0; i < 512; ++i) {
        const double x = (double(i) - 256) / 220, y = (double(j) - 256) / 160;
        const double r2 = x * x + y * y;
        float hu = r2 < 1 ? 40.f : -1000.f;
        if ((x * x + (y - 0.35) * (y - 0.35)) * 40 < 1) hu = 700.f;
        v.hu[v.offset(i, j, k)] = static_cast<int16_t>(hu + noise(rng));
      }
  return v;
}

} // namespace

int benchLoad(const BenchLoadOptions& o) {
  const fs::path series = o.workDir / ("bench_series_" + std::to_string(o.slices));
  if (!fs::exists(series / "complete")) {
    std::cerr << "generating " << o.slices << " uncompressed 512x512 slices in " << series
              << " ...\n";
    fs::remove_all(series);
    SeriesIdentity id;
    id.seed = "bench-load";
    id.seriesDescription = "load benchmark";
    writeCtSeries(benchmarkVolume(o.slices), series, id);
    std::ofstream(series / "complete") << "ok\n";
  }
  std::uintmax_t bytes = 0;
  for (const auto& e : fs::directory_iterator(series))
    if (e.path().extension() == ".dcm") bytes += e.file_size();

  // Warm the page cache, and check both readers agree before timing them.
  catToDevNull(series);
  auto ours = [&] {
    StudyInventory inv = buildInventory(series);
    VolumeSeriesLoad load = loadVolume(inv, 0);
    if (!load.volume) throw std::runtime_error("benchmark series did not load");
    return std::move(*load.volume);
  };
  const Volume a = ours();
  const Volume b = readSeriesWithItkGdcm(series);
  if (a.size != b.size || a.hu != b.hu)
    throw std::runtime_error("FluoroPlan and ITK/GDCM readers disagree on the benchmark series");

  const double tCat = medianSeconds(o.repeats, [&] { catToDevNull(series); });
  const double tOurs = medianSeconds(o.repeats, [&] { (void)ours(); });
  const double tGdcm =
      medianSeconds(std::max(1, o.repeats / 2 + 1), [&] { (void)readSeriesWithItkGdcm(series); });

  nlohmann::json j = {{"slices", o.slices},
                      {"bytes", bytes},
                      {"threads", resolveThreadCount(0)},
                      {"cat_s", tCat},
                      {"fluoroplan_s", tOurs},
                      {"itk_gdcm_s", tGdcm},
                      {"ratio_to_cat", tOurs / tCat},
                      {"speedup_vs_itk_gdcm", tGdcm / tOurs},
                      {"fluoroplan_MBps", bytes / 1e6 / tOurs}};
  if (!o.jpeg2000Series.empty() && fs::exists(o.jpeg2000Series)) {
    std::size_t voxels = 0;
    const double tJ2k = medianSeconds(o.repeats, [&] {
      StudyInventory inv = buildInventory(o.jpeg2000Series);
      auto idx = primaryVolumeSeries(inv);
      if (!idx) throw std::runtime_error("no series in " + o.jpeg2000Series.string());
      VolumeSeriesLoad load = loadVolume(inv, *idx);
      if (!load.volume) throw std::runtime_error("JPEG 2000 series did not load");
      voxels = load.volume->voxelCount();
    });
    j["jpeg2000_series"] = o.jpeg2000Series.string();
    j["jpeg2000_s"] = tJ2k;
    j["jpeg2000_voxels"] = voxels;
  }
  if (o.json) {
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << std::fixed << std::setprecision(3);
    std::cout << "CT series load, " << o.slices << " slices 512x512 uncompressed, " << bytes / 1e6
              << " MB, " << resolveThreadCount(0) << " thread(s), median of " << o.repeats
              << " runs, warm page cache\n";
    std::cout << "  cat > /dev/null        " << tCat << " s\n";
    std::cout << "  fluoroplan (DCMTK)     " << tOurs << " s   ratio to cat "
              << std::setprecision(2) << tOurs / tCat << "x\n";
    std::cout << std::setprecision(3) << "  ITK GDCM series reader " << tGdcm
              << " s   fluoroplan is " << std::setprecision(2) << tGdcm / tOurs << "x faster\n";
    if (j.contains("jpeg2000_s"))
      std::cout << std::setprecision(3) << "  JPEG 2000 series " << o.jpeg2000Series.string()
                << ": " << j["jpeg2000_s"].get<double>() << " s for "
                << j["jpeg2000_voxels"].get<std::size_t>() << " voxels\n";
  }
  return kOk;
}

} // namespace fluoroplan::cli
