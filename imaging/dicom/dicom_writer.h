#pragma once
// Writes DICOM with DCMTK: CT series from a Volume, C-arm runs (legacy
// multi-frame XA/RF and Enhanced XA; used by the sample-case generator, the
// tests and the benchmarks) and Secondary Capture images of what the
// workstation drew on a frame. Every file is written atomically.
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "imaging/core/volume.h"
#include "imaging/dicom/dicom_file.h"
#include "imaging/dicom/xray_run.h"

namespace fluoroplan {

// A UID under 2.25 (UUID-derived form) computed from `seed`, so generated
// cases are identical from run to run.
std::string deterministicUid(std::string_view seed);

struct SeriesIdentity {
  PatientIdentity patient{"FP-SAMPLE-001", "Sample^Phantom", "19700101", ""};
  std::string patientSex = "O";
  std::string studyInstanceUid, seriesInstanceUid,
      frameOfReferenceUid; // empty: derived from `seed`
  std::string seed = "fluoroplan";
  std::string studyDate = "20260101", studyTime = "080000";
  std::string studyId = "1", accessionNumber;
  int seriesNumber = 1;
  std::string seriesDescription;
  std::string manufacturer = "FluoroPlan", modelName = "sample generator";
};

enum class DicomCompression {
  None,
  RleLossless,
  JpegLossless,
  JpegLsLossless,
  Jpeg2000Lossless,
  Jpeg2000Lossy
};
const char* compressionName(DicomCompression c);

struct CtWriteOptions {
  DicomCompression compression = DicomCompression::None;
  double sliceThicknessMm = 0; // 0: the slice spacing
  std::string filePrefix = "CT";
};

// Writes one file per slice into `folder` (created). Returns the paths in
// slice order. Throws std::runtime_error naming the file on failure.
std::vector<std::filesystem::path> writeCtSeries(const Volume& volume,
                                                 const std::filesystem::path& folder,
                                                 const SeriesIdentity& identity,
                                                 const CtWriteOptions& options = {});

struct XRayRunSpec {
  SeriesIdentity identity;
  std::string modality = "XA"; // or "RF"
  bool enhanced = false;       // Enhanced XA with functional groups
  uint16_t rows = 0, columns = 0;
  uint16_t bitsStored = 12;                  // 8 writes 8-bit pixels, otherwise 16-bit
  std::vector<std::vector<uint16_t>> frames; // row-major samples per frame
  double frameTimeMs = 100;
  std::string patientPosition = "HFP";
  std::string patientOrientation;               // e.g. "L\\F"; empty: omitted
  CArmPositioner positioner;                    // legacy: for the whole run
  XRayExposure exposure;                        // legacy: for the whole image
  std::vector<CArmPositioner> framePositioners; // enhanced: one per frame
  std::vector<XRayExposure> frameExposures;     // enhanced: one per frame
  int instanceNumber = 1;
  // When the irradiation started (DT, YYYYMMDDhhmmss); empty: the study's
  // date and time. A dose ledger matches images to dose-report events by it.
  std::string acquisitionDateTime;
};

void writeXRayRun(const XRayRunSpec& spec, const std::filesystem::path& file);

// A picture drawn on one frame of a C-arm run (the plan overlaid), to go
// back to the PACS beside its source: a Secondary Capture Image
// (1.2.840.10008.5.1.4.1.1.7, workstation conversion), RGB, in the source's
// study and patient, its Source Image Sequence naming the frame it shows,
// with burned-in annotation.
struct SecondaryCaptureSpec {
  const DicomHeader* source = nullptr; // the run (patient, study, SOP UIDs)
  uint32_t sourceFrame = 1;            // 1-based, as Referenced Frame Number
  uint32_t columns = 0, rows = 0;
  std::vector<uint8_t> rgb;      // row-major, R G B per pixel
  std::string seriesInstanceUid; // shared by the pictures of one session
  std::string sopInstanceUid;    // empty: a new UID
  int seriesNumber = 900, instanceNumber = 1;
  std::string seriesDescription = "FluoroPlan overlay";
  std::string derivationDescription; // what was drawn, and how sure
};
// A new UID under DCMTK's root, for objects the workstation creates.
std::string newUid();
void writeSecondaryCapture(const SecondaryCaptureSpec& spec, const std::filesystem::path& file);

} // namespace fluoroplan
