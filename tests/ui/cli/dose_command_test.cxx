// `fluoroplan dose` end to end: the sample procedure's totals, a history
// database that does not double count when the same files come again, an
// RDSR written and read back, and inputs with nothing to count.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/support/test_data.h"

using namespace fluoroplan::test;
namespace fs = std::filesystem;

namespace {
const fs::path kCase = FLUOROPLAN_SAMPLE_CASE;

CommandResult fp(const std::string& args) {
  return runCommandLine(std::string(FLUOROPLAN_BINARY) + " " + args + " 2>/dev/null");
}
nlohmann::json json(const CommandResult& r) {
  return nlohmann::json::parse(r.output.substr(r.output.find('{')));
}
double truthKerma() {
  std::ifstream in(kCase / "truth" / "runs_truth.json");
  return nlohmann::json::parse(in)["totals"]["kerma_rp_mGy"].get<double>();
}
} // namespace

TEST(DoseCommand, SampleProcedureHistoryAndRdsr) {
  const fs::path dir = freshDir("dose_cli");
  // The runs folder holds the images and the report: one procedure.
  // A second copy of the report in another folder must not count twice.
  fs::create_directories(dir / "copy");
  fs::copy_file(kCase / "runs" / "dose_report.dcm", dir / "copy" / "dose_report_again.dcm");
  const std::string args = "dose --json --procedure facet-rf --db '" + (dir / "h.sqlite").string() +
                           "' '" + (kCase / "runs").string() + "' '" + (dir / "copy").string() +
                           "'";
  const auto first = fp(args + " --rdsr '" + (dir / "out_rdsr.dcm").string() + "'");
  ASSERT_EQ(first.exitCode, 0) << first.output;
  const auto j = json(first);
  ASSERT_EQ(j["procedures"].size(), 1u);
  const auto& t = j["procedures"][0]["totals"];
  EXPECT_NEAR(t["reference_air_kerma_mGy"].get<double>(), truthKerma(), 0.001 * truthKerma());
  EXPECT_EQ(t["events"], 7);
  EXPECT_TRUE(t["complete"].get<bool>());
  EXPECT_GE(j["procedures"][0]["counted_once"].size(), 7u + 7u); // images + the report copy
  EXPECT_TRUE(fs::exists(dir / "out_rdsr.dcm"));
  // Again, with the same files: the history does not grow, totals unchanged.
  const auto second = fp(args);
  ASSERT_EQ(second.exitCode, 0);
  const auto k = json(second);
  EXPECT_EQ(k["procedures"][0]["totals"], j["procedures"][0]["totals"]);
  // Images and report events are both kept (7 + 7), the copy of the report not.
  EXPECT_EQ(j["procedures"][0]["stored_events"], 14);
  EXPECT_EQ(k["procedures"][0]["stored_events"], 14);
  EXPECT_TRUE(k["procedures"][0]["history"].empty());
  // The RDSR we wrote is a procedure of its own study for the same patient:
  // read alone it gives the same totals.
  const auto back = fp("dose --json '" + (dir / "out_rdsr.dcm").string() + "'");
  ASSERT_EQ(back.exitCode, 0) << back.output;
  EXPECT_NEAR(json(back)["procedures"][0]["totals"]["reference_air_kerma_mGy"].get<double>(),
              t["reference_air_kerma_mGy"].get<double>(), 1e-6);
}

TEST(DoseCommand, DisplayedTotalsForVideoOnlyCArms) {
  // No DICOM at all: the patient and the C-arm's display, typed in.
  const fs::path dir = freshDir("dose_cli_video");
  const auto r =
      fp("dose --json --patient-id VID-1 --patient-name Video^Only --study-date 20260101 "
         "--displayed-kerma 35.5 --displayed-pka 4.2 --displayed-fluoro 95 "
         "--displayed-at 20260101100000 --db '" +
         (dir / "h.sqlite").string() + "'");
  ASSERT_EQ(r.exitCode, 0) << r.output;
  const auto j = json(r);
  const auto& t = j["procedures"][0]["totals"];
  EXPECT_DOUBLE_EQ(t["reference_air_kerma_mGy"].get<double>(), 35.5);
  EXPECT_DOUBLE_EQ(t["air_kerma_area_product_Gy_cm2"].get<double>(), 4.2);
  EXPECT_DOUBLE_EQ(t["fluoro_time_s"].get<double>(), 95);
  EXPECT_TRUE(t["complete"].get<bool>());
  EXPECT_EQ(j["procedures"][0]["patient_id"], "VID-1");
  EXPECT_EQ(j["procedures"][0]["stored_events"], 1);
  // With recorded images the display reading is a floor on what they sum to.
  const auto withRun = fp("dose --json '" + (kCase / "runs" / "run1_ap.dcm").string() +
                          "' --displayed-kerma 35.5 --displayed-at 20260101100000");
  ASSERT_EQ(withRun.exitCode, 0) << withRun.output;
  EXPECT_DOUBLE_EQ(
      json(withRun)["procedures"][0]["totals"]["reference_air_kerma_mGy"].get<double>(), 35.5);
  // Neither files nor a display reading: a usage error.
  EXPECT_EQ(fp("dose").exitCode, 2);
}

TEST(DoseCommand, NothingToCountIsAnErrorNamingThePath) {
  const auto r = runCommandLine(std::string(FLUOROPLAN_BINARY) + " dose '" +
                                (kCase / "ct_supine").string() + "' 2>&1");
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_NE(r.output.find("nothing to count"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("ct_supine"), std::string::npos) << r.output;
  const fs::path dir = freshDir("dose_cli_baddb");
  std::ofstream(dir / "not.sqlite") << std::string(200, 'x');
  const auto b =
      runCommandLine(std::string(FLUOROPLAN_BINARY) + " dose '" + (kCase / "runs").string() +
                     "' --db '" + (dir / "not.sqlite").string() + "' 2>&1");
  EXPECT_EQ(b.exitCode, 1) << b.output;
  EXPECT_NE(b.output.find("not.sqlite"), std::string::npos) << b.output;
}

TEST(DoseCommand, BenchReportsGroupCommitRateAgainstCommitPerEvent) {
  const fs::path dir = freshDir("dose_bench");
  const auto r = fp("bench dose --json --events 2000 --work '" + dir.string() + "'");
  ASSERT_EQ(r.exitCode, 0) << r.output;
  const auto j = json(r);
  EXPECT_GT(j["events_per_s_group_commit"].get<double>(), 0);
  EXPECT_GT(j["events_per_s_commit_per_event"].get<double>(), 0);
  EXPECT_EQ(j["events"], 2000);
}

TEST(DoseCommand, ADepartmentsAlertSettingsReplaceTheDefaults) {
  const fs::path dir = freshDir("dose_cli_alerts");
  std::ofstream(dir / "alerts.json")
      << R"({"facet-rf": {"reference_kerma_mGy": 0.5, "max_facet_rf_per_12_months": 2}})";
  const auto r = fp("dose --json '" + (kCase / "runs").string() + "' --alert-settings '" +
                    (dir / "alerts.json").string() + "'");
  ASSERT_EQ(r.exitCode, 0) << r.output;
  const std::string alerts = json(r)["procedures"][0]["alerts"].dump();
  EXPECT_NE(alerts.find("above the reference level 0.5 mGy (set in alerts.json)"),
            std::string::npos)
      << alerts;
  // A misspelt setting is an error naming the file, not silently ignored.
  std::ofstream(dir / "typo.json") << R"({"facet-rf": {"reference_kerma_mgy": 0.5}})";
  const auto bad =
      runCommandLine(std::string(FLUOROPLAN_BINARY) + " dose '" + (kCase / "runs").string() +
                     "' --alert-settings '" + (dir / "typo.json").string() + "' 2>&1");
  EXPECT_EQ(bad.exitCode, 1);
  EXPECT_NE(bad.output.find("typo.json: unknown alert setting facet-rf.reference_kerma_mgy"),
            std::string::npos)
      << bad.output;
}

TEST(DoseCommand, DosePerNeedleFromThePhasesGiven) {
  // The sample's runs start at 09:30:11 .. 09:30:14: the first two runs
  // while the first needle went in, the rest while the second did.
  const auto r = fp("dose --json '" + (kCase / "runs").string() +
                    "' --needle-phase 'L3 MB left=20260101093010-20260101093013'"
                    " --needle-phase 'L4 MB left=20260101093013-20260101093100'");
  ASSERT_EQ(r.exitCode, 0) << r.output;
  const auto j = json(r);
  const auto& per = j["procedures"][0]["per_needle"];
  ASSERT_EQ(per.size(), 2u);
  const double a = per[0]["totals"]["reference_air_kerma_mGy"],
               b = per[1]["totals"]["reference_air_kerma_mGy"],
               all = j["procedures"][0]["totals"]["reference_air_kerma_mGy"];
  EXPECT_GT(a, 0);
  EXPECT_GT(b, 0);
  EXPECT_NEAR(a + b, all, 1e-6 * all); // the phases cover every event once
  EXPECT_EQ(per[0]["totals"]["events"].get<int>() + per[1]["totals"]["events"].get<int>(), 7);
  const auto bad = runCommandLine(std::string(FLUOROPLAN_BINARY) + " dose '" +
                                  (kCase / "runs").string() + "' --needle-phase 'L3 MB' 2>&1");
  EXPECT_EQ(bad.exitCode, 1);
  EXPECT_NE(bad.output.find("expected NAME=START-END"), std::string::npos) << bad.output;
}
