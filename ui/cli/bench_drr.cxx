// `fluoroplan bench drr`: DRRs of 256 x 256 from the sample CT, ours against
// ITK's own (ResampleImageFilter + RayCastInterpolateImageFunction, as ITK's
// GenerateDRR example) on the same volume and detector, in the same run, at
// full resolution and at registration resolution (2 mm): frames per second
// and the ratio. Both use every core; the volumes are prepared outside the
// timing (ours: attenuation as float; ITK's: the same values as an
// itk::Image<float>). The two images are compared (Pearson correlation) so
// the ratio is between renderers that compute the same thing.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "imaging/core/reslice.h"
#include "imaging/io/itk_drr_baseline.h"
#include "imaging/projection/drr_renderer.h"
#include "ui/cli/commands.h"

namespace fluoroplan::cli {

namespace {
double correlation(const std::vector<float>& a, const std::vector<float>& b) {
  double ma = 0, mb = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    ma += a[i];
    mb += b[i];
  }
  ma /= double(a.size());
  mb /= double(b.size());
  double sab = 0, saa = 0, sbb = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) * (a[i] - ma);
    sbb += (b[i] - mb) * (b[i] - mb);
  }
  return saa > 0 && sbb > 0 ? sab / std::sqrt(saa * sbb) : 0;
}

template <typename F> double seconds(F&& f) {
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  f();
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

double median(std::vector<double> t) {
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}
} // namespace

int benchDrr(const std::filesystem::path& ctFolder, int repeats, bool asJson) {
  const Volume ct = loadBenchCt(ctFolder);
  const unsigned threads = std::max(1u, std::thread::hardware_concurrency());

  // An AP view through the middle of the CT: 256 x 256 pixels covering
  // about 200 mm at the isocentre.
  CArmGeometry g;
  g.isocentreLps = volumeCentreLps(ct);
  g.sourceToDetectorMm = 1000;
  g.sourceToIsocentreMm = 750;
  g.columns = g.rows = 256;
  g.pixelMm = 200.0 * (1000.0 / 750.0) / 256.0;
  g.principalColumn = g.principalRow = 127.5;
  ItkDrrDetector det{
      g.sourceLps(), g.pixelLps(0, 0), g.columnDirection(), g.rowDirection(), g.pixelMm, g.columns,
      g.rows};

  struct Row {
    const char* name;
    double voxelMm, oursS, itkS, correlation;
  };
  std::vector<Row> rows;
  for (double mm : {0.0, 2.0}) {
    const Volume v = mm > 0 ? blockAverage(ct, mm) : ct;
    const DrrRenderer ours(v);
    const ItkDrrBaseline itk(v);
    // Both sample voxel plane by voxel plane.
    DrrOptions o;
    o.threads = threads;
    // One untimed render each (first touches of the volumes).
    Drr a = ours.render(g, o);
    std::vector<float> b = itk.render(det, threads);
    // Interleaved, so that both see the same load on a shared machine:
    // each round times ours three times (it is ~10x shorter) and ITK once.
    std::vector<double> tOurs, tItk;
    for (int r = 0; r < repeats; ++r) {
      for (int k = 0; k < 3; ++k)
        tOurs.push_back(seconds([&] { a = ours.render(g, o); }));
      tItk.push_back(seconds([&] { b = itk.render(det, threads); }));
    }
    const double to = median(tOurs), ti = median(tItk);
    rows.push_back({mm > 0 ? "registration (2 mm)" : "full resolution",
                    std::min({v.spacingMm.x, v.spacingMm.y, v.spacingMm.z}), to, ti,
                    correlation(a.lineIntegral, b)});
  }
  if (asJson) {
    nlohmann::json j{{"ct", ctFolder.string()},
                     {"detector", "256 x 256, AP, ~200 mm at the isocentre"},
                     {"threads", threads},
                     {"repeats", repeats},
                     {"runs", nlohmann::json::array()}};
    for (const auto& r : rows)
      j["runs"].push_back({{"volume", r.name},
                           {"voxel_mm", r.voxelMm},
                           {"ours_s", r.oursS},
                           {"ours_fps", 1 / r.oursS},
                           {"itk_s", r.itkS},
                           {"itk_fps", 1 / r.itkS},
                           {"speedup_vs_itk", r.itkS / r.oursS},
                           {"correlation_with_itk", r.correlation}});
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << std::fixed << std::setprecision(3) << "DRR 256x256 AP from " << ct.size[0] << "x"
              << ct.size[1] << "x" << ct.size[2] << ", " << threads << " threads, median of "
              << repeats << " interleaved rounds (ours 3 renders a round, ITK 1):\n";
    for (const auto& r : rows)
      std::cout << "  " << r.name << ": ours " << r.oursS << " s (" << std::setprecision(1)
                << 1 / r.oursS << " fps), ITK " << std::setprecision(3) << r.itkS << " s ("
                << std::setprecision(1) << 1 / r.itkS << " fps) = " << r.itkS / r.oursS
                << "x faster; images correlate " << std::setprecision(6) << r.correlation << "\n";
  }
  return kOk;
}

} // namespace fluoroplan::cli
