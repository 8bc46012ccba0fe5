// End to end: `fluoroplan segment` and `fluoroplan plan` on the sample CT,
// every promised output present and readable; the DICOM SEG read back with
// DCMTK and checked with dciodvfy; a sagittal series segmented with its SEG
// on its own slices; a CT without a spine refused clearly.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sys/wait.h>

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmdata/dcsequen.h"
#include "dcmtk/dcmdata/dcuid.h"
#include "dicom_samples/spine_phantom.h"
#include "imaging/dicom/dicom_writer.h"
#include "imaging/dicom/study_inventory.h"
#include "tests/support/test_data.h"

using namespace fluoroplan;
using namespace fluoroplan::test;
namespace fs = std::filesystem;

namespace {
const fs::path kCase = FLUOROPLAN_SAMPLE_CASE;

CommandResult run(const std::string& args) {
  return runCommandLine(std::string(FLUOROPLAN_BINARY) + " " + args + " 2>&1");
}

nlohmann::json readJson(const fs::path& f) {
  std::ifstream in(f);
  return nlohmann::json::parse(in);
}

// Every `step`-th frame of the SEG references the CT slice (in `ctDir`) at
// the frame's own position along LPS axis `axis` (the slices' normal).
void expectFramesOnTheirSlices(DcmDataset& ds, const fs::path& ctDir, int axis,
                               unsigned long minFrames, unsigned long step) {
  const StudyInventory inv = buildInventory(ctDir);
  std::map<std::string, double> slicePos; // SOP instance UID -> position along `axis`
  for (const auto& f : inv.files)
    if (f.header().imagePositionLps)
      slicePos[f.header().sopInstanceUid] = (*f.header().imagePositionLps)[axis];
  DcmSequenceOfItems* frames = nullptr;
  ASSERT_TRUE(ds.findAndGetSequence(DCM_PerFrameFunctionalGroupsSequence, frames).good());
  ASSERT_GT(frames->card(), minFrames);
  for (unsigned long f = 0; f < frames->card(); f += step) {
    DcmItem* item = frames->getItem(f);
    DcmItem *pos = nullptr, *deriv = nullptr, *src = nullptr;
    ASSERT_TRUE(item->findAndGetSequenceItem(DCM_PlanePositionSequence, pos).good());
    Float64 at = 0;
    pos->findAndGetFloat64(DCM_ImagePositionPatient, at, static_cast<unsigned long>(axis));
    ASSERT_TRUE(item->findAndGetSequenceItem(DCM_DerivationImageSequence, deriv).good());
    ASSERT_TRUE(deriv->findAndGetSequenceItem(DCM_SourceImageSequence, src).good());
    OFString ref;
    src->findAndGetOFString(DCM_ReferencedSOPInstanceUID, ref);
    ASSERT_TRUE(slicePos.count(ref.c_str())) << "frame " << f << " references an unknown slice";
    EXPECT_NEAR(slicePos[ref.c_str()], at, 1e-3) << "frame " << f;
  }
}
} // namespace

TEST(SegmentCommand, WritesLabelsMeshesSegAndSpineJson) {
  const fs::path out = freshDir("segment_e2e");
  const CommandResult r =
      run("segment '" + (kCase / "ct_supine").string() + "' --out '" + out.string() + "' -q");
  ASSERT_EQ(r.exitCode, 0) << r.output;
  for (const char* f :
       {"labels.nrrd", "labels.nii.gz", "spine.json", "segmentation.dcm", "labels_sagittal.png",
        "labels_coronal.png", "labels_axial.png", "meshes/L4.vtp", "meshes/spinal_canal.vtp"})
    EXPECT_TRUE(fs::exists(out / f)) << f;
  const auto j = readJson(out / "spine.json");
  EXPECT_EQ(j["vertebrae"].size(), 13u);
  EXPECT_GE(j["nerves"].size(), 24u);
  EXPECT_EQ(j["meshes"].size(), 14u); // 13 vertebrae and the canal
  // One summary line per level.
  EXPECT_NE(r.output.find("L4 (uncertain): body at"), std::string::npos) << r.output;

  // The SEG: one segment per vertebra plus canal and foramina, each frame
  // referencing the CT slice at its own position.
  DcmFileFormat seg;
  ASSERT_TRUE(seg.loadFile((out / "segmentation.dcm").c_str()).good());
  DcmDataset& ds = *seg.getDataset();
  OFString modality, sopClass;
  ds.findAndGetOFString(DCM_Modality, modality);
  ds.findAndGetOFString(DCM_SOPClassUID, sopClass);
  EXPECT_EQ(std::string(modality.c_str()), "SEG");
  EXPECT_EQ(std::string(sopClass.c_str()), UID_SegmentationStorage);
  DcmSequenceOfItems* segments = nullptr;
  ASSERT_TRUE(ds.findAndGetSequence(DCM_SegmentSequence, segments).good());
  EXPECT_EQ(segments->card(), 15u);
  const StudyInventory inv = buildInventory(kCase / "ct_supine");
  OFString patientId;
  ds.findAndGetOFString(DCM_PatientID, patientId);
  EXPECT_EQ(std::string(patientId.c_str()), inv.files.front().header().patient.id);
  expectFramesOnTheirSlices(ds, kCase / "ct_supine", 2, 300, 97);
}

TEST(SegmentCommand, SegPassesDciodvfy) {
  ASSERT_EQ(std::system("command -v dciodvfy >/dev/null"), 0)
      << "dciodvfy (Debian dicom3tools) is needed";
  const fs::path out = freshDir("segment_seg_dciodvfy");
  ASSERT_EQ(run("segment '" + (kCase / "ct_supine").string() + "' --out '" + out.string() + "' -q")
                .exitCode,
            0);
  const std::string text =
      runCommandLine("dciodvfy '" + (out / "segmentation.dcm").string() + "' 2>&1").output;
  // No errors; the one warning expected is our private coding scheme for
  // the foramina, which dciodvfy does not know.
  EXPECT_EQ(text.find("Error"), std::string::npos) << text;
  std::size_t warnings = 0;
  for (std::size_t at = text.find("Warning"); at != std::string::npos;
       at = text.find("Warning", at + 1))
    ++warnings;
  EXPECT_LE(warnings, 1u) << text;
  if (warnings == 1) {
    EXPECT_NE(text.find("99FLUOROPLAN"), std::string::npos) << text;
  }
}

TEST(PlanCommand, WritesPlanJsonMarkupsAndPictures) {
  const fs::path out = freshDir("plan_e2e");
  // An earlier plan's picture of a needle this plan does not have, and a
  // user's own file: the first goes, the second stays.
  std::ofstream(out / "needle_7_T10_medial_branch_left_axial.png") << "stale";
  std::ofstream(out / "notes.png") << "the user's";
  const CommandResult r =
      run("plan '" + (kCase / "ct_supine").string() +
          "' --procedure facet-rf --joints L4-L5,L5-S1 --side left --needle 150mm --out '" +
          out.string() + "' -q");
  ASSERT_EQ(r.exitCode, 0) << r.output;
  EXPECT_FALSE(fs::exists(out / "needle_7_T10_medial_branch_left_axial.png"));
  ASSERT_TRUE(fs::exists(out / "notes.png"));
  fs::remove(out / "notes.png");
  const auto j = readJson(out / "plan.json");
  ASSERT_EQ(j["trajectories"].size(), 3u);
  for (const auto& t : j["trajectories"]) {
    EXPECT_EQ(t["entry"].size(), 3u);
    EXPECT_EQ(t["target"].size(), 3u);
    EXPECT_TRUE(t["safe"].get<bool>());
    EXPECT_GT(t["entry"][0].get<double>(), 0); // left: +x in LPS
    EXPECT_FALSE(t["down_the_needle_view"]["in_words"].get<std::string>().empty());
  }
  const auto m = readJson(out / "plan.mrk.json");
  ASSERT_EQ(m["markups"].size(), 3u);
  EXPECT_EQ(m["markups"][0]["type"], "Line");
  EXPECT_EQ(m["markups"][0]["coordinateSystem"], "LPS");
  std::size_t pngs = 0;
  for (const auto& e : fs::directory_iterator(out))
    pngs += e.path().extension() == ".png";
  // Per needle two slices and two simulated C-arm images; with an X display
  // (ctest runs under xvfb-run)
  // three 3D renderings as well.
  const char* display = std::getenv("DISPLAY");
  const bool x = display && *display;
  EXPECT_EQ(pngs, x ? 15u : 12u);
  if (x) {
    EXPECT_GT(fs::file_size(out / "plan_3d_posterior.png"), 10000u);
  }
  EXPECT_NE(r.output.find("L4 medial branch, left"), std::string::npos) << r.output;
}

// `plan --spine DIR` stands on a saved segmentation: the same trajectories
// as segmenting again; a naming correction moves every target with the
// names (L4=L5 makes the L4-L5 request land where L3-L4 did); another CT's
// segmentation, a broken spine.json or an unknown name are refused clearly.
TEST(PlanCommand, PlansOnASavedSegmentationAndFollowsARelabelling) {
  const fs::path seg = freshDir("plan_spine_seg"), a = freshDir("plan_spine_a"),
                 b = freshDir("plan_spine_b"), c = freshDir("plan_spine_c"),
                 d = freshDir("plan_spine_d");
  const std::string ct = "'" + (kCase / "ct_prone").string() + "'";
  ASSERT_EQ(run("segment " + ct + " --out '" + seg.string() + "' -q").exitCode, 0);
  const std::string common = " --side left --needle 150 -q";
  const CommandResult fresh =
      run("plan " + ct + " --joints L4-L5" + common + " --out '" + a.string() + "'");
  ASSERT_EQ(fresh.exitCode, 0) << fresh.output;
  const CommandResult saved = run("plan " + ct + " --spine '" + seg.string() + "' --joints L4-L5" +
                                  common + " --out '" + b.string() + "'");
  ASSERT_EQ(saved.exitCode, 0) << saved.output;
  EXPECT_NE(saved.output.find("spine read in"), std::string::npos) << saved.output;
  const auto ja = readJson(a / "plan.json"), jb = readJson(b / "plan.json");
  ASSERT_EQ(ja["trajectories"].size(), jb["trajectories"].size());
  for (std::size_t i = 0; i < ja["trajectories"].size(); ++i)
    for (int k = 0; k < 3; ++k) {
      EXPECT_NEAR(ja["trajectories"][i]["target"][k].get<double>(),
                  jb["trajectories"][i]["target"][k].get<double>(), 1e-6);
      EXPECT_NEAR(ja["trajectories"][i]["entry"][k].get<double>(),
                  jb["trajectories"][i]["entry"][k].get<double>(), 1e-6);
    }
  // Renamed: the vertebra called L4 is L5; L4-L5 now means the old L3-L4.
  ASSERT_EQ(run("plan " + ct + " --spine '" + seg.string() + "' --joints L3-L4" + common +
                " --out '" + c.string() + "'")
                .exitCode,
            0);
  const CommandResult renamed =
      run("plan " + ct + " --spine '" + seg.string() + "' --relabel L4=L5 --joints L4-L5" + common +
          " --out '" + d.string() + "'");
  ASSERT_EQ(renamed.exitCode, 0) << renamed.output;
  const auto jc = readJson(c / "plan.json"), jd = readJson(d / "plan.json");
  ASSERT_EQ(jc["trajectories"].size(), 2u);
  ASSERT_EQ(jd["trajectories"].size(), 2u);
  // The same nerves: targets on the same courses. (Not to the micrometre:
  // rules that follow the names, such as the kidney's levels T11-L3, now
  // apply to other bones, so a neighbouring candidate on the course can win.)
  for (std::size_t i = 0; i < 2; ++i)
    for (int k = 0; k < 3; ++k)
      EXPECT_NEAR(jc["trajectories"][i]["target"][k].get<double>(),
                  jd["trajectories"][i]["target"][k].get<double>(), 1.0);
  EXPECT_EQ(jd["trajectories"][0]["for"], "L3 medial branch") << jd["trajectories"][0];
  EXPECT_EQ(jc["trajectories"][0]["for"], "L2 medial branch") << jc["trajectories"][0];

  // Refusals, each naming the file or the name.
  const CommandResult other = run("plan '" + (kCase / "ct_supine").string() + "' --spine '" +
                                  seg.string() + "' --joints L4-L5 -q --out '" + d.string() + "'");
  EXPECT_EQ(other.exitCode, 1);
  EXPECT_NE(other.output.find("labels.nrrd: the label map is not on this CT's grid"),
            std::string::npos)
      << other.output;
  const fs::path broken = freshDir("plan_spine_broken");
  fs::copy_file(seg / "labels.nrrd", broken / "labels.nrrd");
  std::ofstream(broken / "spine.json") << "{\"vertebrae\": [{\"level\": \"L4\"}]}";
  const CommandResult bad = run("plan " + ct + " --spine '" + broken.string() +
                                "' --joints L4-L5 -q --out '" + d.string() + "'");
  EXPECT_EQ(bad.exitCode, 1);
  EXPECT_NE(bad.output.find((broken / "spine.json").string()), std::string::npos) << bad.output;
  const CommandResult unknown =
      run("plan " + ct + " --spine '" + seg.string() +
          "' --relabel X4=L5 --joints L4-L5 -q --out '" + d.string() + "'");
  EXPECT_EQ(unknown.exitCode, 2);
  EXPECT_NE(unknown.output.find("no vertebra is named X4"), std::string::npos) << unknown.output;
}

// Neck joints are planned supine with the lateral approach unless the
// user says otherwise (DESIGN.md section 3).
TEST(PlanCommand, CervicalJointsArePlannedSupineByDefault) {
  const fs::path out = freshDir("plan_cervical_e2e");
  const CommandResult r =
      run("plan '" + (kCase / "ct_cervical").string() +
          "' --procedure facet-block --joints C4-C5 --side left --out '" + out.string() + "'");
  ASSERT_EQ(r.exitCode, 0) << r.output;
  const auto j = readJson(out / "plan.json");
  EXPECT_EQ(j["patient_position"], "supine");
  ASSERT_EQ(j["trajectories"].size(), 2u) << r.output;
  for (const auto& t : j["trajectories"]) {
    const std::string nerve = t["for"];
    EXPECT_TRUE(nerve == "C4 medial branch" || nerve == "C5 medial branch") << nerve;
    EXPECT_GT(t["entry"][0].get<double>(), t["target"][0].get<double>() + 20)
        << "from the left side";
  }
  EXPECT_NE(r.output.find("cervical vertebrae"), std::string::npos) << r.output;
  const CommandResult bad =
      run("plan '" + (kCase / "ct_cervical").string() +
          "' --joints C4-C5 --position sideways --out '" + out.string() + "'");
  EXPECT_EQ(bad.exitCode, 2) << bad.output;
}

TEST(PlanCommand, BadRequestsAreUsageErrors) {
  const fs::path out = freshDir("plan_bad");
  const std::string ct = "'" + (kCase / "ct_supine").string() + "'";
  EXPECT_EQ(run("plan " + ct + " --joints L4-L7 --out '" + out.string() + "' -q").exitCode, 2);
  EXPECT_EQ(
      run("plan " + ct + " --side up --joints L4-L5 --out '" + out.string() + "' -q").exitCode, 2);
  EXPECT_EQ(run("plan " + ct + " --procedure scs --out '" + out.string() + "' -q").exitCode, 2);
}

TEST(SegmentCommand, CtWithoutSpineIsRefusedClearly) {
  const fs::path root = freshDir("no_spine");
  writeSmallCt(root / "ct", "no-spine", 12);
  const CommandResult r =
      run("segment '" + (root / "ct").string() + "' --out '" + (root / "out").string() + "' -q");
  EXPECT_EQ(r.exitCode, 1) << r.output;
  EXPECT_NE(r.output.find("no spine"), std::string::npos) << r.output;
}

// A CT sent as sagittal slices (a PACS reformat): segmented, its levels
// named, and its SEG's frames each referencing the sagittal slice at the
// frame's own position (x, the slices' normal), passing dciodvfy.
TEST(SegmentCommand, SagittalDicomSeriesIsSegmentedWithASegOnItsSlices) {
  const fs::path root = freshDir("segment_sagittal");
  samples::PhantomOptions o;
  o.columns = o.rows = 256;
  o.pixelMm = o.sliceMm = 1.0;
  o.topLevel = "T9";
  o.cropTop = "L3";
  o.cropBottom = "S1";
  const Volume sagittal = samples::storedAsSagittal(samples::makeSpinePhantom(o).ct);
  SeriesIdentity id;
  id.seriesDescription = "sagittal reformat";
  writeCtSeries(sagittal, root / "ct", id);

  const fs::path out = root / "out";
  const CommandResult r =
      run("segment '" + (root / "ct").string() + "' --out '" + out.string() + "' -q");
  ASSERT_EQ(r.exitCode, 0) << r.output;
  for (const char* level : {"L3 (uncertain)", "L4 (uncertain)", "L5 (uncertain)", "sacrum"})
    EXPECT_NE(r.output.find(level), std::string::npos) << level << "\n" << r.output;

  DcmFileFormat seg;
  ASSERT_TRUE(seg.loadFile((out / "segmentation.dcm").c_str()).good());
  expectFramesOnTheirSlices(*seg.getDataset(), root / "ct", 0, 100, 37);
  const std::string text =
      runCommandLine("dciodvfy '" + (out / "segmentation.dcm").string() + "' 2>&1").output;
  EXPECT_EQ(text.find("Error"), std::string::npos) << text;
}
