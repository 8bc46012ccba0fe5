// `fluoroplan overlay` end to end on the sample case: the oblique run
// registered to the prone CT it was taken of; the plan's targets land where
// the generator's true geometry puts them; overlay.json, the frame PNGs and
// the contact sheet are written, and each frame's picture as a DICOM
// Secondary Capture that refers to its frame and passes dciodvfy; a CT of
// another region is not forced.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmdata/dcuid.h"

#include "imaging/dicom/study_inventory.h"
#include "imaging/projection/frame_geometry.h"
#include "imaging/projection/frame_overlay.h"
#include "imaging/projection/intensifier_distortion.h"
#include "tests/support/test_data.h"

using namespace fluoroplan;
using namespace fluoroplan::test;
namespace fs = std::filesystem;

namespace {
const fs::path kCase = FLUOROPLAN_SAMPLE_CASE;
std::string fp() {
  return std::string(FLUOROPLAN_BINARY);
}
} // namespace

TEST(OverlayCommand, ObliqueRunOnTheProneCtWithItsPlan) {
  const fs::path dir = freshDir("overlay_cli");
  const auto plan = runCommandLine(fp() + " plan '" + (kCase / "ct_prone").string() +
                                   "' --joints L4-L5 --side left --needle 150mm -q --out '" +
                                   (dir / "plan").string() + "' 2>&1");
  ASSERT_EQ(plan.exitCode, 0) << plan.output;
  const auto r = runCommandLine(fp() + " overlay '" + (kCase / "ct_prone").string() + "' '" +
                                (kCase / "runs" / "run2_oblique.dcm").string() + "' --plan '" +
                                (dir / "plan" / "plan.json").string() +
                                "' --pincushion 0.08 --field-radius 250 --out '" +
                                (dir / "overlay").string() + "' 2>&1");
  ASSERT_EQ(r.exitCode, 0) << r.output;
  std::ifstream in(dir / "overlay" / "overlay.json");
  const auto j = nlohmann::json::parse(in);
  ASSERT_EQ(j["frames"].size(), 6u);
  EXPECT_TRUE(fs::exists(dir / "overlay" / "contact_sheet.png"));
  // The truth: the generator's geometry of the run, with the same distortion.
  std::ifstream tin(kCase / "truth" / "runs_truth.json");
  const auto truth = nlohmann::json::parse(tin);
  Vec3 iso;
  for (const auto& run : truth["runs"])
    if (run["name"] == "run2_oblique") {
      const auto& v = run["frames"][0]["isocenter"];
      iso = {v[0], v[1], v[2]};
    }
  const DicomFile file = DicomFile::open(kCase / "runs" / "run2_oblique.dcm");
  const CArmGeometry g = frameGeometry(readXRayRun(file), 0, iso).geometry;
  const IntensifierDistortion d{0.08, 250, 255.5, 255.5};
  std::ifstream pin(dir / "plan" / "plan.json");
  const auto p = nlohmann::json::parse(pin);
  const double mmPerPx = g.pixelMm * g.sourceToIsocentreMm / g.sourceToDetectorMm;
  for (const auto& f : j["frames"]) {
    EXPECT_TRUE(f["accepted"].get<bool>()) << f["reason"];
    EXPECT_LE(f["in_plane_error_mm"].get<double>(), 2.0);
    ASSERT_EQ(f["projection_matrix"].size(), 12u);
    ASSERT_EQ(f["trajectories"].size(), p["trajectories"].size());
    for (std::size_t t = 0; t < p["trajectories"].size(); ++t) {
      const auto& target = p["trajectories"][t]["target"];
      const auto want = projectToFrame(g, d, Vec3{target[0], target[1], target[2]});
      const auto& got = f["trajectories"][t]["target_px"];
      const double errMm =
          std::hypot(got[0].get<double>() - want[0], got[1].get<double>() - want[1]) * mmPerPx;
      EXPECT_LT(errMm, 1.5) << f["png"] << " target " << t;
    }
    // The generator's needles reach the L3 and L4 medial branches (and the
    // L5 dorsal ramus, not in this plan) in this down-the-needle run: each
    // planned path has its needle, the tip near its target.
    std::set<std::string> matched;
    for (const auto& n : f["needles"])
      if (n["trajectory"].is_string()) {
        matched.insert(n["trajectory"].get<std::string>());
        EXPECT_LT(n["tip_to_target_mm"].get<double>(), 3.0) << f["png"] << " " << n["trajectory"];
      }
    EXPECT_EQ(matched.size(), p["trajectories"].size()) << f["png"];
    // The generator placed three needles: none is found twice.
    EXPECT_LE(f["needles"].size(), 3u) << f["png"] << " " << f["needles"];
  }
  // The Secondary Captures: one per frame, in the run's study and patient,
  // each naming its frame, with the PNG's pixels.
  const DicomHeader& run = file.header();
  std::set<std::string> sopUids;
  std::string seriesUid;
  for (const auto& f : j["frames"]) {
    ASSERT_TRUE(f["secondary_capture"].is_string()) << f["png"];
    const fs::path sc = dir / "overlay" / f["secondary_capture"].get<std::string>();
    DcmFileFormat ff;
    ASSERT_TRUE(ff.loadFile(sc.string().c_str()).good()) << sc;
    DcmDataset& ds = *ff.getDataset();
    auto str = [&](DcmItem& item, const DcmTagKey& tag) {
      OFString v;
      item.findAndGetOFStringArray(tag, v);
      return std::string(v.c_str());
    };
    EXPECT_EQ(str(ds, DCM_SOPClassUID), UID_SecondaryCaptureImageStorage);
    EXPECT_EQ(str(ds, DCM_StudyInstanceUID), run.studyInstanceUid);
    EXPECT_EQ(str(ds, DCM_PatientID), run.patient.id);
    EXPECT_EQ(str(ds, DCM_PatientName), run.patient.name);
    EXPECT_EQ(str(ds, DCM_PhotometricInterpretation), "RGB");
    EXPECT_EQ(str(ds, DCM_BurnedInAnnotation), "YES");
    EXPECT_NE(str(ds, DCM_DerivationDescription).find("error estimate"), std::string::npos);
    sopUids.insert(str(ds, DCM_SOPInstanceUID));
    if (seriesUid.empty()) seriesUid = str(ds, DCM_SeriesInstanceUID);
    EXPECT_EQ(str(ds, DCM_SeriesInstanceUID), seriesUid);
    DcmItem* ref = nullptr;
    ASSERT_TRUE(ds.findAndGetSequenceItem(DCM_SourceImageSequence, ref, 0).good());
    EXPECT_EQ(str(*ref, DCM_ReferencedSOPInstanceUID), run.sopInstanceUid);
    EXPECT_EQ(str(*ref, DCM_ReferencedSOPClassUID), run.sopClassUid);
    EXPECT_EQ(str(*ref, DCM_ReferencedFrameNumber), std::to_string(f["frame"].get<int>()));
    Uint16 rows = 0, cols = 0;
    ds.findAndGetUint16(DCM_Rows, rows);
    ds.findAndGetUint16(DCM_Columns, cols);
    EXPECT_EQ(rows, 512);
    EXPECT_EQ(cols, 512);
  }
  EXPECT_EQ(sopUids.size(), j["frames"].size());
  // Each planned needle's placement, timed from the frames, and the dose it
  // cost from the same run.
  ASSERT_EQ(j["needle_placements"].size(), p["trajectories"].size()) << j["needle_placements"];
  for (const auto& pl : j["needle_placements"])
    EXPECT_LT(pl["start"].get<std::string>(), pl["end"].get<std::string>()) << pl;
  const auto dose = runCommandLine(
      fp() + " dose '" + (kCase / "runs" / "run2_oblique.dcm").string() + "' --needle-phases '" +
      (dir / "overlay" / "overlay.json").string() + "' --json 2>&1");
  ASSERT_EQ(dose.exitCode, 0) << dose.output;
  const auto dj = nlohmann::json::parse(dose.output.substr(dose.output.find('{')));
  ASSERT_FALSE(dj["procedures"].empty()) << dose.output;
  const auto& per = dj["procedures"][0]["per_needle"];
  ASSERT_EQ(per.size(), p["trajectories"].size()) << dose.output;
  // The oblique run is one irradiation, seen while both needles were placed.
  for (const auto& n : per)
    EXPECT_GT(n["totals"]["air_kerma_area_product_Gy_cm2"].get<double>(), 0) << dose.output;
  // A file that is not an overlay.json is refused, naming it.
  const auto bad =
      runCommandLine(fp() + " dose '" + (kCase / "runs" / "run2_oblique.dcm").string() +
                     "' --needle-phases '" + (dir / "plan" / "plan.json").string() + "' 2>&1");
  EXPECT_EQ(bad.exitCode, 1) << bad.output;
  EXPECT_NE(bad.output.find("plan.json: no needle_placements"), std::string::npos) << bad.output;
  ASSERT_EQ(std::system("command -v dciodvfy >/dev/null"), 0)
      << "dciodvfy (Debian dicom3tools) is needed";
  const std::string text =
      runCommandLine(
          "dciodvfy '" +
          (dir / "overlay" / j["frames"][0]["secondary_capture"].get<std::string>()).string() +
          "' 2>&1")
          .output;
  EXPECT_EQ(text.find("Error"), std::string::npos) << text;
  EXPECT_EQ(text.find("Warning"), std::string::npos) << text;
}

TEST(OverlayCommand, AFrameOfAnotherCtIsNotForced) {
  // The lateral run against the cervical CT: nothing there matches; no plan
  // is drawn and the exit code says so.
  const fs::path dir = freshDir("overlay_cli_wrong");
  const auto r = runCommandLine(fp() + " overlay '" + (kCase / "ct_cervical").string() + "' '" +
                                (kCase / "runs" / "run1_ap.dcm").string() + "' --out '" +
                                dir.string() + "' 2>&1");
  EXPECT_EQ(r.exitCode, 1) << r.output;
  std::ifstream in(dir / "overlay.json");
  const auto j = nlohmann::json::parse(in);
  bool anyAccepted = false;
  for (const auto& f : j["frames"])
    anyAccepted = anyAccepted || f["accepted"].get<bool>();
  EXPECT_FALSE(anyAccepted) << r.output;
}

TEST(ReplayCommand, StepsThroughTheFramesWithPoseAndConfidence) {
  const auto r = runCommandLine(fp() + " replay '" + (kCase / "ct_prone").string() + "' '" +
                                (kCase / "runs" / "run3_lateral.dcm").string() +
                                "' --pincushion 0.08 --field-radius 250 2>&1");
  ASSERT_EQ(r.exitCode, 0) << r.output;
  std::size_t frames = 0;
  for (std::size_t pos = 0; (pos = r.output.find("  frame ", pos)) != std::string::npos; ++pos)
    ++frames;
  EXPECT_EQ(frames, 4u) << r.output;
  EXPECT_NE(r.output.find("registered, +-"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("mm along the beam"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("[searched]"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("C-arm and image unchanged"), std::string::npos) << r.output;
  // No plan: the needles found are listed, none on a planned path.
  EXPECT_NE(r.output.find("needles: one not on a planned path (tip at column"), std::string::npos)
      << r.output;
}

TEST(ReplayCommand, LandmarksTheUserMarksStartTheFirstFrame) {
  // Three CT points and where they show on the AP run's first frame (as
  // stored, with the intensifier's distortion): no search is needed.
  std::ifstream tin(kCase / "truth" / "runs_truth.json");
  const auto truth = nlohmann::json::parse(tin);
  const IntensifierDistortion d{0.08, 250, 255.5, 255.5};
  std::string marks;
  for (const auto& n : truth["runs"][0]["frames"][0]["needles"]) {
    const auto px = d.distort(n["tip_pixel_ideal"][0], n["tip_pixel_ideal"][1]);
    marks += " --landmark " + std::to_string(n["tip"][0].get<double>()) + "," +
             std::to_string(n["tip"][1].get<double>()) + "," +
             std::to_string(n["tip"][2].get<double>()) + "=" + std::to_string(px[0]) + "," +
             std::to_string(px[1]);
  }
  const auto r = runCommandLine(fp() + " replay '" + (kCase / "ct_prone").string() + "' '" +
                                (kCase / "runs" / "run1_ap.dcm").string() +
                                "' --pincushion 0.08 --field-radius 250" + marks + " 2>&1");
  ASSERT_EQ(r.exitCode, 0) << r.output;
  EXPECT_NE(r.output.find("[started from 3 landmark(s)"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("[searched"), std::string::npos) << r.output;
  // A landmark that is not X,Y,Z=COLUMN,ROW is refused, naming it.
  const auto bad =
      runCommandLine(fp() + " replay '" + (kCase / "ct_prone").string() + "' '" +
                     (kCase / "runs" / "run1_ap.dcm").string() + "' --landmark 1,2=3,4 2>&1");
  EXPECT_NE(bad.exitCode, 0);
  EXPECT_NE(bad.output.find("--landmark '1,2=3,4'"), std::string::npos) << bad.output;
}

TEST(OverlayCommand, TwoRunsOfOnePatientGiveTheDepthAsOnePose) {
  // The AP and the lateral run of the patient lying still: their first
  // frames registered as one pose put the isocentre where the generator
  // had it, in depth too, and each view's depth estimate comes down.
  const fs::path dir = freshDir("overlay_two_views");
  fs::create_directories(dir / "runs");
  for (const char* run : {"run1_ap.dcm", "run3_lateral.dcm"})
    fs::copy_file(kCase / "runs" / run, dir / "runs" / run);
  const auto r = runCommandLine(
      fp() + " overlay '" + (kCase / "ct_prone").string() + "' '" + (dir / "runs").string() +
      "' --pincushion 0.08 --field-radius 250 --out '" + (dir / "out").string() + "' 2>&1");
  ASSERT_EQ(r.exitCode, 0) << r.output;
  std::ifstream in(dir / "out" / "overlay.json");
  const auto j = nlohmann::json::parse(in);
  const auto& two = j["two_views"];
  ASSERT_TRUE(two.is_object()) << r.output;
  EXPECT_TRUE(two["accepted"].get<bool>()) << two["reason"];
  EXPECT_NEAR(two["beam_angle_deg"].get<double>(), 90, 2);
  std::ifstream tin(kCase / "truth" / "runs_truth.json");
  const auto truth = nlohmann::json::parse(tin);
  const auto& iso = truth["runs"][0]["frames"][0]["isocenter"];
  const auto& got = two["isocentre_lps_mm"];
  const double err = std::hypot(got[0].get<double>() - iso[0].get<double>(),
                                got[1].get<double>() - iso[1].get<double>(),
                                got[2].get<double>() - iso[2].get<double>());
  EXPECT_LT(err, 1.5) << got;
  ASSERT_EQ(two["views"].size(), 2u);
  for (const auto& v : two["views"]) {
    EXPECT_LE(v["along_beam_error_mm"].get<double>(), 2.0) << v;
    EXPECT_EQ(v["projection_matrix"].size(), 12u);
  }
  EXPECT_NE(r.output.find("Two views (run1_ap.dcm frame 1, run3_lateral.dcm frame 1): one pose"),
            std::string::npos)
      << r.output;
}
