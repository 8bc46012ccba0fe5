#pragma once
// The deliberately broken inputs of the sample case, one folder per defect
// (README.md lists them and what `fluoroplan info` must say about each).
#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdatset.h>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace fluoroplan::samples {

// Loads a DICOM file, lets `edit` change its data set and saves it back in
// its transfer syntax. Throws std::runtime_error naming the file.
void editDicomFile(const std::filesystem::path& file, const std::function<void(DcmDataset&)>& edit);

struct BrokenCase {
  std::string folder;   // under OUT/broken/
  std::string defect;   // what is wrong
  std::string expected; // a phrase `info` must print for it
};

// Writes OUT/broken/<case>/... and returns the list.
std::vector<BrokenCase> writeBrokenSet(const std::filesystem::path& out);

} // namespace fluoroplan::samples
