#pragma once
// Finds and opens the DICOM files under a path: a file, a folder (searched
// recursively) or a DICOMDIR. Files are opened in parallel; a file that cannot
// be read becomes a Problem and the rest still load.
#include <filesystem>
#include <vector>

#include "imaging/core/problem.h"
#include "imaging/core/progress.h"
#include "imaging/dicom/dicom_file.h"

namespace fluoroplan {

struct DicomScanOptions {
  bool recursive = true;
  unsigned threads = 0; // 0: all cores
  // Files whose names mark them as not DICOM (.png, .json, ...) are skipped
  // without a problem; everything else is tried.
  bool skipKnownNonDicomExtensions = true;
};

struct DicomScanResult {
  std::vector<DicomFile> files; // in path order
  Problems problems;
  std::size_t candidates = 0; // files looked at
};

DicomScanResult scanDicom(const std::filesystem::path& path, const DicomScanOptions& options = {},
                          const ProgressCallback& progress = {});

// Files a DICOMDIR references (Referenced File ID, relative to its folder).
// Missing referenced files become problems.
std::vector<std::filesystem::path> filesInDicomDir(const std::filesystem::path& dicomdir,
                                                   Problems& problems);

} // namespace fluoroplan
