// Alerts: each rule at its threshold, with its figures in the message.
#include <gtest/gtest.h>

#include "imaging/dose/dose_alerts.h"

using namespace fluoroplan;

namespace {
bool has(const std::vector<DoseAlert>& a, const std::string& code, const std::string& text = "") {
  for (const auto& x : a)
    if (x.code == code && x.message.find(text) != std::string::npos) return true;
  return false;
}
DoseTotals totals(double kerma, double fluoroS) {
  DoseTotals t;
  t.kermaMGy = kerma;
  t.fluoroTimeS = fluoroS;
  t.events = 1;
  return t;
}
} // namespace

TEST(DoseAlerts, DefaultsPerProcedureSayWhereTheyComeFrom) {
  const auto rf = defaultDoseAlertConfig("facet-rf");
  ASSERT_TRUE(rf.referenceKermaMGy);
  EXPECT_DOUBLE_EQ(*rf.referenceKermaMGy, 109);
  EXPECT_NE(rf.referenceSource.find("Bakir 2024"), std::string::npos);
  const auto scs = defaultDoseAlertConfig("scs");
  EXPECT_DOUBLE_EQ(*scs.referenceFluoroTimeS, 387);
  EXPECT_NE(scs.referenceSource.find("Wininger 2010"), std::string::npos);
  EXPECT_FALSE(defaultDoseAlertConfig("other").referenceKermaMGy);
}

TEST(DoseAlerts, ReferenceLevelsAndKermaNotifications) {
  const auto c = defaultDoseAlertConfig("facet-rf");
  EXPECT_FALSE(has(evaluateDoseAlerts(totals(100, 30), c, "20260101", {}), "reference-kerma"));
  EXPECT_TRUE(
      has(evaluateDoseAlerts(totals(110, 30), c, "20260101", {}), "reference-kerma", "110.0 mGy"));
  EXPECT_FALSE(has(evaluateDoseAlerts(totals(2999, 30), c, "20260101", {}), "kerma-notification"));
  EXPECT_TRUE(has(evaluateDoseAlerts(totals(3000, 30), c, "20260101", {}), "kerma-notification",
                  "passed 3000 mGy"));
  EXPECT_TRUE(has(evaluateDoseAlerts(totals(4100, 30), c, "20260101", {}), "kerma-notification",
                  "passed 4000 mGy"));
}

TEST(DoseAlerts, FluoroscopyTimerEveryFiveMinutes) {
  const auto c = defaultDoseAlertConfig("scs");
  EXPECT_FALSE(has(evaluateDoseAlerts(totals(1, 299), c, "20260101", {}), "fluoro-timer"));
  EXPECT_TRUE(
      has(evaluateDoseAlerts(totals(1, 300), c, "20260101", {}), "fluoro-timer", "passed 5.0 min"));
  EXPECT_TRUE(has(evaluateDoseAlerts(totals(1, 610), c, "20260101", {}), "fluoro-timer",
                  "passed 10.0 min"));
}

TEST(DoseAlerts, TwelveMonthHistoryAndRepeatFacetRf) {
  const auto c = defaultDoseAlertConfig("facet-rf");
  const std::vector<PastProcedure> history = {
      {"20241201", "facet-rf", 3000, 10, 60}, // more than 12 months before
      {"20250301", "facet-rf", 2500, 10, 60},
      {"20250901", "facet-rf", 2400, 10, 60},
      {"20251115", "scs", 50, 1, 120}};
  const auto a = evaluateDoseAlerts(totals(100, 30), c, "20260101", history);
  // 100 + 2500 + 2400 + 50 = 5050 mGy in the 12 months before 2026-01-01.
  EXPECT_TRUE(has(a, "history-kerma", "5050 mGy")) << a.size();
  // This is the third facet RF in 12 months: at the limit of 3, no warning.
  EXPECT_FALSE(has(a, "facet-rf-repeat"));
  auto strict = c;
  strict.maxFacetRfPer12Months = 2; // a payer allowing 2 a year
  EXPECT_TRUE(has(evaluateDoseAlerts(totals(100, 30), strict, "20260101", history),
                  "facet-rf-repeat", "20250301, 20250901"));
}
