#pragma once
// Volumes and label maps from and to NIfTI (.nii, .nii.gz) and NRRD (.nrrd,
// .nhdr) through ITK. ITK reports physical space in LPS whatever the file
// stores (NIfTI is RAS on disk), so the result lines up with DICOM.
#include <filesystem>
#include <stdexcept>

#include "imaging/core/volume.h"

namespace fluoroplan {

class VolumeFileError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

bool isResearchVolumeFile(const std::filesystem::path& path); // by extension

// Reads a scalar volume into a Volume (values rounded and clamped to int16;
// for CT they are HU). Throws VolumeFileError "<path>: <problem>".
Volume readVolumeFile(const std::filesystem::path& path);

// Writes atomically; the format follows the extension (.nrrd, .nii, .nii.gz).
void writeVolumeFile(const Volume& volume, const std::filesystem::path& path);

} // namespace fluoroplan
