// `fluoroplan bench segment`: segmentation time and peak memory on the
// sample CT, as a ratio to loading that CT in the same run.
#include <algorithm>
#include <chrono>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sys/resource.h>

#include "imaging/dicom/study_inventory.h"
#include "imaging/segmentation/spine_segmenter.h"
#include "ui/cli/commands.h"

namespace fluoroplan::cli {

int benchSegment(const std::filesystem::path& ctFolder, int repeats, bool asJson) {
  using Clock = std::chrono::steady_clock;
  std::vector<double> load, seg;
  Volume ct;
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = Clock::now();
    const StudyInventory inv = buildInventory(ctFolder);
    const auto idx = primaryVolumeSeries(inv);
    if (!idx) throw std::runtime_error(ctFolder.string() + ": no CT series");
    VolumeSeriesLoad l = loadVolume(inv, *idx);
    if (!l.volume) throw std::runtime_error(ctFolder.string() + ": CT did not load");
    load.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
    ct = std::move(*l.volume);
  }
  std::size_t levels = 0;
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = Clock::now();
    const SpineModel m = segmentSpine(ct);
    seg.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
    levels = m.vertebrae.size();
  }
  std::sort(load.begin(), load.end());
  std::sort(seg.begin(), seg.end());
  const double tl = load[load.size() / 2], ts = seg[seg.size() / 2];
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  const double peakGb = double(ru.ru_maxrss) / (1024.0 * 1024.0); // ru_maxrss is in KiB on Linux
  if (asJson) {
    std::cout << nlohmann::json{{"ct", ctFolder.string()},
                                {"voxels", ct.voxelCount()},
                                {"load_s", tl},
                                {"segment_s", ts},
                                {"ratio_to_load", ts / tl},
                                {"peak_rss_GiB", peakGb},
                                {"levels", levels}}
                     .dump(2)
              << "\n";
  } else {
    std::cout << std::fixed << std::setprecision(2) << "Segmentation of " << ct.size[0] << "x"
              << ct.size[1] << "x" << ct.size[2] << " (median of " << repeats << "): load " << tl
              << " s, segment " << ts << " s = " << ts / tl << "x the load time; " << levels
              << " levels; peak memory " << peakGb << " GiB\n";
  }
  return kOk;
}

} // namespace fluoroplan::cli
