#pragma once
// What a folder (or file, or DICOMDIR) holds, grouped the way a user thinks
// of it: volume series (CT/MR slices), C-arm runs, dose reports, other
// objects, and every problem found. Building it reads headers only; pixel
// data is decoded when a volume is loaded.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "imaging/core/problem.h"
#include "imaging/core/progress.h"
#include "imaging/dicom/ct_series.h"
#include "imaging/dicom/dicom_scan.h"
#include "imaging/dicom/dose_report.h"
#include "imaging/dicom/slice_stack.h"
#include "imaging/dicom/xray_run.h"

namespace fluoroplan {

struct VolumeSeriesEntry {
  std::string seriesInstanceUid, modality, description;
  PatientIdentity patient;
  std::vector<std::size_t> files; // indices into StudyInventory::files
  SliceStack stack;               // geometry and its problems
};

// Per-image dose attributes summed over a run, with how many images carried them.
struct RunDoseTotals {
  double areaDoseProductDGyCm2 = 0;
  double entranceDoseMGy = 0;
  double exposureTimeMs = 0;
  std::size_t valuesWithDap = 0, valuesWithoutDap = 0;
};

struct XRayRunEntry {
  XRayRun run;
  RunDoseTotals dose;
};

struct StudyInventory {
  std::vector<DicomFile> files;
  std::vector<VolumeSeriesEntry> volumeSeries;
  std::vector<XRayRunEntry> runs;
  std::vector<DoseReportSummary> doseReports;
  std::vector<std::string> otherObjects; // "path: kind (SOP class)"
  std::vector<PatientIdentity> patients; // distinct patients seen
  Problems problems;
  std::size_t filesLookedAt = 0;
};

StudyInventory buildInventory(const std::filesystem::path& path,
                              const DicomScanOptions& options = {},
                              const ProgressCallback& progress = {});
StudyInventory buildInventory(DicomScanResult scan);

// Loads the volume of one series of the inventory.
VolumeSeriesLoad loadVolume(const StudyInventory& inventory, std::size_t seriesIndex,
                            unsigned threads = 0, const ProgressCallback& progress = {});

// Index of the volume series most likely to be "the CT" (modality CT first,
// then the most slices); empty when there is none.
std::optional<std::size_t> primaryVolumeSeries(const StudyInventory& inventory);

} // namespace fluoroplan
