// The generated sample case (build target sample_case): geometry, truth,
// runs, dose report and broken set agree with each other.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <map>

#include "dicom_samples/spine_phantom.h"
#include "imaging/dicom/study_inventory.h"
#include "imaging/io/volume_io.h"

using namespace fluoroplan;
namespace fs = std::filesystem;

namespace {
const fs::path kCase = FLUOROPLAN_SAMPLE_CASE;
nlohmann::json readJson(const fs::path& p) {
  std::ifstream in(p);
  return nlohmann::json::parse(in);
}
} // namespace

TEST(SampleCase, SupineCtMatchesItsLabelMapAndTissues) {
  ASSERT_TRUE(fs::exists(kCase / "complete")) << "build the sample_case target first";
  const StudyInventory inv = buildInventory(kCase / "ct_supine");
  ASSERT_EQ(inv.volumeSeries.size(), 1u);
  EXPECT_TRUE(inv.problems.empty());
  const VolumeSeriesLoad load = loadVolume(inv, 0);
  ASSERT_TRUE(load.volume);
  const Volume& ct = *load.volume;
  EXPECT_EQ(ct.size[0], 512u);
  EXPECT_NEAR(ct.spacingMm.x, 0.75, 1e-9);
  EXPECT_NEAR(ct.spacingMm.z, 1.0, 1e-6);
  EXPECT_GT(ct.size[2], 380u);
  const Volume labels = readVolumeFile(kCase / "truth" / "supine_labels.nrrd");
  ASSERT_EQ(labels.size, ct.size);
  EXPECT_NEAR(norm(labels.originLps - ct.originLps), 0.0, 1e-3);
  // Mean HU per label: bone, disc, canal and lung look like themselves.
  std::map<int, std::pair<double, std::size_t>> sum;
  for (std::size_t i = 0; i < ct.hu.size(); ++i) {
    auto& s = sum[labels.hu[i]];
    s.first += ct.hu[i];
    s.second++;
  }
  auto mean = [&](int l) { return sum[l].first / double(std::max<std::size_t>(sum[l].second, 1)); };
  for (int v = 13; v <= 24; ++v)
    EXPECT_GT(mean(v), 250.0) << "vertebra " << v;
  EXPECT_NEAR(mean(samples::label::kDiscBase + 23), 90.0, 40.0);
  EXPECT_LT(mean(samples::label::kSpinalCanal), 40.0);
  EXPECT_LT(mean(samples::label::kLung), -600.0);
  EXPECT_NEAR(mean(samples::label::kKidney), 32.0, 20.0);
}

TEST(SampleCase, RunsCarryGeometryDoseAndTheSamePatient) {
  const StudyInventory inv = buildInventory(kCase / "runs");
  EXPECT_TRUE(inv.problems.empty());
  ASSERT_EQ(inv.runs.size(), 4u);
  ASSERT_EQ(inv.doseReports.size(), 1u);
  ASSERT_EQ(inv.patients.size(), 1u);
  const StudyInventory ct = buildInventory(kCase / "ct_supine");
  EXPECT_EQ(ct.patients.front(), inv.patients.front());
  const auto truth = readJson(kCase / "truth" / "runs_truth.json");
  double dapFrames = 0;
  int frames = 0;
  for (const auto& r : inv.runs) {
    EXPECT_TRUE(r.run.geometryComplete());
    EXPECT_EQ(r.run.patientPosition, "HFP");
    dapFrames += r.dose.areaDoseProductDGyCm2;
    frames += int(r.run.header.numberOfFrames);
  }
  EXPECT_EQ(frames, truth["totals"]["frames"].get<int>());
  EXPECT_NEAR(dapFrames, truth["totals"]["dap_dGy_cm2"].get<double>(), 1e-3 * dapFrames);
  // The RDSR's totals equal the image attributes by construction:
  // Gy.m2 * 1e5 = dGy.cm2.
  const auto& report = inv.doseReports.front();
  EXPECT_EQ(report.irradiationEvents, 7u); // 3 legacy instances + 4 enhanced frames
  bool sawDap = false;
  for (const auto& t : report.accumulatedTotals)
    if (t.conceptCode == "113722") {
      sawDap = true;
      EXPECT_EQ(t.unit, "Gy.m2");
      EXPECT_NEAR(*t.value * 1e5, dapFrames, 1e-3 * dapFrames);
    }
  EXPECT_TRUE(sawDap);
  // Every frame's truth pose matches what its file says.
  for (const auto& rj : truth["runs"]) {
    const DicomFile f = DicomFile::open(kCase / rj["file"].get<std::string>());
    const XRayRun run = readXRayRun(f);
    ASSERT_EQ(run.frames.size(), rj["frames"].size());
    for (std::size_t k = 0; k < run.frames.size(); ++k) {
      EXPECT_NEAR(*run.frames[k].positioner.primaryAngleDeg,
                  rj["frames"][k]["primary_deg"].get<double>(), 1e-3);
      EXPECT_NEAR(*run.frames[k].positioner.secondaryAngleDeg,
                  rj["frames"][k]["secondary_deg"].get<double>(), 1e-3);
    }
  }
}

TEST(SampleCase, TruthProjectionMatricesReproduceTheNeedleTips) {
  const auto truth = readJson(kCase / "truth" / "runs_truth.json");
  for (const auto& run : truth["runs"])
    for (const auto& fr : run["frames"]) {
      const auto& P = fr["projection_matrix_ideal"];
      for (const auto& n : fr["needles"]) {
        const double X = n["tip"][0], Y = n["tip"][1], Z = n["tip"][2];
        double h[3];
        for (int r = 0; r < 3; ++r)
          h[r] = P[r][0].get<double>() * X + P[r][1].get<double>() * Y + P[r][2].get<double>() * Z +
                 P[r][3].get<double>();
        EXPECT_NEAR(h[0] / h[2], n["tip_pixel_ideal"][0].get<double>(), 1e-6);
        EXPECT_NEAR(h[1] / h[2], n["tip_pixel_ideal"][1].get<double>(), 1e-6);
      }
    }
}

TEST(SampleCase, ProneTruthDiffersFromSupineInCurvatureNotInLevels) {
  const auto supine = readJson(kCase / "truth" / "supine_landmarks.json");
  const auto prone = readJson(kCase / "truth" / "prone_landmarks.json");
  ASSERT_EQ(supine["levels"].size(), prone["levels"].size());
  EXPECT_EQ(supine["nerves"].size(), prone["nerves"].size());
  EXPECT_EQ(supine["levels"][0]["level"], "T6");
  EXPECT_EQ(supine["levels"].back()["level"], "sacrum");
}

TEST(SampleCase, BrokenSetGivesTheExpectedProblems) {
  const std::map<std::string, std::string> expected = {
      {"not_dicom", "not a DICOM file"},
      {"truncated", "CT00003"},
      {"missing_pixel_data", "without Pixel Data"},
      {"missing_slice", "gap of 4 mm"},
      {"uneven_spacing", "uneven slice spacing"},
      {"duplicate_position", "duplicate slice position"},
      {"non_parallel", "not parallel"},
      {"gantry_tilt", "gantry tilt"},
      {"zero_spacing", "zero or negative"},
      {"absurd_dimensions", "absurd image size"}};
  for (const auto& [folder, phrase] : expected) {
    const StudyInventory inv = buildInventory(kCase / "broken" / folder);
    std::string all;
    for (const auto& p : inv.problems)
      all += p.toString() + "\n";
    EXPECT_NE(all.find(phrase), std::string::npos) << folder << ":\n" << all;
  }
  const StudyInventory two = buildInventory(kCase / "broken" / "two_series_one_folder");
  EXPECT_EQ(two.volumeSeries.size(), 2u);
  EXPECT_TRUE(two.problems.empty());
}

namespace {
std::string dciodvfyErrors(const fs::path& f) {
  std::string out;
  FILE* p = popen(("dciodvfy '" + f.string() + "' 2>&1").c_str(), "r");
  if (!p) return "cannot run dciodvfy";
  char buf[4096];
  while (fgets(buf, sizeof buf, p))
    if (std::string(buf).rfind("Error", 0) == 0) out += buf;
  pclose(p);
  return out;
}
} // namespace

TEST(SampleCase, WrittenObjectsPassDciodvfy) {
  ASSERT_EQ(std::system("command -v dciodvfy >/dev/null"), 0)
      << "dciodvfy (Debian dicom3tools) is needed";
  EXPECT_EQ(dciodvfyErrors(kCase / "runs" / "dose_report.dcm"), "");
  for (const char* run : {"run1_ap.dcm", "run2_oblique.dcm", "run3_lateral.dcm"})
    EXPECT_EQ(dciodvfyErrors(kCase / "runs" / run), "") << run;
  EXPECT_EQ(dciodvfyErrors(kCase / "ct_supine" / "CT00100.dcm"), "");
  // The enhanced run: only dciodvfy's self-contradiction on three XA/XRF
  // Acquisition attributes (see tests/imaging/dicom/dciodvfy_test.cxx).
  const std::string enhanced = dciodvfyErrors(kCase / "runs" / "run4_enhanced_ap_to_oblique.dcm");
  std::size_t lines = 0;
  for (char c : enhanced)
    lines += c == '\n';
  EXPECT_EQ(lines, 3u) << enhanced;
  for (const char* attr : {"XRayTubeCurrentInmA", "ExposureTimeInms", "ExposureInmAs"})
    EXPECT_NE(enhanced.find(attr), std::string::npos) << enhanced;
}
