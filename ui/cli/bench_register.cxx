// `fluoroplan bench register`: 2D/3D registration of the sample's AP frame
// from a start 10 mm and 5 degrees off its true pose (no search), and the
// tracking update of the next frame of the run from the pose found, each
// timed and its projected target error measured against the generator's
// truth; reported also in units of one 256x256 DRR at registration
// resolution, measured in the same run.
#include <chrono>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "imaging/dicom/study_inventory.h"
#include "imaging/projection/frame_geometry.h"
#include "imaging/projection/run_tracker.h"
#include "ui/cli/commands.h"

namespace fluoroplan::cli {

int benchRegister(const std::filesystem::path& sampleCase, bool asJson) {
  using Clock = std::chrono::steady_clock;
  const Volume ct = loadBenchCt(sampleCase / "ct_prone");
  std::ifstream in(sampleCase / "truth" / "runs_truth.json");
  if (!in) throw std::runtime_error((sampleCase / "truth").string() + ": no runs_truth.json");
  const auto truth = nlohmann::json::parse(in);
  const auto& run0 = truth["runs"][0];
  const std::string name = run0["name"];
  const DicomFile file = DicomFile::open(sampleCase / "runs" / (name + ".dcm"));
  const XRayRun run = readXRayRun(file);
  const auto& det = truth["detector"];
  IntensifierDistortion d;
  d.k = det["pincushion_k"];
  d.fieldRadiusPx = det["field_radius_px"];
  d.centreColumn = det["principal_point"][0];
  d.centreRow = det["principal_point"][1];
  auto isoOf = [&](std::size_t f) {
    const auto& v = run0["frames"][f]["isocenter"];
    return Vec3{v[0], v[1], v[2]};
  };
  auto imageOf = [&](std::size_t f) {
    const FrameSamples s = file.frame(uint32_t(f));
    std::vector<float> v(s.values.begin(), s.values.end());
    return registrationImageFromFrame(correctDistortion(v, s.columns, s.rows, d), s.columns,
                                      s.rows);
  };
  auto errorMm = [&](std::size_t f, const CArmGeometry& g, double& px) {
    const CArmGeometry t = frameGeometry(run, f, isoOf(f)).geometry;
    double worst = 0;
    for (const auto& n : run0["frames"][f]["needles"]) {
      const Vec3 tip{n["tip"][0], n["tip"][1], n["tip"][2]};
      const auto a = t.project(tip), b = g.project(tip);
      worst = std::max(worst, std::hypot(a[0] - b[0], a[1] - b[1]));
    }
    px = worst;
    return worst * t.pixelMm * t.sourceToIsocentreMm / t.sourceToDetectorMm;
  };
  const Registration2D3D reg(ct);
  // Baseline: one DRR of 256x256 from the 2 mm volume.
  const DrrRenderer drr(ct, 2.0);
  CArmGeometry g256 = frameGeometry(run, 0, isoOf(0)).geometry;
  g256.columns = g256.rows = 256;
  g256.pixelMm *= 2;
  g256.principalColumn = g256.principalRow = 127.5;
  (void)drr.render(g256);
  auto t0 = Clock::now();
  for (int i = 0; i < 10; ++i)
    (void)drr.render(g256);
  const double drrS = std::chrono::duration<double>(Clock::now() - t0).count() / 10;
  // From 10 mm and 5 degrees off.
  const RegistrationImage first = imageOf(0);
  CArmGeometry start = frameGeometry(run, 0, isoOf(0) + Vec3{6, -6, 5.3}).geometry; // 10 mm
  start.primaryDeg += 3;
  start.secondaryDeg += 4; // 5 degrees
  t0 = Clock::now();
  const RegistrationResult r = reg.run(first, start, false);
  const double regS = std::chrono::duration<double>(Clock::now() - t0).count();
  double regPx = 0;
  const double regMm = errorMm(0, r.geometry, regPx);
  // Tracking: the next frame from the pose found (refined, no search).
  const RegistrationImage second = imageOf(1);
  t0 = Clock::now();
  const RegistrationResult t = reg.run(second, r.geometry, false);
  const double trackS = std::chrono::duration<double>(Clock::now() - t0).count();
  double trackPx = 0;
  const double trackMm = errorMm(1, t.geometry, trackPx);
  if (asJson) {
    std::cout << nlohmann::json{{"drr_256_2mm_s", drrS},
                                {"register_from_10mm_5deg_s", regS},
                                {"register_in_drrs", regS / drrS},
                                {"register_error_mm_at_isocentre", regMm},
                                {"register_error_px", regPx},
                                {"register_accepted", r.accepted},
                                {"track_next_frame_s", trackS},
                                {"track_in_drrs", trackS / drrS},
                                {"track_error_mm_at_isocentre", trackMm},
                                {"track_accepted", t.accepted}}
                     .dump(2)
              << "\n";
  } else {
    std::cout << "One 256x256 DRR at 2 mm: " << drrS * 1000 << " ms (the unit below)\n"
              << "Registration from 10 mm / 5 degrees off: " << regS << " s = " << regS / drrS
              << " DRRs; target error " << regMm << " mm at the isocentre (" << regPx << " px); "
              << (r.accepted ? "accepted" : "not accepted: " + r.reason) << "\n"
              << "Tracking update of the next frame: " << trackS << " s = " << trackS / drrS
              << " DRRs; target error " << trackMm << " mm (" << trackPx << " px); "
              << (t.accepted ? "accepted" : "not accepted: " + t.reason) << "\n";
  }
  return kOk;
}

} // namespace fluoroplan::cli
