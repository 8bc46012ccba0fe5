#include <gtest/gtest.h>

#include <dcmtk/dcmdata/dcddirif.h>

#include "imaging/dicom/study_inventory.h"
#include "tests/support/test_data.h"

using namespace fluoroplan;
using namespace fluoroplan::test;
namespace fs = std::filesystem;

TEST(DicomDir, LoadsTheSeriesItReferences) {
  const fs::path media = freshDir("media");
  const auto files = writeSmallCt(media / "SERIES1", "dicomdir", 4);
  // ISO 9660 names, as on a CD: upper case, no extension.
  std::vector<std::string> ids;
  for (std::size_t n = 0; n < files.size(); ++n) {
    const std::string name = "IM" + std::to_string(n);
    fs::rename(files[n], media / "SERIES1" / name);
    ids.push_back("SERIES1/" + name);
  }
  {
    const fs::path cwd = fs::current_path();
    fs::current_path(media); // DCMTK records file IDs relative to the working folder
    DicomDirInterface dir;
    ASSERT_TRUE(
        dir.createNewDicomDir(DicomDirInterface::AP_GeneralPurpose, "DICOMDIR", "FPTEST").good());
    for (const auto& id : ids)
      ASSERT_TRUE(dir.addDicomFile(id.c_str()).good()) << id;
    ASSERT_TRUE(dir.writeDicomDir().good());
    fs::current_path(cwd);
  }
  Problems problems;
  const auto listed = filesInDicomDir(media / "DICOMDIR", problems);
  EXPECT_EQ(listed.size(), 4u);
  EXPECT_TRUE(problems.empty());
  const StudyInventory inv = buildInventory(media / "DICOMDIR");
  ASSERT_EQ(inv.volumeSeries.size(), 1u);
  EXPECT_TRUE(loadVolume(inv, 0).volume.has_value());
  // A DICOMDIR whose file has gone names the missing file.
  fs::remove(media / "SERIES1" / "IM2");
  Problems missing;
  filesInDicomDir(media / "DICOMDIR", missing);
  ASSERT_EQ(missing.size(), 1u);
  EXPECT_NE(missing[0].file.find("IM2"), std::string::npos);
}
