#pragma once
// The verbs of the `fluoroplan` command line. Each returns the process exit
// code (see README.md: 0 ok, 1 input problems, 2 usage, 3 internal error).
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "imaging/dicom/dicom_file.h"

namespace fluoroplan::cli {

enum ExitCode { kOk = 0, kInputProblem = 1, kUsage = 2, kInternal = 3, kCancelled = 4 };

struct BenchLoadOptions {
  std::filesystem::path workDir; // where the benchmark series is generated
  int slices = 400;
  int repeats = 5;
  std::filesystem::path jpeg2000Series; // optional real compressed series to time as well
  bool json = false;
};
int benchLoad(const BenchLoadOptions& options);

struct SegmentOptions {
  std::filesystem::path ctPath, outDir = "segmentation";
  std::filesystem::path truth;       // optional label map for Dice
  std::string truthScheme = "verse"; // or "totalsegmentator"
  std::string relabel;               // "L5=L4": the user's correction of the naming
};
} // namespace fluoroplan::cli
#include "imaging/core/progress.h"
#include "imaging/core/volume.h"
#include "imaging/dicom/segmentation_writer.h"
namespace fluoroplan::cli {
int benchSegment(const std::filesystem::path& ctFolder, int repeats, bool json);
int benchPlan(const std::filesystem::path& ctFolder, int repeats, bool json);
int benchDrr(const std::filesystem::path& ctFolder, int repeats, bool json);
// The primary CT series of a folder, for the benchmarks; throws naming the folder.
Volume loadBenchCt(const std::filesystem::path& ctFolder);
// `source`: the CT's slice files for the DICOM SEG (null for NIfTI/NRRD input).
int segmentCommand(const SegmentOptions& options, const Volume& ct,
                   const SegmentationSource* source, const ProgressCallback& progress);

struct PlanCliOptions {
  std::filesystem::path ctPath, outDir = "plan";
  std::string procedure = "facet-rf", joints, side = "left",
              position;       // empty: supine for the neck, prone otherwise (DESIGN.md section 3)
  std::string needle = "100"; // length, "100mm" or "150"
  double gauge = 0, activeTipMm = 10; // gauge 0: by procedure (RF 18 G, SCS Tuohy 14 G)
  std::string entry, tip;             // SCS
  std::filesystem::path spine;        // a `segment` output folder to plan on (else segment)
  std::string relabel;                // "L5=L4": the user's correction of the naming
};
int planCommand(const PlanCliOptions& options, const Volume& ct, const ProgressCallback& progress);

struct DoseCliOptions {
  std::vector<std::filesystem::path> paths;
  std::string procedure = "facet-rf";  // facet-block, facet-rf, scs, other: sets the alerts
  std::filesystem::path database;      // the dose history (SQLite); empty: none kept
  std::filesystem::path rdsrOut;       // write the procedure as an RDSR
  std::filesystem::path alertSettings; // a department's alert settings per procedure (JSON)
  bool json = false;
  // Totals read from the C-arm's own display (video-only C-arms).
  std::optional<double> userKermaMGy, userPkaGyCm2, userFluoroS;
  std::string userDateTime;
  // Per-needle dose: "NAME=START-END", DICOM date-times (YYYYMMDDhhmmss),
  // the time each needle was being placed.
  std::vector<std::string> needlePhases;
  std::vector<std::filesystem::path> needlePhaseFiles; // overlay.json files
  PatientIdentity patient;                             // for displayed totals with no DICOM files
  std::string studyDate;
};
int doseCommand(const DoseCliOptions& options);
struct OverlayCliOptions {
  std::filesystem::path ctPath, runPath, planPath, outDir = "overlay";
  double pincushionK = 0;   // the image intensifier's calibration (0: flat panel)
  double fieldRadiusPx = 0; // its field radius
  // "X,Y,Z=COLUMN,ROW": a CT point (LPS mm) and where it is on the first
  // frame (stored pixels): the first frame starts from them, not a search.
  std::vector<std::string> landmarks;
  // A segmentation of the CT (`fluoroplan segment` or `plan` output): each
  // planned level is then registered alone on every registered frame.
  std::filesystem::path spineDir;
};
int overlayCommand(const OverlayCliOptions& options);
// Steps through the frames in the terminal: pose, confidence, how found.
int replayCommand(const OverlayCliOptions& options);
int benchRegister(const std::filesystem::path& sampleCase, bool json);
int benchDose(const std::filesystem::path& workDir, int events, int batch, bool json);

} // namespace fluoroplan::cli
