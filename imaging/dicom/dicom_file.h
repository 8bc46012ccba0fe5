#pragma once
// One DICOM file opened with DCMTK: its header parsed into plain values, its
// pixel data decoded on demand (native, JPEG, JPEG-LS, RLE through DCMTK's
// codecs, JPEG 2000 through OpenJPEG). DCMTK types stay inside the .cxx.
#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "imaging/core/geometry.h"

namespace fluoroplan {

// An error reading one file; what() reads "<path>: <problem>".
class DicomFileError : public std::runtime_error {
public:
  DicomFileError(std::string file, const std::string& problem)
      : std::runtime_error(file + ": " + problem), file_(std::move(file)), problem_(problem) {}
  const std::string& file() const { return file_; }
  const std::string& problem() const { return problem_; }

private:
  std::string file_;
  std::string problem_;
};

// The file is not DICOM at all (as opposed to a broken DICOM file).
class NotDicomError : public DicomFileError {
public:
  using DicomFileError::DicomFileError;
};

// What a file is, as far as FluoroPlan cares.
enum class DicomObjectKind {
  SliceImage,      // single-frame cross-sectional image (CT, MR, PT): part of a volume
  XRayRun,         // XA or RF image, single- or multi-frame (legacy)
  EnhancedXRayRun, // Enhanced XA / XRF with functional groups
  DoseReport,      // X-Ray Radiation Dose SR (TID 10001)
  StructuredReport,
  Directory, // DICOMDIR
  Other,
};
const char* kindName(DicomObjectKind k);

struct PatientIdentity {
  std::string id;
  std::string name;
  std::string birthDate; // DA, YYYYMMDD
  std::string issuer;    // (0010,0021) Issuer of Patient ID; often empty
  friend bool operator==(const PatientIdentity&, const PatientIdentity&) = default;
};

struct DicomHeader {
  std::string path;
  DicomObjectKind kind = DicomObjectKind::Other;
  std::string sopClassUid, sopInstanceUid, studyInstanceUid, seriesInstanceUid;
  std::string modality, transferSyntaxUid, transferSyntaxName;
  std::string manufacturer, modelName, seriesDescription;
  std::string studyDate, seriesTime, contentTime;
  // Study identity a derived object (SEG, Secondary Capture) must repeat.
  std::string studyTime, studyId, accessionNumber, referringPhysician, patientSex;
  std::string frameOfReferenceUid;
  PatientIdentity patient;
  int seriesNumber = 0;
  int instanceNumber = 0;

  // Image pixel module (zero when the object has no image).
  bool hasPixelData = false;
  uint16_t rows = 0, columns = 0, samplesPerPixel = 0;
  uint16_t bitsAllocated = 0, bitsStored = 0, pixelRepresentation = 0;
  uint32_t numberOfFrames = 0;
  std::string photometricInterpretation;

  // Cross-sectional geometry, when present.
  std::optional<Vec3> imagePositionLps;                   // centre of the first pixel
  std::optional<std::array<Vec3, 2>> imageOrientationLps; // row direction, column direction
  std::optional<std::array<double, 2>> pixelSpacingMm; // (0028,0030): between rows, between columns
  std::optional<double> sliceThicknessMm;              // never used for spacing
  std::optional<double> gantryTiltDeg;
  double rescaleSlope = 1.0, rescaleIntercept = 0.0;
};

// Decoded samples of one frame, one value per pixel (row-major, first row
// first), as stored: before any rescale or LUT, sign-extended where signed.
struct FrameSamples {
  uint16_t rows = 0, columns = 0;
  std::vector<int32_t> values;
};

class DicomFile {
public:
  // Parses the header; pixel data stays on disk until asked for. Throws
  // DicomFileError naming the file and what is wrong.
  static DicomFile open(const std::filesystem::path& path);

  const DicomHeader& header() const;

  // Decodes frame `index` (0-based). Throws DicomFileError.
  FrameSamples frame(uint32_t index) const;
  // Decodes a single-frame image into HU (stored * slope + intercept,
  // rounded, clamped to int16). `out` must hold rows*columns values.
  // Returns the number of clamped samples.
  std::size_t decodeRescaledInt16(std::span<int16_t> out) const;

  // Raw access for the readers in this folder (XA attributes, SR content).
  struct Impl;
  const Impl& impl() const { return *impl_; }

private:
  bool readNativePixelsDirect(std::span<int16_t> out) const;
  explicit DicomFile(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<Impl> impl_;
};

// Whether the file starts like DICOM (DICM at byte 128, or a bare data set
// beginning with group 0002 or 0008). Cheap: reads 132 bytes.
bool looksLikeDicom(const std::filesystem::path& path);

} // namespace fluoroplan
