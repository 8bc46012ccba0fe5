// Bad input: every case gets a problem that names the file and says what is
// wrong, nothing crashes, and the good series beside it still load.
#include <gtest/gtest.h>

#include <dcmtk/dcmdata/dcdeftag.h>

#include <algorithm>
#include <fstream>

#include "imaging/dicom/study_inventory.h"
#include "tests/support/test_data.h"

using namespace fluoroplan;
using namespace fluoroplan::test;
namespace fs = std::filesystem;

namespace {

const Problem* findProblem(const Problems& ps, const fs::path& file, const std::string& text) {
  for (const auto& p : ps)
    if (p.file == file.string() && p.message.find(text) != std::string::npos) return &p;
  return nullptr;
}

std::string all(const Problems& ps) {
  std::string s;
  for (const auto& p : ps)
    s += p.toString() + "\n";
  return s;
}

const VolumeSeriesEntry* seriesWithDescription(const StudyInventory& inv, const std::string& d) {
  for (const auto& s : inv.volumeSeries)
    if (s.description == d) return &s;
  return nullptr;
}

} // namespace

class BadInput : public ::testing::Test {
protected:
  void SetUp() override {
    root = freshDir("folder");
    good = writeSmallCt(root / "good", "good", 5);
    other = writeSmallCt(root / "other", "other", 4);
  }
  void expectGoodSeriesStillLoad(const StudyInventory& inv) {
    for (const char* d : {"test good", "test other"}) {
      const auto* s = seriesWithDescription(inv, d);
      ASSERT_NE(s, nullptr) << d;
      const auto idx = static_cast<std::size_t>(s - inv.volumeSeries.data());
      EXPECT_TRUE(loadVolume(inv, idx).volume.has_value()) << d;
    }
  }
  fs::path root;
  std::vector<fs::path> good, other;
};

TEST_F(BadInput, SeveralSeriesInOneFolderAreSeparated) {
  const StudyInventory inv = buildInventory(root);
  EXPECT_EQ(inv.volumeSeries.size(), 2u);
  EXPECT_TRUE(inv.problems.empty()) << all(inv.problems);
  expectGoodSeriesStillLoad(inv);
}

TEST_F(BadInput, NonDicomFileIsNamedAndSkipped) {
  const fs::path junk = root / "notes";
  std::ofstream(junk) << "patient came in with back pain\n";
  const StudyInventory inv = buildInventory(root);
  const Problem* p = findProblem(inv.problems, junk, "not a DICOM file");
  ASSERT_NE(p, nullptr) << all(inv.problems);
  expectGoodSeriesStillLoad(inv);
}

TEST_F(BadInput, EmptyFile) {
  const fs::path empty = root / "empty.dcm";
  std::ofstream(empty).flush();
  const StudyInventory inv = buildInventory(root);
  EXPECT_NE(findProblem(inv.problems, empty, "empty"), nullptr) << all(inv.problems);
  expectGoodSeriesStillLoad(inv);
}

TEST_F(BadInput, TruncatedHeader) {
  const auto broken = writeSmallCt(root / "broken", "broken", 3);
  truncateFile(broken[1], 300);
  const StudyInventory inv = buildInventory(root);
  const bool named = std::any_of(inv.problems.begin(), inv.problems.end(), [&](const Problem& p) {
    return p.file == broken[1].string() && p.severity == Severity::Error;
  });
  EXPECT_TRUE(named) << all(inv.problems);
  expectGoodSeriesStillLoad(inv);
}

TEST_F(BadInput, TruncatedPixelDataRefusesTheVolume) {
  const auto broken = writeSmallCt(root / "broken", "broken", 3);
  truncateFile(broken[1], fs::file_size(broken[1]) - 100);
  const StudyInventory inv = buildInventory(root);
  const auto* s = seriesWithDescription(inv, "test broken");
  bool named = std::any_of(inv.problems.begin(), inv.problems.end(),
                           [&](const Problem& p) { return p.file == broken[1].string(); });
  if (s != nullptr) {
    const VolumeSeriesLoad load =
        loadVolume(inv, static_cast<std::size_t>(s - inv.volumeSeries.data()));
    if (!named) {
      EXPECT_FALSE(load.volume.has_value()) << "a truncated slice must not yield a volume";
      named = findProblem(load.problems, broken[1], "truncated") != nullptr ||
              findProblem(load.problems, broken[1], "shorter") != nullptr;
    }
  }
  EXPECT_TRUE(named) << all(inv.problems);
  expectGoodSeriesStillLoad(inv);
}

TEST_F(BadInput, MissingPixelData) {
  const auto broken = writeSmallCt(root / "broken", "broken", 3);
  editDicom(broken[2], [](DcmDataset& d) { d.findAndDeleteElement(DCM_PixelData); });
  const StudyInventory inv = buildInventory(root);
  const bool named = std::any_of(inv.problems.begin(), inv.problems.end(), [&](const Problem& p) {
    return p.file == broken[2].string() && p.message.find("Pixel Data") != std::string::npos;
  });
  EXPECT_TRUE(named) << all(inv.problems);
  expectGoodSeriesStillLoad(inv);
}

TEST_F(BadInput, MissingSliceReportsTheGap) {
  const auto gappy = writeSmallCt(root / "gappy", "gappy", 8);
  fs::remove(gappy[3]);
  const StudyInventory inv = buildInventory(root);
  const auto* s = seriesWithDescription(inv, "test gappy");
  ASSERT_NE(s, nullptr);
  EXPECT_FALSE(s->stack.usable);
  ASSERT_EQ(s->stack.gaps.size(), 1u);
  EXPECT_DOUBLE_EQ(s->stack.gaps[0].gapMm, 5.0);
  EXPECT_NE(findProblem(inv.problems, gappy[4], "gap of 5 mm"), nullptr) << all(inv.problems);
  EXPECT_FALSE(loadVolume(inv, static_cast<std::size_t>(s - inv.volumeSeries.data())).volume);
  expectGoodSeriesStillLoad(inv);
}

TEST_F(BadInput, ZeroAndNegativePixelSpacing) {
  const auto broken = writeSmallCt(root / "spacing", "spacing", 3);
  editDicom(broken[0], [](DcmDataset& d) { d.putAndInsertString(DCM_PixelSpacing, "0\\0.8"); });
  editDicom(broken[1], [](DcmDataset& d) { d.putAndInsertString(DCM_PixelSpacing, "-0.8\\0.8"); });
  const StudyInventory inv = buildInventory(root);
  EXPECT_NE(findProblem(inv.problems, broken[0], "zero or negative"), nullptr) << all(inv.problems);
  EXPECT_NE(findProblem(inv.problems, broken[1], "zero or negative"), nullptr) << all(inv.problems);
  expectGoodSeriesStillLoad(inv);
}

TEST_F(BadInput, AbsurdDimensions) {
  const auto broken = writeSmallCt(root / "absurd", "absurd", 2);
  editDicom(broken[0], [](DcmDataset& d) { d.putAndInsertUint16(DCM_Rows, 60000); });
  editDicom(broken[1], [](DcmDataset& d) { d.putAndInsertUint16(DCM_Columns, 0); });
  const StudyInventory inv = buildInventory(root);
  EXPECT_NE(findProblem(inv.problems, broken[0], "absurd image size"), nullptr)
      << all(inv.problems);
  EXPECT_NE(findProblem(inv.problems, broken[1], "0 columns"), nullptr) << all(inv.problems);
  expectGoodSeriesStillLoad(inv);
}

TEST_F(BadInput, RowsLargerThanPixelDataIsCaught) {
  const auto broken = writeSmallCt(root / "short", "short", 2);
  editDicom(broken[0], [](DcmDataset& d) { d.putAndInsertUint16(DCM_Rows, 400); });
  const StudyInventory inv = buildInventory(root);
  const auto* s = seriesWithDescription(inv, "test short");
  ASSERT_NE(s, nullptr);
  // The mismatched slice is left out of the 2-slice stack or fails to decode: never garbage.
  const auto load = loadVolume(inv, static_cast<std::size_t>(s - inv.volumeSeries.data()));
  if (load.volume) {
    EXPECT_EQ(load.volume->size[2], 1u);
  }
  const bool named = std::any_of(load.problems.begin(), load.problems.end(),
                                 [&](const Problem& p) { return p.file == broken[0].string(); });
  EXPECT_TRUE(named) << all(load.problems);
}

TEST_F(BadInput, NoSuchPath) {
  const StudyInventory inv = buildInventory(root / "nope");
  ASSERT_EQ(inv.problems.size(), 1u);
  EXPECT_NE(inv.problems[0].message.find("no such file"), std::string::npos);
}

TEST_F(BadInput, ErrorTextNamesFileAndProblem) {
  const fs::path junk = root / "junk.dcm";
  std::ofstream(junk) << std::string(200, 'x');
  try {
    DicomFile::open(junk);
    FAIL() << "expected an error";
  } catch (const DicomFileError& e) {
    EXPECT_EQ(e.file(), junk.string());
    EXPECT_EQ(std::string(e.what()).rfind(junk.string() + ": ", 0), 0u) << e.what();
  }
}
