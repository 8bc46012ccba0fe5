// `fluoroplan overlay` end to end on the sample case: the oblique run
// registered to the prone CT it was taken of; the plan's targets land where
// the generator's true geometry puts them; overlay.json, the frame PNGs and
// the contact sheet are written, and each frame's picture as a DICOM
// Secondary Capture that refers to its frame and passes dciodvfy; a CT of
// another region is not forced.
#include <gtest/gtest.h>

#include <algorithm>
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
    // The plan's vertebrae name the levels for the wrong-level guard.
    ASSERT_TRUE(f["level_check"].is_object()) << f["png"];
    EXPECT_TRUE(f["level_check"]["confirmed"].get<bool>()) << f["level_check"];
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

// With the CT's segmentation, replay also registers each planned level
// alone and says per frame how sure each is, as overlay does.
TEST(ReplayCommand, WithTheSegmentationEachPlannedLevelIsRegisteredAlone) {
  const fs::path dir = freshDir("replay_per_level");
  const std::string ct = "'" + (kCase / "ct_prone").string() + "'";
  const auto seg =
      runCommandLine(fp() + " segment " + ct + " -q --out '" + (dir / "seg").string() + "' 2>&1");
  ASSERT_EQ(seg.exitCode, 0) << seg.output;
  const auto plan = runCommandLine(fp() + " plan " + ct + " --spine '" + (dir / "seg").string() +
                                   "' --joints L4-L5 --side left --needle 150mm -q --out '" +
                                   (dir / "plan").string() + "' 2>&1");
  ASSERT_EQ(plan.exitCode, 0) << plan.output;
  const auto r =
      runCommandLine(fp() + " replay " + ct + " '" + (kCase / "runs" / "run1_ap.dcm").string() +
                     "' --plan '" + (dir / "plan" / "plan.json").string() + "' --spine '" +
                     (dir / "seg").string() + "' --pincushion 0.08 --field-radius 250 2>&1");
  ASSERT_EQ(r.exitCode, 0) << r.output;
  std::size_t frames = 0, levelLines = 0;
  for (std::size_t pos = 0; (pos = r.output.find("  frame ", pos)) != std::string::npos; ++pos)
    ++frames;
  for (std::size_t pos = 0; (pos = r.output.find("L5 alone: +-", pos)) != std::string::npos; ++pos)
    ++levelLines;
  EXPECT_EQ(frames, 5u) << r.output;
  // L4-L5 left: the L3 medial branch on the L4, the L4's on the L5; the
  // L5 registers alone on every frame.
  EXPECT_EQ(levelLines, frames) << r.output;
  EXPECT_NE(r.output.find("L4 alone: "), std::string::npos) << r.output;
}

namespace {
// `overlay` of the prone CT on the runs in DIR/runs (the sample C-arm's
// calibration), its output and DIR/out/overlay.json.
struct OverlayRun {
  int exitCode = -1;
  std::string output;
  nlohmann::json json;
};
OverlayRun overlayOnTheProneCt(const fs::path& dir) {
  const auto r = runCommandLine(
      fp() + " overlay '" + (kCase / "ct_prone").string() + "' '" + (dir / "runs").string() +
      "' --pincushion 0.08 --field-radius 250 --out '" + (dir / "out").string() + "' 2>&1");
  OverlayRun out{r.exitCode, r.output, {}};
  std::ifstream in(dir / "out" / "overlay.json");
  if (in) out.json = nlohmann::json::parse(in);
  return out;
}
} // namespace

TEST(OverlayCommand, TwoRunsOfOnePatientGiveTheDepthAsOnePose) {
  // The AP and the lateral run of the patient lying still: their first
  // frames registered as one pose put the isocentre where the generator
  // had it, in depth too, and each view's depth estimate comes down.
  const fs::path dir = freshDir("overlay_two_views");
  fs::create_directories(dir / "runs");
  for (const char* run : {"run1_ap.dcm", "run3_lateral.dcm"})
    fs::copy_file(kCase / "runs" / run, dir / "runs" / run);
  const OverlayRun r = overlayOnTheProneCt(dir);
  ASSERT_EQ(r.exitCode, 0) << r.output;
  const auto& two = r.json["two_views"];
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

// The same two runs, the table recorded 40 mm further along on the
// lateral run: one pose cannot hold both, and the pair is refused with the
// move named, not forced; each frame still registers on its own.
TEST(OverlayCommand, TwoViewsWithTheTableMovedBetweenThemAreNotCombined) {
  const fs::path dir = freshDir("overlay_two_views_table_moved");
  fs::create_directories(dir / "runs");
  for (const auto& [run, longitudinal] :
       {std::pair{"run1_ap.dcm", "0"}, std::pair{"run3_lateral.dcm", "40"}}) {
    DcmFileFormat ff;
    ASSERT_TRUE(ff.loadFile((kCase / "runs" / run).c_str()).good());
    DcmDataset* ds = ff.getDataset();
    ds->putAndInsertString(DCM_TableTopVerticalPosition, "0");
    ds->putAndInsertString(DCM_TableTopLongitudinalPosition, longitudinal);
    ds->putAndInsertString(DCM_TableTopLateralPosition, "0");
    ASSERT_TRUE(ff.saveFile((dir / "runs" / run).c_str(), EXS_LittleEndianExplicit).good());
  }
  const OverlayRun r = overlayOnTheProneCt(dir);
  ASSERT_EQ(r.exitCode, 0) << r.output;
  const auto& two = r.json["two_views"];
  ASSERT_TRUE(two.is_object()) << r.output;
  EXPECT_FALSE(two["accepted"].get<bool>()) << two["reason"];
  EXPECT_NE(two["reason"].get<std::string>().find(
                "the table moved between the views (Table Top Longitudinal Position 0.0 -> 40.0 "
                "mm)"),
            std::string::npos)
      << two["reason"];
  for (const auto& v : two["views"])
    EXPECT_TRUE(v["projection_matrix"].is_null()) << v;
  for (const auto& f : r.json["frames"])
    EXPECT_TRUE(f["accepted"].get<bool>()) << f["png"] << ": " << f["reason"];
}

namespace {
// A level's frame from its truth landmarks (pedicles, spinous tip): a point
// in one phantom's coordinates to the same bone point in the other's.
struct LevelFrame {
  Vec3 origin, x, y, z;
};
LevelFrame levelFrame(const nlohmann::json& landmarks, const std::string& level) {
  auto v3 = [](const nlohmann::json& a) { return Vec3{a[0], a[1], a[2]}; };
  for (const auto& l : landmarks["levels"])
    if (l["level"] == level) {
      const Vec3 pl = v3(l["pedicle"]["left"]), pr = v3(l["pedicle"]["right"]),
                 sp = v3(l["spinous_process_tip"]);
      LevelFrame f;
      f.origin = 0.5 * (pl + pr);
      f.x = normalized(pl - pr);
      const Vec3 back = sp - f.origin;
      f.y = normalized(back - dot(back, f.x) * f.x);
      f.z = cross(f.x, f.y);
      return f;
    }
  ADD_FAILURE() << "no truth landmarks for " << level;
  return {};
}
Vec3 moveBetween(const LevelFrame& from, const LevelFrame& to, Vec3 p) {
  const Vec3 q = p - from.origin;
  return to.origin + dot(q, from.x) * to.x + dot(q, from.y) * to.y + dot(q, from.z) * to.z;
}
} // namespace

// The AP run of the prone patient over the supine CT, whose L4 tilts 11
// degrees more: no one pose fits the frame (started from three L4
// landmarks the user marks, it is refused); with --spine each planned level
// is registered alone and its paths land where the generator's geometry
// puts that level's bone, or are not drawn.
TEST(OverlayCommand, ProneRunOnTheSupineCtRegistersEachPlannedLevelAlone) {
  const fs::path dir = freshDir("overlay_per_level");
  const auto seg = runCommandLine(fp() + " segment '" + (kCase / "ct_supine").string() +
                                  "' -q --out '" + (dir / "seg").string() + "' 2>&1");
  ASSERT_EQ(seg.exitCode, 0) << seg.output;
  const auto plan = runCommandLine(fp() + " plan '" + (kCase / "ct_supine").string() +
                                   "' --spine '" + (dir / "seg").string() +
                                   "' --joints L4-L5,L5-S1 --side left --needle 150mm -q --out '" +
                                   (dir / "plan").string() + "' 2>&1");
  ASSERT_EQ(plan.exitCode, 0) << plan.output;
  std::ifstream tin(kCase / "truth" / "runs_truth.json");
  const auto truth = nlohmann::json::parse(tin);
  std::ifstream sin(kCase / "truth" / "supine_landmarks.json"),
      pin(kCase / "truth" / "prone_landmarks.json");
  const auto supine = nlohmann::json::parse(sin), prone = nlohmann::json::parse(pin);
  const DicomFile file = DicomFile::open(kCase / "runs" / "run1_ap.dcm");
  const XRayRun run = readXRayRun(file);
  const IntensifierDistortion d{0.08, 250, 255.5, 255.5};
  auto trueGeometry = [&](std::size_t f) {
    const auto& v = truth["runs"][0]["frames"][f]["isocenter"];
    return frameGeometry(run, f, Vec3{v[0], v[1], v[2]}).geometry;
  };
  // The user marks the L4's pedicles and spinous tip on the first frame.
  std::string marks;
  for (const char* what : {"left", "right", "tip"}) {
    for (const auto& l : supine["levels"]) {
      if (l["level"] != "L4") continue;
      const auto& ctPoint =
          std::string(what) == "tip" ? l["spinous_process_tip"] : l["pedicle"][what];
      const Vec3 ct{ctPoint[0], ctPoint[1], ctPoint[2]};
      const Vec3 onTable = moveBetween(levelFrame(supine, "L4"), levelFrame(prone, "L4"), ct);
      const auto px = projectToFrame(trueGeometry(0), d, onTable);
      marks += " --landmark " + std::to_string(ct.x) + "," + std::to_string(ct.y) + "," +
               std::to_string(ct.z) + "=" + std::to_string(px[0]) + "," + std::to_string(px[1]);
    }
  }
  const auto r = runCommandLine(
      fp() + " overlay '" + (kCase / "ct_supine").string() + "' '" +
      (kCase / "runs" / "run1_ap.dcm").string() + "' --plan '" +
      (dir / "plan" / "plan.json").string() + "' --spine '" + (dir / "seg").string() + "'" + marks +
      " --pincushion 0.08 --field-radius 250 --out '" + (dir / "overlay").string() + "' 2>&1");
  std::ifstream in(dir / "overlay" / "overlay.json");
  const auto j = nlohmann::json::parse(in);
  std::ifstream planIn(dir / "plan" / "plan.json");
  const auto p = nlohmann::json::parse(planIn);
  ASSERT_EQ(p["trajectories"].size(), 3u);
  const double mmPerPx = [&] {
    const CArmGeometry g = trueGeometry(0);
    return g.pixelMm * g.sourceToIsocentreMm / g.sourceToDetectorMm;
  }();
  double worstFrame = 0, worstLevel = 0;
  int levelPaths = 0, framesWhole = 0;
  for (std::size_t f = 0; f < j["frames"].size(); ++f) {
    const auto& fr = j["frames"][f];
    const CArmGeometry g = trueGeometry(f);
    EXPECT_EQ(fr["levels"].size(), 3u) << fr["png"]; // the L4, the L5 and the sacrum
    ASSERT_EQ(fr["trajectories"].size(), p["trajectories"].size()) << fr["png"];
    for (std::size_t t = 0; t < p["trajectories"].size(); ++t) {
      const auto& pt = p["trajectories"][t];
      const auto& drawn = fr["trajectories"][t];
      const std::string level = pt["bone_level"];
      const Vec3 target{pt["target"][0], pt["target"][1], pt["target"][2]};
      const auto want = projectToFrame(
          g, d, moveBetween(levelFrame(supine, level), levelFrame(prone, level), target));
      if (drawn["pose"] != "level " + level) continue;
      const auto& got = drawn["target_px"];
      const double err =
          std::hypot(got[0].get<double>() - want[0], got[1].get<double>() - want[1]) * mmPerPx;
      worstLevel = std::max(worstLevel, err);
      ++levelPaths;
      std::cout << fr["png"] << " " << pt["for"] << ": " << err << " mm by its own level\n";
    }
    // Where the frame as a whole registered: its one matrix on the same targets.
    if (!fr["accepted"].get<bool>()) continue;
    ++framesWhole;
    const auto& P = fr["projection_matrix"];
    for (const auto& pt : p["trajectories"]) {
      const std::string level = pt["bone_level"];
      const Vec3 x{pt["target"][0], pt["target"][1], pt["target"][2]};
      auto row = [&](int i) {
        return P[4 * i].get<double>() * x.x + P[4 * i + 1].get<double>() * x.y +
               P[4 * i + 2].get<double>() * x.z + P[4 * i + 3].get<double>();
      };
      const auto px = d.distort(row(0) / row(2), row(1) / row(2));
      const auto want =
          projectToFrame(g, d, moveBetween(levelFrame(supine, level), levelFrame(prone, level), x));
      worstFrame = std::max(worstFrame, std::hypot(px[0] - want[0], px[1] - want[1]) * mmPerPx);
    }
  }
  std::cout << r.output << "\nworst with the frame's one pose " << worstFrame << " mm on "
            << framesWhole << " frame(s), with each level's own " << worstLevel << " mm over "
            << levelPaths << " path(s)\n";
  // Every path drawn by its own level lies within the bound, and all three
  // levels register on every frame: the L4's only once its start is also
  // tried 25 mm nearer and farther in depth (the landmarks' fit leaves
  // depth at the DICOM guess). No path is drawn with a pose that did not
  // register.
  EXPECT_EQ(levelPaths, 3 * int(j["frames"].size())) << r.output;
  EXPECT_LT(worstLevel, 1.0) << r.output;
  for (const auto& fr : j["frames"])
    for (const auto& t : fr["trajectories"])
      if (t["pose"].is_null()) {
        EXPECT_FALSE(t["not_drawn"].get<std::string>().empty());
      } else if (t["pose"] == "frame") {
        EXPECT_TRUE(fr["accepted"].get<bool>()) << fr["png"];
      }
  // The frame's one pose, where it registered at all, misses by more.
  if (framesWhole > 0) {
    EXPECT_GT(worstFrame, worstLevel);
  }
  EXPECT_NE(r.output.find("L5 alone: +-"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("sacrum alone: +-"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("L4 alone: +-"), std::string::npos) << r.output;
  // The vertebrae outlined and named, each by its own level's pose: the
  // L4's and the L5's names sit on their bodies where the truth has them
  // on the table (within 1.5 mm: the segmentation's body centre against the
  // phantom's).
  for (std::size_t f = 0; f < j["frames"].size(); ++f) {
    std::set<std::string> named;
    for (const auto& v : j["frames"][f]["vertebrae"]) {
      EXPECT_GT(v["outline_cells"].get<int>(), 100) << v["level"];
      if (v["body_px"].is_null()) continue;
      const std::string level = v["level"];
      named.insert(level);
      for (const auto& l : prone["levels"])
        if (l["level"] == level) {
          const auto& b = l["body_centroid"];
          const auto want = projectToFrame(trueGeometry(f), d, Vec3{b[0], b[1], b[2]});
          const double off = std::hypot(v["body_px"][0].get<double>() - want[0],
                                        v["body_px"][1].get<double>() - want[1]) *
                             mmPerPx;
          std::cout << "frame " << f + 1 << " " << level << " named " << off
                    << " mm from its true body centre\n";
          EXPECT_LT(off, 1.5) << "frame " << f + 1 << " " << level;
        }
    }
    EXPECT_TRUE(named.count("L4") && named.count("L5")) << "frame " << f + 1;
  }
}

// The user marks the L4's pedicles and spinous tip in the CT but clicks
// them on the frame's L5 (counted up from the sacrum, one off): with the
// segmentation's level names, the wrong-level guard finds that the frame
// matches the CT a level over, moves the pose there, and the CT's L4 is
// drawn on the frame's L4.
TEST(OverlayCommand, LandmarksOnTheWrongLevelAreMovedToTheRightOne) {
  const fs::path dir = freshDir("overlay_wrong_level");
  const fs::path ct = kCase / "ct_prone";
  const auto seg = runCommandLine(fp() + " segment '" + ct.string() + "' -q --out '" +
                                  (dir / "seg").string() + "' 2>&1");
  ASSERT_EQ(seg.exitCode, 0) << seg.output;
  std::ifstream tin(kCase / "truth" / "runs_truth.json"),
      pin(kCase / "truth" / "prone_landmarks.json");
  const auto truth = nlohmann::json::parse(tin), prone = nlohmann::json::parse(pin);
  const DicomFile file = DicomFile::open(kCase / "runs" / "run1_ap.dcm");
  const XRayRun run = readXRayRun(file);
  const auto& iso = truth["runs"][0]["frames"][0]["isocenter"];
  const CArmGeometry g = frameGeometry(run, 0, Vec3{iso[0], iso[1], iso[2]}).geometry;
  const IntensifierDistortion d{0.08, 250, 255.5, 255.5};
  auto point = [&](const std::string& level, const std::string& what) {
    for (const auto& l : prone["levels"])
      if (l["level"] == level) {
        const auto& p = what == "tip"    ? l["spinous_process_tip"]
                        : what == "body" ? l["body_centroid"]
                                         : l["pedicle"][what];
        return Vec3{p[0], p[1], p[2]};
      }
    ADD_FAILURE() << "no " << level;
    return Vec3{};
  };
  std::string marks;
  for (const char* what : {"left", "right", "tip"}) {
    const Vec3 inCt = point("L4", what);
    const auto px = projectToFrame(g, d, point("L5", what));
    marks += " --landmark " + std::to_string(inCt.x) + "," + std::to_string(inCt.y) + "," +
             std::to_string(inCt.z) + "=" + std::to_string(px[0]) + "," + std::to_string(px[1]);
  }
  const auto r = runCommandLine(
      fp() + " overlay '" + ct.string() + "' '" + (kCase / "runs" / "run1_ap.dcm").string() +
      "' --spine '" + (dir / "seg").string() + "'" + marks +
      " --pincushion 0.08 --field-radius 250 --out '" + (dir / "overlay").string() + "' 2>&1");
  std::ifstream in(dir / "overlay" / "overlay.json");
  const auto j = nlohmann::json::parse(in);
  const auto& f0 = j["frames"][0];
  ASSERT_TRUE(f0["accepted"].get<bool>()) << r.output;
  EXPECT_NE(f0["how"].get<std::string>().find("landmark"), std::string::npos) << f0["how"];
  EXPECT_NE(f0["how"].get<std::string>().find("moved a level"), std::string::npos) << f0["how"];
  ASSERT_TRUE(f0["level_check"].is_object()) << r.output;
  EXPECT_TRUE(f0["level_check"]["confirmed"].get<bool>()) << f0["level_check"];
  const auto& inView = f0["level_check"]["levels_in_view"];
  EXPECT_NE(std::find(inView.begin(), inView.end(), "L4"), inView.end()) << inView;
  // The disc spaces counted on the frame: the L3-L4 disc shows where the
  // CT's L3 and L4 bodies put it (stored pixels; within 4 px, as the
  // segmentation's centroids are not the truth's).
  const auto& count = f0["level_check"]["frame_count"];
  ASSERT_TRUE(count["counted"].get<bool>()) << count;
  bool l34 = false;
  for (const auto& p : count["places_in_field"])
    if (p["disc"] == "L3-L4") {
      l34 = p["seen"].get<bool>();
      const auto want = projectToFrame(g, d, 0.5 * (point("L3", "body") + point("L4", "body")));
      EXPECT_LT(
          std::hypot(p["pixel"][0].get<double>() - want[0], p["pixel"][1].get<double>() - want[1]),
          4.0)
          << p;
    }
  EXPECT_TRUE(l34) << count;
  EXPECT_EQ(count["favoured_shift_levels"].get<int>(), 0) << count;
  // The CT's L4 and L5 where the frame shows them (ideal pixels, within 2).
  const auto& P = f0["projection_matrix"];
  for (const char* level : {"L4", "L5"}) {
    const Vec3 b = point(level, "body");
    const double w = P[8].get<double>() * b.x + P[9].get<double>() * b.y +
                     P[10].get<double>() * b.z + P[11].get<double>();
    const double c = (P[0].get<double>() * b.x + P[1].get<double>() * b.y +
                      P[2].get<double>() * b.z + P[3].get<double>()) /
                     w,
                 rr = (P[4].get<double>() * b.x + P[5].get<double>() * b.y +
                       P[6].get<double>() * b.z + P[7].get<double>()) /
                      w;
    const auto want = g.project(b);
    EXPECT_LT(std::hypot(c - want[0], rr - want[1]), 2.0) << level;
  }
}
