// A frame's geometry read from the sample runs' DICOM (legacy multi-frame XA
// and an Enhanced XA whose C-arm moves): with the true isocentre, it
// projects the true needle tips to the generator's ideal pixels, on every
// frame of every run: the attributes are read with the right units and the
// angle conventions of DESIGN.md section 4 (the carm_geometry unit tests
// check those against hand-computed pixels, independently of the generator).
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "imaging/dicom/dicom_file.h"
#include "imaging/projection/frame_geometry.h"

using namespace fluoroplan;
namespace fs = std::filesystem;

namespace {
Vec3 vec(const nlohmann::json& j) {
  return {j[0].get<double>(), j[1].get<double>(), j[2].get<double>()};
}
} // namespace

TEST(FrameGeometry, SampleRunsProjectTheTrueTipsToTheIdealPixels) {
  const fs::path kCase = FLUOROPLAN_SAMPLE_CASE;
  std::ifstream in(kCase / "truth" / "runs_truth.json");
  const auto truth = nlohmann::json::parse(in);
  std::size_t checked = 0;
  for (const auto& run : truth["runs"]) {
    const XRayRun r = readXRayRun(DicomFile::open(kCase / run["file"].get<std::string>()));
    for (const auto& f : run["frames"]) {
      const std::size_t index = f["index"].get<std::size_t>();
      const FrameGeometry fg = frameGeometry(r, index, vec(f["isocenter"]));
      EXPECT_TRUE(fg.defaultsUsed.empty()) << run["name"] << ": " << fg.defaultsUsed.front();
      EXPECT_NEAR(fg.geometry.primaryDeg, f["primary_deg"].get<double>(), 1e-6) << run["name"];
      EXPECT_NEAR(fg.geometry.secondaryDeg, f["secondary_deg"].get<double>(), 1e-6);
      for (const auto& n : f["needles"]) {
        const auto px = fg.geometry.project(vec(n["tip"]));
        EXPECT_NEAR(px[0], n["tip_pixel_ideal"][0].get<double>(), 0.01)
            << run["name"] << " frame " << index << " " << n["nerve"];
        EXPECT_NEAR(px[1], n["tip_pixel_ideal"][1].get<double>(), 0.01)
            << run["name"] << " frame " << index << " " << n["nerve"];
        ++checked;
      }
    }
  }
  EXPECT_GE(checked, 30u);
}

TEST(FrameGeometry, MissingAttributesAreFilledFromNamedDefaults) {
  XRayRun r;
  r.header.rows = r.header.columns = 512;
  r.frames.resize(1);
  r.frames[0].positioner.primaryAngleDeg = 20;
  r.frames[0].positioner.intensifierSizeMm = 230;
  const FrameGeometry fg = frameGeometry(r, 0, {0, 0, 0});
  EXPECT_DOUBLE_EQ(fg.geometry.primaryDeg, 20);
  EXPECT_DOUBLE_EQ(fg.geometry.sourceToDetectorMm, 1000);
  EXPECT_DOUBLE_EQ(fg.geometry.sourceToIsocentreMm, 650);
  EXPECT_NEAR(fg.geometry.pixelMm, 230.0 / 512, 1e-12);
  EXPECT_DOUBLE_EQ(fg.geometry.principalColumn, 255.5);
  ASSERT_EQ(fg.defaultsUsed.size(), 4u); // secondary angle, SID, SOD, pixel spacing
  EXPECT_NE(fg.defaultsUsed[1].find("source-to-detector distance 1000 mm (default)"),
            std::string::npos);
  EXPECT_THROW(frameGeometry(r, 3, {0, 0, 0}), std::out_of_range);
}
