#pragma once
// ITK's own DICOM series reader (itk::ImageSeriesReader + GDCMImageIO), kept
// as the baseline that `fluoroplan bench load` measures our reader against.
#include <filesystem>
#include <vector>

#include "imaging/core/volume.h"

namespace fluoroplan {

// Reads the given slice files (ITK sorts them itself via GDCM's
// IPPSorter). Throws std::runtime_error on failure.
Volume readSeriesWithItkGdcm(const std::filesystem::path& folder);

} // namespace fluoroplan
