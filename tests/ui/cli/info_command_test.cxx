// End to end: the fluoroplan binary on a generated folder with two CT series,
// a C-arm run, a broken series and a stray file.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <array>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sys/wait.h>

#include "tests/support/test_data.h"

using namespace fluoroplan;
using namespace fluoroplan::test;
namespace fs = std::filesystem;

namespace {
// stderr is dropped: the tests read what `fluoroplan` prints on stdout.
CommandResult run(const std::string& args) {
  return runCommandLine(std::string(FLUOROPLAN_BINARY) + " " + args + " 2>/dev/null");
}

fs::path makeFolder() {
  const fs::path root = freshDir("study");
  writeSmallCt(root / "a", "cli-a", 6);
  writeSmallCt(root / "b", "cli-b", 3, DicomCompression::JpegLsLossless);
  auto gappy = writeSmallCt(root / "c", "cli-c", 5);
  fs::remove(gappy[2]);
  XRayRunSpec s;
  s.identity.seed = "cli-run";
  s.rows = 16;
  s.columns = 16;
  s.frames.assign(4, std::vector<uint16_t>(256, 200));
  s.frameTimeMs = 125;
  s.positioner.primaryAngleDeg = 180;
  s.positioner.secondaryAngleDeg = 0;
  s.exposure.areaDoseProductDGyCm2 = 2.5;
  writeXRayRun(s, root / "run.dcm");
  std::ofstream(root / "readme") << "not dicom";
  return root;
}
} // namespace

TEST(InfoCommand, JsonListsSeriesRunsAndProblems) {
  const fs::path root = makeFolder();
  const CommandResult r = run("info --json '" + root.string() + "'");
  EXPECT_EQ(r.exitCode, 1) << "problems in the folder must give exit code 1";
  const auto j = nlohmann::json::parse(r.output);
  ASSERT_EQ(j["series"].size(), 3u);
  int loadable = 0;
  for (const auto& s : j["series"])
    loadable += s["usable"].get<bool>();
  EXPECT_EQ(loadable, 2);
  bool sawGap = false;
  for (const auto& s : j["series"])
    if (!s["gaps"].empty()) {
      sawGap = true;
      EXPECT_DOUBLE_EQ(s["gaps"][0]["gap_mm"].get<double>(), 5.0);
      EXPECT_EQ(s["slices"].get<int>(), 4);
    }
  EXPECT_TRUE(sawGap);
  ASSERT_EQ(j["runs"].size(), 1u);
  EXPECT_EQ(j["runs"][0]["frames"].get<int>(), 4);
  EXPECT_DOUBLE_EQ(j["runs"][0]["frame_rate_hz"].get<double>(), 8.0);
  EXPECT_DOUBLE_EQ(j["runs"][0]["dose"]["area_dose_product_dGy_cm2"].get<double>(), 2.5);
  EXPECT_DOUBLE_EQ(j["runs"][0]["positioner"]["primary_angle_deg"].get<double>(), 180.0);
  EXPECT_TRUE(j["runs"][0]["positioner"]["source_to_detector_mm"].is_null());
  bool strayNamed = false;
  for (const auto& p : j["problems"])
    strayNamed |= p["file"].get<std::string>().find("readme") != std::string::npos;
  EXPECT_TRUE(strayNamed);
}

TEST(InfoCommand, TextOutputHasOneLinePerProblem) {
  const fs::path root = makeFolder();
  const CommandResult r = run("info -q '" + root.string() + "'");
  EXPECT_NE(r.output.find("Series CT"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("gap of 5 mm"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("Run XA"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("missing"), std::string::npos) << r.output;
}

TEST(InfoCommand, CleanFolderExitsZeroAndBadPathExitsOne) {
  const fs::path root = freshDir("clean");
  writeSmallCt(root, "cli-clean", 3);
  EXPECT_EQ(run("info -q '" + root.string() + "'").exitCode, 0);
  EXPECT_EQ(run("info -q '" + (root / "nothing-here").string() + "'").exitCode, 1);
  EXPECT_EQ(run("frobnicate").exitCode, 2);
}
