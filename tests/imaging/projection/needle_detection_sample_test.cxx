// Needle detection on the sample runs: every frame registered from near its
// true pose, the needles found against the DRR at that pose (with the
// generator's targets as the plan), each true tip in the field matched by
// a detected tip within 2 mm, and nothing else detected. AP frames show
// the needles as lines, the oblique run (down the needles) as dots.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "imaging/dicom/study_inventory.h"
#include "imaging/projection/frame_geometry.h"
#include "imaging/projection/intensifier_distortion.h"
#include "imaging/projection/needle_detection.h"
#include "imaging/projection/registration_2d3d.h"
#include "imaging/projection/run_tracker.h"
#include "tests/support/test_data.h"

using namespace fluoroplan;
namespace fs = std::filesystem;

namespace {
const fs::path kCase = FLUOROPLAN_SAMPLE_CASE;

const Volume& proneCt() {
  static const Volume ct = test::loadCtFolder(kCase / "ct_prone");
  return ct;
}
// The simulated intensifier's distortion, as the runs' truth states it.
IntensifierDistortion truthDistortion(const nlohmann::json& runsTruth) {
  const auto& det = runsTruth["detector"];
  return {det["pincushion_k"], det["field_radius_px"], det["principal_point"][0],
          det["principal_point"][1]};
}

const Registration2D3D& registration() {
  static const Registration2D3D reg(proneCt());
  return reg;
}
} // namespace

TEST(NeedleDetectionSample, EveryTrueTipIsFoundWithin2mm) {
  std::ifstream in(kCase / "truth" / "runs_truth.json");
  const auto j = nlohmann::json::parse(in);
  const IntensifierDistortion d = truthDistortion(j);
  double worst = 0;
  int tips = 0;
  for (const auto& run : j["runs"]) {
    const DicomFile f = DicomFile::open(kCase / "runs" / (std::string(run["name"]) + ".dcm"));
    const XRayRun xr = readXRayRun(f);
    for (std::size_t k = 0; k < run["frames"].size(); ++k) {
      const auto& fr = run["frames"][k];
      const Vec3 iso{fr["isocenter"][0], fr["isocenter"][1], fr["isocenter"][2]};
      const CArmGeometry truth = frameGeometry(xr, k, iso).geometry;
      const FrameSamples s = f.frame(uint32_t(k));
      std::vector<float> v(s.values.begin(), s.values.end());
      const RegistrationImage img =
          registrationImageFromFrame(correctDistortion(v, s.columns, s.rows, d), s.columns, s.rows);
      CArmGeometry start = truth;
      start.isocentreLps = iso + Vec3{2, -2, 2};
      const RegistrationResult r = registration().run(img, start, false);
      ASSERT_TRUE(r.accepted) << r.reason;
      const Drr drr = needleDrr(registration(), r.geometry, img.mask); // as the overlay renders it
      // The plan: the generator's needles end at their targets.
      std::vector<std::array<double, 2>> targets;
      for (const auto& n : j["needles"])
        targets.push_back(r.geometry.project({n["tip"][0], n["tip"][1], n["tip"][2]}));
      const auto needles =
          detectNeedles(img.value, img.mask, drr.lineIntegral, r.geometry, targets);
      const double mmPerPx = truth.pixelMm * truth.sourceToIsocentreMm / truth.sourceToDetectorMm;
      std::printf("%s frame %zu: %zu needles\n", std::string(run["name"]).c_str(), k + 1,
                  needles.size());
      for (const auto& n : needles)
        std::printf("   tip %.1f %.1f end %.1f %.1f length %.0f contrast %.1f\n", n.tipPx[0],
                    n.tipPx[1], n.shaftEndPx[0], n.shaftEndPx[1], n.lengthPx, n.contrast);
      std::size_t visible = 0;
      for (const auto& t : fr["needles"]) {
        const double tc = t["tip_pixel_ideal"][0], tr = t["tip_pixel_ideal"][1];
        // Visible: inside the field the detection looks at.
        const long ic = std::lround(tc), ir = std::lround(tr);
        if (ic < 0 || ir < 0 || ic >= long(s.columns) || ir >= long(s.rows) ||
            !img.mask[std::size_t(ir) * s.columns + std::size_t(ic)]) {
          std::printf("   truth tip %.1f %.1f: outside the field\n", tc, tr);
          continue;
        }
        ++visible;
        double best = 1e9;
        for (const auto& n : needles)
          best = std::min(best, std::hypot(n.tipPx[0] - tc, n.tipPx[1] - tr) * mmPerPx);
        std::printf("   truth tip %.1f %.1f: nearest %.2f mm\n", tc, tr, best);
        worst = std::max(worst, best);
        ++tips;
        EXPECT_LT(best, 2.0) << run["name"] << " frame " << k + 1;
      }
      // Nothing else taken for a needle (bone edges, the field's rim).
      EXPECT_EQ(needles.size(), visible) << run["name"] << " frame " << k + 1;
    }
  }
  std::printf("%d tips, worst %.2f mm\n", tips, worst);
}

TEST(NeedleDetectionSample, TrackingLeavesTheLastFramesNeedlesOutOfTheNextRegistration) {
  std::ifstream in(kCase / "truth" / "runs_truth.json");
  const auto j = nlohmann::json::parse(in);
  const IntensifierDistortion d = truthDistortion(j);
  std::vector<OverlayTrajectory> plan;
  for (const auto& n : j["needles"])
    plan.push_back({n["nerve"],
                    {n["hub"][0], n["hub"][1], n["hub"][2]},
                    {n["tip"][0], n["tip"][1], n["tip"][2]},
                    10,
                    ""});
  const DicomFile f = DicomFile::open(kCase / "runs" / "run4_enhanced_ap_to_oblique.dcm");
  const XRayRun run = readXRayRun(f);
  const auto& fr = j["runs"][3]["frames"][0];
  const Vec3 iso{fr["isocenter"][0], fr["isocenter"][1], fr["isocenter"][2]};
  RunTracker tracker(registration(), d, iso + Vec3{5, -5, 5}, {}, plan);
  const TrackedFrame first = tracker.next(f, run, 0);
  ASSERT_TRUE(first.registration.accepted) << first.registration.reason;
  EXPECT_EQ(first.needlePixelsMasked, 0u); // nothing known before the first frame
  ASSERT_EQ(first.needles.size(), 3u);
  for (const auto& n : first.needles)
    EXPECT_GE(n.trajectory, 0);
  // The C-arm turns 11 degrees: the next frame is refined without the
  // pixels where the needles were, and still registered.
  const TrackedFrame second = tracker.next(f, run, 1);
  EXPECT_GT(second.needlePixelsMasked, 500u);
  EXPECT_TRUE(second.registration.accepted) << second.registration.reason;
  EXPECT_EQ(second.needles.size(), 3u);
}
