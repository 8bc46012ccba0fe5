#pragma once
// Helpers that make DICOM test data with known geometry, and break it in
// controlled ways for the bad-input tests.
#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdatset.h>

#include <filesystem>
#include <functional>
#include <string>

#include "imaging/core/volume.h"
#include "imaging/dicom/dicom_writer.h"

namespace fluoroplan::test {

// A fresh empty folder under the test's temporary directory.
std::filesystem::path freshDir(const std::string& name);

// A volume whose voxel value encodes its index, so any mix-up of slices, rows
// or columns shows: hu = (i * 7 + j * 13 + k * 101) % 3000 - 1000.
Volume indexCodedVolume(std::size_t ni, std::size_t nj, std::size_t nk, Vec3 spacing, Vec3 origin,
                        const Mat3& direction);
int16_t indexCodedValue(std::size_t i, std::size_t j, std::size_t k);

// Farthest either of two straight courses (a0-a1, b0-b1) strays from the
// other, mm: a segment Hausdorff distance, for nerve courses against truth.
double courseDistance(Vec3 a0, Vec3 a1, Vec3 b0, Vec3 b1);

// Loads a DICOM file, lets `edit` change its data set, saves it back.
void editDicom(const std::filesystem::path& file, const std::function<void(DcmDataset&)>& edit);

// Truncates a file to `bytes`.
void truncateFile(const std::filesystem::path& file, std::uintmax_t bytes);

// Writes a small valid CT series and returns its paths.
std::vector<std::filesystem::path>
writeSmallCt(const std::filesystem::path& folder, const std::string& seed, std::size_t slices = 6,
             DicomCompression compression = DicomCompression::None);

// Runs a shell command line; its exit code and what it printed.
struct CommandResult {
  int exitCode = -1;
  std::string output;
};
CommandResult runCommandLine(const std::string& commandLine);

// The CT series of a folder (its primary volume), loaded; fails the test
// when there is none.
Volume loadCtFolder(const std::filesystem::path& folder);

// Mat3 for a rotation about the LPS axis `axis` (0,1,2) by `degrees`.
Mat3 rotation(int axis, double degrees);

} // namespace fluoroplan::test
