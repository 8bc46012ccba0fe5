// `fluoroplan bench register`: 2D/3D registration of the sample's AP frame,
// and of the first frame of the run that turns from AP to oblique, each from
// a start 10 mm and 5 degrees off its true pose (no search); the tracking
// update of each run's next frame (C-arm still; C-arm turned) as the
// overlay does it (RunTracker: the previous frame's needles left out, the
// needles on the frame found), after RunTracker registered the run's first
// frame (the median of 5); and the refinement of the still AP frame from the previous pose
// when its image has changed (the registration alone). Each is timed and
// its projected target error measured against the generator's truth;
// reported also in units of one 256x256 DRR at registration resolution,
// measured in the same run.
#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "imaging/core/text_format.h"
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
  const auto& det = truth["detector"];
  IntensifierDistortion d;
  d.k = det["pincushion_k"];
  d.fieldRadiusPx = det["field_radius_px"];
  d.centreColumn = det["principal_point"][0];
  d.centreRow = det["principal_point"][1];
  // One recorded run with its truth: frames as registration sees them and
  // the projected needle-tip error of a pose (mm at the isocentre, px).
  struct Run {
    const nlohmann::json& truth;
    DicomFile file;
    XRayRun run;
  };
  auto openRun = [&](std::size_t index) {
    const auto& t = truth["runs"][index];
    DicomFile f = DicomFile::open(sampleCase / "runs" / (std::string(t["name"]) + ".dcm"));
    XRayRun r = readXRayRun(f);
    return Run{t, std::move(f), std::move(r)};
  };
  auto isoOf = [](const Run& r, std::size_t f) {
    const auto& v = r.truth["frames"][f]["isocenter"];
    return Vec3{v[0], v[1], v[2]};
  };
  auto imageOf = [&](const Run& r, std::size_t f) {
    const FrameSamples s = r.file.frame(uint32_t(f));
    std::vector<float> v(s.values.begin(), s.values.end());
    return registrationImageFromFrame(correctDistortion(v, s.columns, s.rows, d), s.columns,
                                      s.rows);
  };
  auto errorMm = [&](const Run& r, std::size_t f, const CArmGeometry& g, double& px) {
    const CArmGeometry t = frameGeometry(r.run, f, isoOf(r, f)).geometry;
    double worst = 0;
    for (const auto& n : r.truth["frames"][f]["needles"]) {
      const Vec3 tip{n["tip"][0], n["tip"][1], n["tip"][2]};
      const auto a = t.project(tip), b = g.project(tip);
      worst = std::max(worst, std::hypot(a[0] - b[0], a[1] - b[1]));
    }
    px = worst;
    return worst * t.pixelMmAtIsocentre();
  };
  const Run ap = openRun(0), lateral = openRun(2),
            turning = openRun(3); // run1_ap, run3_lateral; run4: AP turning to oblique
  const Registration2D3D reg(ct);
  // Baseline: one DRR of 256x256 from the 2 mm volume.
  const DrrRenderer drr(ct, 2.0);
  CArmGeometry g256 = frameGeometry(ap.run, 0, isoOf(ap, 0)).geometry;
  g256.columns = g256.rows = 256;
  g256.pixelMm *= 2;
  g256.principalColumn = g256.principalRow = 127.5;
  (void)drr.render(g256);
  auto t0 = Clock::now();
  for (int i = 0; i < 10; ++i)
    (void)drr.render(g256);
  const double drrS = std::chrono::duration<double>(Clock::now() - t0).count() / 10;

  struct Timed {
    RegistrationResult result;
    double seconds = 0, errorMm = 0, errorPx = 0;
  };
  auto timed = [&](const Run& r, std::size_t f, const CArmGeometry& start,
                   const RegistrationOptions& o) {
    const RegistrationImage image = imageOf(r, f);
    const auto t = Clock::now();
    Timed out{reg.run(image, start, false, o)};
    out.seconds = std::chrono::duration<double>(Clock::now() - t).count();
    out.errorMm = errorMm(r, f, out.result.geometry, out.errorPx);
    return out;
  };
  // From 10 mm and 5 degrees off.
  auto offStart = [&](const Run& r) {
    CArmGeometry g = frameGeometry(r.run, 0, isoOf(r, 0) + Vec3{6, -6, 5.3}).geometry; // 10 mm
    g.primaryDeg += 3;
    g.secondaryDeg += 4; // 5 degrees
    return g;
  };
  // Tracking as RunTracker does it: the next frame from the pose found,
  // turned by the change of the DICOM angles, with the found frame's
  // result as the prior.
  auto trackingOptions = [](const RegistrationResult& prev) {
    RegistrationOptions o;
    o.tracking = TrackingPrior{prev.correlation, prev.inPlaneErrorMm, prev.alongBeamErrorMm};
    return o;
  };
  auto predicted = [&](const Run& r, std::size_t f, const RegistrationResult& prev) {
    const CArmGeometry before = frameGeometry(r.run, f - 1, prev.geometry.isocentreLps).geometry;
    CArmGeometry g = frameGeometry(r.run, f, prev.geometry.isocentreLps).geometry;
    g.primaryDeg += prev.geometry.primaryDeg - before.primaryDeg;
    g.secondaryDeg += prev.geometry.secondaryDeg - before.secondaryDeg;
    g.inPlaneDeg = prev.geometry.inPlaneDeg;
    return g;
  };
  const Timed reg0 = timed(ap, 0, offStart(ap), {});
  const Timed refined = timed(ap, 1, predicted(ap, 1, reg0.result), trackingOptions(reg0.result));
  const Timed turn0 = timed(turning, 0, offStart(turning), {});
  // The tracking update as the overlay does it: RunTracker registers the
  // run's first frame (a search about a guess 10 mm off), then the next
  // frame is timed whole, its needles found included.
  struct Tracked {
    Timed next;
    std::string how;
  };
  auto trackNext = [&](const Run& r) {
    RunTracker tracker(reg, d, isoOf(r, 0) + Vec3{6, -6, 5.3}, RegistrationOptions{}, {});
    const TrackedFrame first = tracker.next(r.file, r.run, 0);
    if (!first.registration.accepted)
      throw std::runtime_error(r.run.header.path +
                               ": the first frame did not register: " + first.registration.reason);
    // The median of 5 updates, each from a copy of the tracker as the
    // first frame left it.
    std::vector<double> seconds;
    TrackedFrame next;
    for (int k = 0; k < 5; ++k) {
      RunTracker fresh = tracker;
      const auto t = Clock::now();
      next = fresh.next(r.file, r.run, 1);
      seconds.push_back(std::chrono::duration<double>(Clock::now() - t).count());
    }
    std::nth_element(seconds.begin(), seconds.begin() + 2, seconds.end());
    Tracked out{{next.registration}, next.how};
    out.next.seconds = seconds[2];
    out.next.errorMm = errorMm(r, 1, next.registration.geometry, out.next.errorPx);
    return out;
  };
  const Tracked still = trackNext(ap), turned = trackNext(turning);
  // Two views, AP and lateral, each registered alone, then as one: the 3D
  // target error (mean over the needle tips of both frames, in the CT).
  const Timed side = timed(lateral, 0, offStart(lateral), {});
  auto meanTre = [&](const CArmGeometry& g, const Run& r) {
    const CArmGeometry t = frameGeometry(r.run, 0, isoOf(r, 0)).geometry;
    double sum = 0;
    int n = 0;
    for (const Run* q : {&ap, &lateral})
      for (const auto& nd : q->truth["frames"][0]["needles"]) {
        sum += norm(poseDisplacement(t, g, Vec3{nd["tip"][0], nd["tip"][1], nd["tip"][2]}));
        ++n;
      }
    return sum / std::max(n, 1);
  };
  const RegistrationImage apImage = imageOf(ap, 0), sideImage = imageOf(lateral, 0);
  const auto twoStart = Clock::now();
  const TwoViewResult two =
      reg.runTwoViews(apImage, frameGeometry(ap.run, 0, {}).geometry, reg0.result, sideImage,
                      frameGeometry(lateral.run, 0, {}).geometry, side.result);
  const double twoS = std::chrono::duration<double>(Clock::now() - twoStart).count();
  const double treAp = meanTre(reg0.result.geometry, ap),
               treSide = meanTre(side.result.geometry, lateral),
               treTwo = meanTre(two.a.geometry, ap), treTwoSide = meanTre(two.b.geometry, lateral);
  double twoApPx = 0;
  const double twoApMm = errorMm(ap, 0, two.a.geometry, twoApPx);

  const auto a0 = frameGeometry(turning.run, 0, {}).geometry,
             a1 = frameGeometry(turning.run, 1, {}).geometry;
  const double turnDeg =
      std::hypot(a1.primaryDeg - a0.primaryDeg, a1.secondaryDeg - a0.secondaryDeg);

  if (asJson) {
    auto entry = [&](const Timed& t) {
      return nlohmann::json{{"s", t.seconds},
                            {"in_drrs", t.seconds / drrS},
                            {"drrs_rendered", t.result.drrsRendered},
                            {"error_mm_at_isocentre", t.errorMm},
                            {"error_px", t.errorPx},
                            {"accepted", t.result.accepted},
                            {"how", t.result.reason}};
    };
    auto trackedEntry = [&](const Tracked& t) {
      nlohmann::json e = entry(t.next);
      e["tracker"] = t.how;
      return e;
    };
    std::cout << nlohmann::json{{"drr_256_2mm_s", drrS},
                                {"register_ap_from_10mm_5deg", entry(reg0)},
                                {"track_ap_next_frame_carm_still", trackedEntry(still)},
                                {"refine_ap_next_frame_from_previous_pose", entry(refined)},
                                {"register_run4_from_10mm_5deg", entry(turn0)},
                                {"track_run4_next_frame_carm_turned", trackedEntry(turned)},
                                {"run4_turn_deg", turnDeg},
                                {"mtre_mm_ap_alone", treAp},
                                {"mtre_mm_lateral_alone", treSide},
                                {"two_views",
                                 {{"s", twoS},
                                  {"in_drrs", twoS / drrS},
                                  {"drrs_rendered", two.drrsRendered},
                                  {"accepted", two.accepted},
                                  {"how", two.reason},
                                  {"mtre_mm", treTwo},
                                  {"mtre_mm_from_lateral_pose", treTwoSide},
                                  {"ap_projected_error_mm", twoApMm},
                                  {"ap_projected_error_px", twoApPx}}}}
                     .dump(2)
              << "\n";
  } else {
    auto line = [&](const std::string& what, const Timed& t) {
      std::cout << what << ": " << t.seconds << " s = " << t.seconds / drrS << " DRRs ("
                << t.result.drrsRendered << " rendered at registration size); target error "
                << t.errorMm << " mm at the isocentre (" << t.errorPx << " px); "
                << (t.result.accepted ? "accepted" : "NOT accepted: " + t.result.reason) << "\n";
    };
    std::cout << "One 256x256 DRR at 2 mm: " << drrS * 1000 << " ms (the unit below)\n";
    line("Registration of the AP frame from 10 mm / 5 degrees off", reg0);
    auto trackedLine = [&](const std::string& what, const Tracked& t) {
      line(what + " as the overlay does it (" + t.how + ")", t.next);
    };
    trackedLine("Tracking update of the next AP frame (C-arm still)", still);
    line("Refinement of the next AP frame from the previous pose, the registration alone (as when "
         "its image changed)",
         refined);
    line("Registration of run 4's first frame from 10 mm / 5 degrees off", turn0);
    trackedLine("Tracking update of run 4's next frame (C-arm turned " + fixedDecimals(turnDeg, 1) +
                    " degrees)",
                turned);
    line("Registration of the lateral frame from 10 mm / 5 degrees off", side);
    std::cout << "3D target registration error (mean over the needle tips): AP alone " << treAp
              << " mm, lateral alone " << treSide << " mm; AP and lateral as one pose " << treTwo
              << " mm (" << (two.accepted ? "accepted" : "NOT accepted: " + two.reason) << ", "
              << twoS << " s = " << twoS / drrS << " DRRs, " << two.drrsRendered
              << " rendered); the AP view's projected error then " << twoApMm << " mm (" << twoApPx
              << " px)\n";
  }
  return kOk;
}

} // namespace fluoroplan::cli
