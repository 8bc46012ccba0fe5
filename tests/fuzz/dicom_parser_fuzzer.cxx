// libFuzzer entry point for the DICOM parser path: the bytes become a file,
// which goes through exactly what `fluoroplan info` and the loaders do with a
// file: open (DCMTK parse + header checks), classify, read run / dose report
// attributes, decode frames. Any DicomFileError is a correct answer; a crash,
// a sanitizer report or a hang is a bug.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <unistd.h>

#include "imaging/dicom/dicom_file.h"
#include "imaging/dicom/dose_report.h"
#include "imaging/dicom/slice_stack.h"
#include "imaging/dicom/xray_run.h"

namespace {
std::string scratchPath() {
  const char* dir = std::getenv("TMPDIR");
  return std::string(dir ? dir : "/tmp") + "/fluoroplan-fuzz-" + std::to_string(::getpid()) +
         ".dcm";
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = scratchPath();
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return 0;
  std::fwrite(data, 1, size, f);
  std::fclose(f);
  using namespace fluoroplan;
  try {
    const DicomFile file = DicomFile::open(path);
    const DicomHeader& h = file.header();
    (void)analyseSliceStack({h});
    if (h.kind == DicomObjectKind::XRayRun || h.kind == DicomObjectKind::EnhancedXRayRun)
      (void)readXRayRun(file);
    if (h.kind == DicomObjectKind::DoseReport) (void)readDoseReportSummary(file);
    if (h.hasPixelData) {
      // Bounded work per input: decode at most two frames.
      for (uint32_t k = 0; k < h.numberOfFrames && k < 2; ++k)
        (void)file.frame(k);
      if (h.numberOfFrames == 1) {
        std::vector<int16_t> out(std::size_t(h.rows) * h.columns);
        (void)file.decodeRescaledInt16(out);
      }
    }
  } catch (const DicomFileError&) {
  }
  return 0;
}
