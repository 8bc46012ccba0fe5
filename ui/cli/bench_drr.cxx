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
#include "imaging/dicom/study_inventory.h"
#include "imaging/io/itk_drr_baseline.h"
#include "imaging/projection/drr_renderer.h"
#include "ui/cli/commands.h"

namespace fluoroplan::cli {

namespace {
// Block average to about `mm` per voxel (the registration's grid).
Volume blockAverage(const Volume& ct, double mm) {
  std::size_t f[3];
  Volume c;
  for (int a = 0; a < 3; ++a) {
    f[a] = std::max<std::size_t>(1, std::size_t(std::lround(mm / ct.spacingMm[a])));
    c.size[a] = std::max<std::size_t>(1, ct.size[a] / f[a]);
    c.spacingMm[a] = ct.spacingMm[a] * double(f[a]);
  }
  c.directionLps = ct.directionLps;
  c.originLps =
      ct.indexToLps({(double(f[0]) - 1) / 2, (double(f[1]) - 1) / 2, (double(f[2]) - 1) / 2});
  c.hu.resize(c.voxelCount());
  for (std::size_t K = 0; K < c.size[2]; ++K)
    for (std::size_t J = 0; J < c.size[1]; ++J)
      for (std::size_t I = 0; I < c.size[0]; ++I) {
        double s = 0;
        for (std::size_t k = 0; k < f[2]; ++k)
          for (std::size_t j = 0; j < f[1]; ++j)
            for (std::size_t i = 0; i < f[0]; ++i)
              s += ct.at(I * f[0] + i, J * f[1] + j, K * f[2] + k);
        c.hu[c.offset(I, J, K)] = static_cast<int16_t>(std::lround(s / double(f[0] * f[1] * f[2])));
      }
  return c;
}

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

template <typename F> double medianSeconds(int repeats, F&& f) {
  using Clock = std::chrono::steady_clock;
  std::vector<double> t;
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = Clock::now();
    f();
    t.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}
} // namespace

int benchDrr(const std::filesystem::path& ctFolder, int repeats, bool asJson) {
  const StudyInventory inv = buildInventory(ctFolder);
  const auto idx = primaryVolumeSeries(inv);
  if (!idx) throw std::runtime_error(ctFolder.string() + ": no CT series");
  VolumeSeriesLoad l = loadVolume(inv, *idx);
  if (!l.volume) throw std::runtime_error(ctFolder.string() + ": CT did not load");
  const Volume ct = std::move(*l.volume);
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
    const double to = medianSeconds(repeats, [&] { a = ours.render(g, o); });
    const double ti =
        medianSeconds(std::max(1, repeats / 2), [&] { b = itk.render(det, threads); });
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
              << repeats << ":\n";
    for (const auto& r : rows)
      std::cout << "  " << r.name << ": ours " << r.oursS << " s (" << std::setprecision(1)
                << 1 / r.oursS << " fps), ITK " << std::setprecision(3) << r.itkS << " s ("
                << std::setprecision(1) << 1 / r.itkS << " fps) = " << r.itkS / r.oursS
                << "x faster; images correlate " << std::setprecision(6) << r.correlation << "\n";
  }
  return kOk;
}

} // namespace fluoroplan::cli
