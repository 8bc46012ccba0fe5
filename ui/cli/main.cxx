// fluoroplan: the command line. Thin verbs over the imaging/planning
// libraries; all clinical logic lives there.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <unistd.h>

#include "imaging/core/reslice.h"
#include "imaging/dicom/dicom_writer.h"
#include "imaging/dicom/study_inventory.h"
#include "imaging/dose/dose_store.h"
#include "imaging/io/image_2d.h"
#include "imaging/io/volume_io.h"
#include "ui/cli/commands.h"
#include "ui/cli/info_report.h"

#ifndef FLUOROPLAN_SAMPLE_CASE
#define FLUOROPLAN_SAMPLE_CASE "sample_case"
#endif
#ifndef FLUOROPLAN_SOURCE_DIR
#define FLUOROPLAN_SOURCE_DIR "."
#endif

namespace fs = std::filesystem;
using namespace fluoroplan;
using namespace fluoroplan::cli;

namespace {

// A progress line on stderr, rewritten in place on a terminal, at most a few
// lines otherwise.
ProgressCallback progressLine(bool quiet) {
  if (quiet) return {};
  const bool tty = ::isatty(STDERR_FILENO);
  auto last = std::make_shared<int>(-1);
  return [tty, last](double f, std::string_view stage) {
    const int pct = static_cast<int>(f * 100);
    const int step = tty ? pct : pct / 25 * 25;
    if (step > *last) {
      *last = step;
      std::cerr << (tty ? "\r" : "") << stage << ": " << step << "%" << (tty ? "   " : "\n");
      if (tty && pct >= 100) std::cerr << "\n";
    }
    return true;
  };
}

int runInfo(const fs::path& path, bool json, bool quiet) {
  if (isResearchVolumeFile(path)) {
    const Volume v = readVolumeFile(path);
    if (json) {
      nlohmann::json j = {{"file", path.string()},
                          {"dimensions", v.size},
                          {"spacing_mm", {v.spacingMm.x, v.spacingMm.y, v.spacingMm.z}},
                          {"origin_lps_mm", {v.originLps.x, v.originLps.y, v.originLps.z}},
                          {"orientation", orientationLabel(v.directionLps)}};
      std::cout << j.dump(2) << "\n";
    } else {
      std::cout << "Volume " << path.string() << ": " << v.size[0] << "x" << v.size[1] << "x"
                << v.size[2] << " voxels, spacing " << v.spacingMm.x << " x " << v.spacingMm.y
                << " x " << v.spacingMm.z << " mm, " << slicePlaneName(v.directionLps) << " ("
                << orientationLabel(v.directionLps) << "), origin (" << v.originLps.x << ", "
                << v.originLps.y << ", " << v.originLps.z << ") mm LPS\n";
    }
    return kOk;
  }
  const StudyInventory inv = buildInventory(path, {}, progressLine(quiet || json));
  if (json)
    std::cout << inventoryToJson(inv).dump(2) << "\n";
  else
    printInventory(inv, std::cout);
  const bool anyError = std::any_of(inv.problems.begin(), inv.problems.end(),
                                    [](const Problem& p) { return p.severity == Severity::Error; });
  if (inv.files.empty()) return kInputProblem;
  return anyError ? kInputProblem : kOk;
}

fs::path defaultSharedData() {
  if (const char* env = std::getenv("FLUOROPLAN_SHARED_DATA")) return env;
  return fs::path(FLUOROPLAN_SOURCE_DIR) / ".." / "shared" / "data";
}

// A small CT series made here when the real data is not beside the project.
fs::path makeDemoSeries(const fs::path& work) {
  const fs::path folder = work / "demo_ct";
  if (fs::exists(folder / "complete")) return folder;
  Volume v;
  v.size = {128, 128, 40};
  v.spacingMm = {1.5, 1.5, 2.0};
  v.originLps = {-95.25, -95.25, -40};
  v.hu.resize(v.voxelCount());
  for (std::size_t k = 0; k < v.size[2]; ++k)
    for (std::size_t j = 0; j < v.size[1]; ++j)
      for (std::size_t i = 0; i < v.size[0]; ++i) {
        const double x = (double(i) - 64) / 55, y = (double(j) - 64) / 40;
        const double bx = (double(i) - 64) / 12, by = (double(j) - 80) / 10;
        v.hu[v.offset(i, j, k)] =
            static_cast<int16_t>(bx * bx + by * by < 1 ? 400 : (x * x + y * y < 1 ? 40 : -1000));
      }
  SeriesIdentity id;
  id.seed = "demo";
  id.seriesDescription = "demo phantom";
  writeCtSeries(v, folder, id);
  std::ofstream(folder / "complete") << "ok\n";
  return folder;
}

// Loads a series' volume and writes its three planes as PNG for a look.
int loadAndPreview(const fs::path& folder, const fs::path& work, const std::string& tag,
                   bool quiet) {
  const StudyInventory inv = buildInventory(folder);
  const auto idx = primaryVolumeSeries(inv);
  if (!idx) return kInputProblem;
  const auto start = std::chrono::steady_clock::now();
  VolumeSeriesLoad load = loadVolume(inv, *idx, 0, progressLine(quiet));
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!load.volume) {
    for (const auto& p : load.problems)
      std::cout << p.toString() << "\n";
    return kInputProblem;
  }
  const Volume& v = *load.volume;
  const auto [mn, mx] = std::minmax_element(v.hu.begin(), v.hu.end());
  const std::size_t bone =
      std::count_if(v.hu.begin(), v.hu.end(), [](int16_t h) { return h > 250; });
  std::cout << "Loaded " << tag << " volume " << v.size[0] << "x" << v.size[1] << "x" << v.size[2]
            << " in " << s << " s: HU range " << *mn << " .. " << *mx << ", "
            << bone * v.spacingMm.x * v.spacingMm.y * v.spacingMm.z / 1000.0
            << " cm3 above 250 HU (bone)\n";
  fs::create_directories(work);
  const std::pair<ViewPlane, const char*> planes[] = {{ViewPlane::Axial, "axial"},
                                                      {ViewPlane::Coronal, "coronal"},
                                                      {ViewPlane::Sagittal, "sagittal"}};
  for (const auto& [plane, name] : planes) {
    const PlaneImage img = reslice(v, plane, volumeCentreLps(v));
    const fs::path png = work / (tag + "_" + name + ".png");
    writePng(windowToGray8(img.values, img.width, img.height, 300, 1500), png);
    std::cout << "Wrote " << png.string() << " (" << img.width << "x" << img.height << " px of "
              << img.pixelMm << " mm, window 300/1500 HU)\n";
  }
  return kOk;
}

int runDemo(const fs::path& sample, const fs::path& data, const fs::path& work, bool quiet) {
  int rc = kOk;
  if (fs::exists(sample / "complete")) {
    std::cout << "== fluoroplan info " << sample.string() << " (the sample case)\n";
    // The sample case holds a broken set on purpose; the demo shows the case itself.
    for (const char* part : {"ct_supine", "runs"}) {
      std::cout << "-- " << part << "\n";
      rc = std::max(rc, runInfo(sample / part, false, quiet));
    }
    rc = std::max(rc, loadAndPreview(sample / "ct_supine", work, "sample_ct", quiet));
    // Segment and plan the usual request: RF of the left L4-L5 and L5-S1
    // facet joints (3 needles).
    std::cout << "== fluoroplan plan " << (sample / "ct_supine").string()
              << " --procedure facet-rf --joints L4-L5,L5-S1 --side left --needle 150mm\n";
    // Plans a left facet RF with a 150 mm needle on one of the sample's CTs.
    // With `spineOut`, the CT is segmented there first and the plan reads it.
    auto planSample = [&](const char* ct, const char* joints, const fs::path& out,
                          const fs::path& spineOut = {}) {
      const StudyInventory inv = buildInventory(sample / ct);
      if (const auto idx = primaryVolumeSeries(inv)) {
        VolumeSeriesLoad l = loadVolume(inv, *idx, 0, progressLine(quiet));
        if (l.volume) {
          PlanCliOptions po;
          if (!spineOut.empty()) {
            SegmentOptions so;
            so.ctPath = sample / ct;
            so.outDir = spineOut;
            rc = std::max(rc, segmentCommand(so, *l.volume, nullptr, progressLine(quiet)));
            po.spine = spineOut;
          }
          po.ctPath = sample / ct;
          po.joints = joints;
          po.needle = "150";
          po.outDir = out;
          rc = std::max(rc, planCommand(po, *l.volume, progressLine(quiet)));
        }
      }
    };
    planSample("ct_supine", "L4-L5,L5-S1", work / "plan");
    // The procedure's dose: the recorded runs and their dose report, kept in
    // the history database, written back as an RDSR.
    fs::create_directories(work / "dose");
    DoseCliOptions dose;
    dose.paths = {sample / "runs"};
    dose.database = work / "dose" / "dose_history.sqlite";
    dose.rdsrOut = work / "dose" / "procedure_rdsr.dcm";
    std::cout << "== fluoroplan dose " << (sample / "runs").string() << " --db "
              << dose.database.string() << " --rdsr " << dose.rdsrOut.string() << "\n";
    rc = std::max(rc, doseCommand(dose));
    // The recorded oblique run, registered to the prone CT it was taken
    // of, with the plan made on that CT drawn where it belongs.
    // Segmented first: the overlay names the levels from it and checks
    // each frame's level against it (the wrong-level guard).
    std::cout << "== fluoroplan segment " << (sample / "ct_prone").string() << " --out "
              << (work / "spine_prone").string() << "\n== fluoroplan plan "
              << (sample / "ct_prone").string() << " --spine " << (work / "spine_prone").string()
              << " --joints L4-L5 --side left --needle 150mm\n";
    planSample("ct_prone", "L4-L5", work / "plan_prone", work / "spine_prone");
    OverlayCliOptions ov;
    ov.ctPath = sample / "ct_prone";
    ov.runPath = sample / "runs" / "run2_oblique.dcm";
    ov.planPath = work / "plan_prone" / "plan.json";
    ov.spineDir = work / "spine_prone";
    ov.pincushionK = 0.08; // the sample C-arm's calibration (dicom_samples/README.md)
    ov.fieldRadiusPx = 250;
    ov.outDir = work / "overlay";
    std::cout << "== fluoroplan overlay " << ov.ctPath.string() << " " << ov.runPath.string()
              << " --plan " << ov.planPath.string() << " --spine " << ov.spineDir.string()
              << " --pincushion 0.08 --field-radius 250\n";
    rc = std::max(rc, overlayCommand(ov));
  } else {
    std::cout << "Sample case not found at " << sample.string()
              << " (build target sample_case makes it).\n";
  }
  fs::path ct = data / "ct_thoracolumbar_j2k";
  if (!fs::exists(ct)) {
    std::cout << "Real CT not found at " << ct.string() << "; using a generated demo series.\n";
    ct = makeDemoSeries(work);
  }
  std::cout << "== fluoroplan info " << ct.string() << "\n";
  rc = std::max(rc, runInfo(ct, false, quiet));
  rc = std::max(rc, loadAndPreview(ct, work, "real_ct", quiet));
  return rc;
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"FluoroPlan: planning and overlay for fluoroscopy-guided spine pain procedures"};
  app.require_subcommand(1);
  bool json = false, quiet = false;
  std::string path;
  auto* info = app.add_subcommand(
      "info", "List the series, runs and dose reports in a file or folder, with every problem");
  info->add_option("path", path, "DICOM file, folder, DICOMDIR, or NIfTI/NRRD volume")->required();
  info->add_flag("--json", json, "JSON output");
  info->add_flag("-q,--quiet", quiet, "no progress line");

  std::string data = defaultSharedData().string(), work = "fluoroplan-work",
              sample = FLUOROPLAN_SAMPLE_CASE;
  auto* demo = app.add_subcommand("demo", "Run the main job on the sample case");
  demo->add_option("--data", data, "folder with the real data (../shared/data)");
  demo->add_option("--work", work, "folder for generated files");
  demo->add_option("--sample", sample, "the generated sample case");
  demo->add_flag("-q,--quiet", quiet, "no progress line");

  auto* bench =
      app.add_subcommand("bench", "Benchmarks (ratios against baselines measured in the same run)");
  bench->require_subcommand(1);
  BenchLoadOptions bl;
  bl.workDir = "fluoroplan-work";
  bl.jpeg2000Series = defaultSharedData() / "ct_thoracolumbar_j2k";
  auto* load =
      bench->add_subcommand("load", "CT series loading vs cat and ITK's GDCM series reader");
  load->add_option("--slices", bl.slices, "slices of 512x512 in the generated series");
  load->add_option("--repeats", bl.repeats, "timed runs per reader (median reported)");
  load->add_option("--work", bl.workDir, "where the series is generated");
  load->add_option("--jpeg2000", bl.jpeg2000Series, "a JPEG 2000 series to time as well");
  load->add_flag("--json", bl.json, "JSON output");

  std::string benchCt = std::string(FLUOROPLAN_SAMPLE_CASE) + "/ct_supine";
  int segRepeats = 3;
  bool segJson = false;
  auto* benchSeg =
      bench->add_subcommand("segment", "Segmentation time and peak memory vs loading the same CT");
  benchSeg->add_option("--ct", benchCt, "CT folder (default: the sample case's supine CT)");
  benchSeg->add_option("--repeats", segRepeats, "timed runs (median reported)");
  benchSeg->add_flag("--json", segJson, "JSON output");
  std::string planCt = benchCt;
  int planRepeats = 5;
  bool planJson = false;
  auto* benchPlanVerb = bench->add_subcommand(
      "plan", "Planning 4 needles after segmentation vs the segmentation time");
  benchPlanVerb->add_option("--ct", planCt, "CT folder (default: the sample case's supine CT)");
  benchPlanVerb->add_option("--repeats", planRepeats, "timed runs (median reported)");
  benchPlanVerb->add_flag("--json", planJson, "JSON output");

  std::string drrCt = benchCt;
  int drrRepeats = 5;
  bool drrJson = false;
  auto* benchDrrVerb = bench->add_subcommand(
      "drr", "DRR frames per second, ours vs ITK's ray-cast DRR on the same volume and detector");
  benchDrrVerb->add_option("--ct", drrCt, "CT folder (default: the sample case's supine CT)");
  benchDrrVerb->add_option("--repeats", drrRepeats, "timed runs (median reported)");
  benchDrrVerb->add_flag("--json", drrJson, "JSON output");

  SegmentOptions seg;
  auto* segment = app.add_subcommand(
      "segment", "Label the vertebrae and the canal of a CT; write labels and spine.json");
  segment->add_option("ct", seg.ctPath, "CT: DICOM folder/file or NIfTI/NRRD")->required();
  segment->add_option("--out", seg.outDir, "output folder");
  segment->add_option("--truth", seg.truth, "reference label map to report Dice against");
  segment->add_option("--truth-scheme", seg.truthScheme, "verse (default) or totalsegmentator");
  segment->add_option("--relabel", seg.relabel,
                      "correct the naming: OLD=NEW, e.g. L5=L4 (the one named L5 is L4)");
  segment->add_flag("-q,--quiet", quiet, "no progress line");

  PlanCliOptions planOpts;
  auto* planVerb = app.add_subcommand(
      "plan", "Segment, then suggest needle trajectories; write plan.json, markups and pictures");
  planVerb->add_option("ct", planOpts.ctPath, "CT: DICOM folder/file or NIfTI/NRRD")->required();
  planVerb->add_option("--procedure", planOpts.procedure, "facet-rf (default), facet-block or scs");
  planVerb->add_option("--joints", planOpts.joints, "facet joints, e.g. L4-L5,L5-S1");
  planVerb->add_option("--side", planOpts.side, "left (default), right or both");
  planVerb->add_option("--position", planOpts.position,
                       "prone or supine (default: supine for cervical joints, prone otherwise)");
  planVerb->add_option("--needle", planOpts.needle, "needle length in mm, e.g. 100mm or 150");
  planVerb->add_option(
      "--gauge", planOpts.gauge,
      "needle gauge (default: 18 for facet procedures, 14 for an SCS Tuohy needle)");
  planVerb->add_option("--active-tip", planOpts.activeTipMm, "RF active tip in mm (default 10)");
  planVerb->add_option("--entry", planOpts.entry, "SCS interlaminar entry, e.g. T12-L1");
  planVerb->add_option("--tip", planOpts.tip, "SCS lead-tip level, e.g. T8");
  planVerb->add_option("--spine", planOpts.spine,
                       "plan on this `fluoroplan segment` output folder instead of segmenting");
  planVerb->add_option("--relabel", planOpts.relabel,
                       "correct the naming: OLD=NEW, e.g. L5=L4 (the one named L5 is L4)");
  planVerb->add_option("--out", planOpts.outDir, "output folder");
  planVerb->add_flag("-q,--quiet", quiet, "no progress line");

  std::string benchRegCase = FLUOROPLAN_SAMPLE_CASE;
  bool benchRegJson = false;
  auto* benchRegVerb = bench->add_subcommand(
      "register", "2D/3D registration from 10 mm / 5 degrees off and a tracking update, timed");
  benchRegVerb->add_option("--case", benchRegCase, "the generated sample case");
  benchRegVerb->add_flag("--json", benchRegJson, "JSON output");
  std::string benchDoseWork = "fluoroplan-work";
  int benchDoseEvents = 20000, benchDoseBatch = 100;
  bool benchDoseJson = false;
  auto* benchDoseVerb = bench->add_subcommand(
      "dose", "Dose events ingested per second, crash-safe, group commits vs a commit per event");
  benchDoseVerb->add_option("--work", benchDoseWork, "folder for the temporary database");
  benchDoseVerb->add_option("--events", benchDoseEvents, "events to ingest (default 20000)");
  benchDoseVerb->add_option("--batch", benchDoseBatch, "events per group commit (default 100)");
  benchDoseVerb->add_flag("--json", benchDoseJson, "JSON output");

  OverlayCliOptions overlayOpts;
  auto* overlayVerb = app.add_subcommand(
      "overlay", "Register each C-arm frame to the CT and draw the plan on it, with how sure");
  overlayVerb->add_option("ct", overlayOpts.ctPath, "CT: DICOM folder or NIfTI/NRRD")->required();
  overlayVerb->add_option("run", overlayOpts.runPath, "C-arm run: a file or a folder of runs")
      ->required();
  overlayVerb->add_option("--plan", overlayOpts.planPath, "plan.json from `fluoroplan plan`");
  overlayVerb->add_option("--pincushion", overlayOpts.pincushionK,
                          "image intensifier distortion k from the C-arm's calibration (0: none)");
  overlayVerb->add_option("--field-radius", overlayOpts.fieldRadiusPx,
                          "the intensifier's field radius in pixels (with --pincushion)");
  overlayVerb->add_option("--out", overlayOpts.outDir, "output folder");
  overlayVerb->add_option("--spine", overlayOpts.spineDir,
                          "segmentation of the CT (segment's output folder): register each planned "
                          "level alone (a prone patient against a supine CT)");
  overlayVerb->add_option("--landmark", overlayOpts.landmarks,
                          "X,Y,Z=COLUMN,ROW: a CT point (LPS mm) and its pixel on the first frame "
                          "(2-3 of one level start the registration there)");

  OverlayCliOptions replayOpts;
  auto* replayVerb = app.add_subcommand(
      "replay", "Step through a run's frames in the terminal: pose, confidence, how it was found");
  replayVerb->add_option("ct", replayOpts.ctPath, "CT: DICOM folder or NIfTI/NRRD")->required();
  replayVerb->add_option("run", replayOpts.runPath, "C-arm run: a file or a folder of runs")
      ->required();
  replayVerb->add_option("--plan", replayOpts.planPath, "plan.json from `fluoroplan plan`");
  replayVerb->add_option("--spine", replayOpts.spineDir,
                         "segmentation of the CT (segment's output folder): register each planned "
                         "level alone (a prone patient against a supine CT)");
  replayVerb->add_option("--pincushion", replayOpts.pincushionK, "intensifier distortion k");
  replayVerb->add_option("--field-radius", replayOpts.fieldRadiusPx, "field radius, pixels");
  replayVerb->add_option("--landmark", replayOpts.landmarks,
                         "X,Y,Z=COLUMN,ROW: a CT point (LPS mm) and its pixel on the first frame");

  DoseCliOptions doseOpts;
  auto* doseVerb = app.add_subcommand(
      "dose", "Dose per procedure (Ka,r, PKA, fluoroscopy time), report checks, alerts, history");
  doseVerb->add_option("paths", doseOpts.paths, "C-arm runs and dose reports (files or folders)");
  doseVerb->add_option("--patient-id", doseOpts.patient.id,
                       "patient ID, for displayed totals without DICOM files");
  doseVerb->add_option("--patient-name", doseOpts.patient.name, "patient name (DICOM PN)");
  doseVerb->add_option("--birth-date", doseOpts.patient.birthDate, "YYYYMMDD");
  doseVerb->add_option("--issuer", doseOpts.patient.issuer, "issuer of the patient ID");
  doseVerb->add_option("--study-date", doseOpts.studyDate, "YYYYMMDD of the procedure");
  doseVerb->add_option("--procedure", doseOpts.procedure,
                       "facet-block, facet-rf, scs or other (sets reference levels and alerts)");
  doseVerb->add_option("--db", doseOpts.database, "the dose history database (SQLite)");
  doseVerb->add_option("--rdsr", doseOpts.rdsrOut, "write the procedure as an RDSR to this file");
  doseVerb->add_option("--needle-phase", doseOpts.needlePhases,
                       "NAME=START-END (YYYYMMDDhhmmss): dose while that needle was placed");
  doseVerb->add_option("--needle-phases", doseOpts.needlePhaseFiles,
                       "overlay.json of fluoroplan overlay: the needle placements it found");
  doseVerb->add_option("--alert-settings", doseOpts.alertSettings,
                       "JSON: per procedure type, the reference levels and alert steps to use");
  doseVerb->add_option("--displayed-kerma", doseOpts.userKermaMGy,
                       "Ka,r in mGy read from the C-arm's display (video-only C-arms)");
  doseVerb->add_option("--displayed-pka", doseOpts.userPkaGyCm2,
                       "PKA in Gy cm2 read from the C-arm's display");
  doseVerb->add_option("--displayed-fluoro", doseOpts.userFluoroS,
                       "fluoroscopy time in s read from the C-arm's display");
  doseVerb->add_option("--displayed-at", doseOpts.userDateTime,
                       "when the display was read, YYYYMMDDhhmmss");
  doseVerb->add_flag("--json", doseOpts.json, "JSON output");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kOk : kUsage;
  }
  try {
    if (*info) return runInfo(path, json, quiet);
    if (*doseVerb) return doseCommand(doseOpts);
    if (*overlayVerb) return overlayCommand(overlayOpts);
    if (*replayVerb) return replayCommand(replayOpts);
    if (*demo) return runDemo(sample, data, work, quiet);
    if (*load) return benchLoad(bl);
    if (*benchSeg) return benchSegment(benchCt, segRepeats, segJson);
    if (*benchPlanVerb) return benchPlan(planCt, planRepeats, planJson);
    if (*benchDrrVerb) return benchDrr(drrCt, drrRepeats, drrJson);
    if (*benchRegVerb) return benchRegister(benchRegCase, benchRegJson);
    if (*benchDoseVerb)
      return benchDose(benchDoseWork, benchDoseEvents, benchDoseBatch, benchDoseJson);
    if (*segment || *planVerb) {
      const fs::path ctPath = *segment ? seg.ctPath : planOpts.ctPath;
      Volume ct;
      std::optional<SegmentationSource> source;
      if (isResearchVolumeFile(ctPath)) {
        ct = readVolumeFile(ctPath);
      } else {
        const StudyInventory inv = buildInventory(ctPath);
        const auto idx = primaryVolumeSeries(inv);
        if (!idx) {
          std::cerr << "error: " << ctPath.string() << ": no CT series found\n";
          return kInputProblem;
        }
        VolumeSeriesLoad l = loadVolume(inv, *idx, 0, progressLine(quiet));
        if (!l.volume) {
          for (const auto& p : l.problems)
            std::cerr << p.toString() << "\n";
          return kInputProblem;
        }
        ct = std::move(*l.volume);
        // The slices behind the volume, in its k order, for the DICOM SEG.
        source.emplace();
        for (std::size_t k : l.stack.order) {
          const DicomHeader& h = inv.files[inv.volumeSeries[*idx].files[k]].header();
          source->sliceFiles.push_back(h.path);
          source->sopClassUids.push_back(h.sopClassUid);
          source->sopInstanceUids.push_back(h.sopInstanceUid);
        }
      }
      if (*segment)
        return segmentCommand(seg, ct, source ? &*source : nullptr, progressLine(quiet));
      return planCommand(planOpts, ct, progressLine(quiet));
    }
  } catch (const Cancelled&) {
    std::cerr << "cancelled\n";
    return kCancelled;
  } catch (const DicomFileError& e) {
    std::cerr << "error: " << e.what() << "\n";
    return kInputProblem;
  } catch (const DoseStoreError& e) {
    std::cerr << "error: " << e.what() << "\n";
    return kInputProblem;
  } catch (const VolumeFileError& e) {
    std::cerr << "error: " << e.what() << "\n";
    return kInputProblem;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return kInternal;
  }
  return kUsage;
}
