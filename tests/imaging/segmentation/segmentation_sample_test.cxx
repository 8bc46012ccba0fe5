// Segmentation of the sample case's supine CT against its exact truth.
#include <gtest/gtest.h>

#include "imaging/dicom/study_inventory.h"
#include "imaging/io/volume_io.h"
#include "imaging/segmentation/spine_segmenter.h"

using namespace fluoroplan;
namespace fs = std::filesystem;

namespace {
const fs::path kCase = FLUOROPLAN_SAMPLE_CASE;

const Volume& supineCt() {
  static const Volume ct = [] {
    const StudyInventory inv = buildInventory(kCase / "ct_supine");
    return *loadVolume(inv, 0).volume;
  }();
  return ct;
}
} // namespace

TEST(SegmentSample, NamesEveryLevelOfTheFullPhantom) {
  const SpineModel m = segmentSpine(supineCt());
  std::vector<std::string> names;
  for (const auto& v : m.vertebrae)
    names.push_back(v.level);
  const std::vector<std::string> expected = {"T6", "T7", "T8", "T9", "T10", "T11",   "T12",
                                             "L1", "L2", "L3", "L4", "L5",  "sacrum"};
  EXPECT_EQ(names, expected) << m.namingEvidence;
  // The names are right; the report still says that 13 or 11 rib pairs
  // cannot be excluded without the cervicothoracic junction in view.
  EXPECT_NE(m.namingEvidence.find("agree"), std::string::npos) << m.namingEvidence;
  EXPECT_GT(m.canalCentrelineLps.size(), 100u);
}

// The target is Dice >= 0.95 per vertebra; this floor guards what the
// segmenter reaches today (0.74-0.97, see the issue note) against regressions.
TEST(SegmentSample, DiceAgainstTruthDoesNotRegress) {
  const SpineModel m = segmentSpine(supineCt());
  const Volume truth = readVolumeFile(kCase / "truth" / "supine_labels.nrrd");
  for (int v = 13; v <= 24; ++v)
    EXPECT_GT(dice(m.labels, v, truth, v), 0.70) << verseLevelName(v);
  EXPECT_GT(dice(m.labels, 26, truth, 26), 0.95);
}

TEST(SegmentSample, ProgressAndCancellation) {
  int calls = 0;
  segmentSpine(supineCt(), {}, [&](double, std::string_view) {
    ++calls;
    return true;
  });
  EXPECT_GT(calls, 3);
  EXPECT_THROW(segmentSpine(supineCt(), {}, [](double f, std::string_view) { return f < 0.3; }),
               Cancelled);
}
