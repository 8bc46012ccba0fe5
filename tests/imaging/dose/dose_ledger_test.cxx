// The ledger's counting rules, each on events with a known answer.
#include <gtest/gtest.h>

#include "imaging/dose/dose_ledger.h"

using namespace fluoroplan;

namespace {
DoseEvent report(const std::string& uid, const std::string& dt, double kermaMGy, double pka,
                 double s, IrradiationKind kind = IrradiationKind::Fluoroscopy,
                 std::optional<double> primary = 0.0) {
  DoseEvent e;
  e.source = DoseSource::DoseReport;
  e.file = "report.dcm";
  e.eventUid = uid;
  e.dateTime = dt;
  e.startSeconds = dicomDateTimeSeconds(dt);
  e.kind = kind;
  e.referenceAirKermaMGy = kermaMGy;
  e.kermaAreaProductGyCm2 = pka;
  e.durationS = s;
  e.primaryAngleDeg = primary;
  e.secondaryAngleDeg = 0.0;
  return e;
}
DoseEvent header(const std::string& sop, const std::string& dt, double pka, double s,
                 std::optional<double> primary = 0.0, const std::string& uid = "") {
  DoseEvent e;
  e.source = DoseSource::ImageHeader;
  e.file = sop + ".dcm";
  e.sopInstanceUid = sop;
  e.eventUid = uid;
  e.dateTime = dt;
  e.startSeconds = dicomDateTimeSeconds(dt);
  e.kind = IrradiationKind::Fluoroscopy;
  e.kermaAreaProductGyCm2 = pka;
  e.durationS = s;
  e.primaryAngleDeg = primary;
  e.secondaryAngleDeg = 0.0;
  e.includesPrecedingFluoro = true;
  return e;
}
} // namespace

TEST(DoseLedger, SumsAndSplitsFluoroAndAcquisition) {
  DoseLedger l;
  l.add(report("1", "20260101093000", 1.5, 0.2, 10));
  l.add(report("2", "20260101093100", 4.0, 0.9, 2, IrradiationKind::Acquisition));
  l.add(report("3", "20260101093200", 0.5, 0.1, 5));
  const DoseTotals t = l.totals();
  EXPECT_DOUBLE_EQ(t.kermaMGy, 6.0);
  EXPECT_DOUBLE_EQ(t.fluoroKermaMGy, 2.0);
  EXPECT_DOUBLE_EQ(t.acquisitionKermaMGy, 4.0);
  EXPECT_DOUBLE_EQ(t.pkaGyCm2, 1.2);
  EXPECT_DOUBLE_EQ(t.fluoroTimeS, 15.0);
  EXPECT_DOUBLE_EQ(t.acquisitionTimeS, 2.0);
  EXPECT_EQ(t.acquisitions, 1);
  EXPECT_EQ(t.events, 3);
  EXPECT_TRUE(t.complete());
  // Rate over the minute before the latest event (09:31:00 exclusive ... 09:32:00): 0.5 mGy.
  EXPECT_DOUBLE_EQ(*l.kermaRateMGyPerMin(60), 0.5);
}

TEST(DoseLedger, SameEventUidCountsOnceAcrossFiles) {
  DoseLedger l;
  EXPECT_EQ(l.add(report("1.2.3", "20260101093000", 1.0, 0.1, 1)).outcome, LedgerOutcome::Counted);
  DoseEvent copy = report("1.2.3", "20260101093000", 1.0, 0.1, 1);
  copy.file = "copy_of_report.dcm";
  const LedgerAdd r = l.add(copy);
  EXPECT_EQ(r.outcome, LedgerOutcome::Duplicate);
  EXPECT_NE(r.reason.find("same Irradiation Event UID"), std::string::npos) << r.reason;
  EXPECT_DOUBLE_EQ(l.totals().kermaMGy, 1.0);
  EXPECT_EQ(l.duplicates(), 1u);
}

TEST(DoseLedger, ReportEventReplacesTheMatchingHeaderEvent) {
  // Header first, then the report: matched by time (within 2 s) and angles.
  DoseLedger l;
  l.add(header("img1", "20260101093011", 0.05, 0.07));
  EXPECT_FALSE(l.totals().complete()); // no Ka,r from a header
  const LedgerAdd r = l.add(report("9.9", "20260101093012", 0.2, 0.05, 0.07));
  EXPECT_EQ(r.outcome, LedgerOutcome::Replaced) << r.reason;
  const DoseTotals t = l.totals();
  EXPECT_EQ(t.events, 1);
  EXPECT_DOUBLE_EQ(t.kermaMGy, 0.2);
  EXPECT_DOUBLE_EQ(t.pkaGyCm2, 0.05);
  EXPECT_TRUE(t.complete()) << t.incomplete.front();
  // Report first, then the header: the header is the duplicate.
  DoseLedger m;
  m.add(report("9.9", "20260101093012", 0.2, 0.05, 0.07));
  EXPECT_EQ(m.add(header("img1", "20260101093011", 0.05, 0.07)).outcome, LedgerOutcome::Duplicate);
  EXPECT_DOUBLE_EQ(m.totals().pkaGyCm2, 0.05);
}

TEST(DoseLedger, HeaderEventsThatMatchNothingStillCount) {
  DoseLedger l;
  // The report covers 09:30:00 to 09:30:01 (+-2 s).
  l.add(report("1", "20260101093000", 1.0, 0.1, 1, IrradiationKind::Fluoroscopy, 0.0));
  // 10 s later: outside the report's time, another irradiation.
  EXPECT_EQ(l.add(header("a", "20260101093010", 0.2, 0.5)).outcome, LedgerOutcome::Counted);
  EXPECT_EQ(l.add(header("b", "20260101094000", 0.3, 0.5, 30.0)).outcome, LedgerOutcome::Counted);
  // The same image again (read from two folders).
  EXPECT_EQ(l.add(header("b", "20260101094000", 0.3, 0.5, 30.0)).outcome, LedgerOutcome::Duplicate);
  const DoseTotals t = l.totals();
  EXPECT_EQ(t.events, 3);
  EXPECT_NEAR(t.pkaGyCm2, 0.6, 1e-12);
  ASSERT_FALSE(t.complete());
  EXPECT_NE(t.incomplete.front().find("2 image(s)"), std::string::npos) << t.incomplete.front();
}

TEST(DoseLedger, UserEnteredDisplayTotalsAreCumulative) {
  DoseLedger l;
  l.add(userEnteredTotals(12.0, 1.5, 40, "20260101100000"));
  l.add(userEnteredTotals(20.0, 2.5, 65, "20260101101500"));
  EXPECT_EQ(l.add(userEnteredTotals(15.0, 2.0, 50, "20260101100500")).outcome,
            LedgerOutcome::Duplicate); // an earlier reading than the one held
  const DoseTotals t = l.totals();
  EXPECT_DOUBLE_EQ(t.kermaMGy, 20.0);
  EXPECT_DOUBLE_EQ(t.pkaGyCm2, 2.5);
  EXPECT_DOUBLE_EQ(t.fluoroTimeS, 65.0);
  EXPECT_TRUE(t.complete());
}

TEST(DoseLedger, UnusableValuesMakeTheTotalsIncomplete) {
  DoseLedger l;
  DoseEvent e = report("1", "20260101093000", 1.0, 0.1, 1);
  e.kermaAreaProductGyCm2.reset();
  e.problems.push_back({Severity::Error, "report.dcm", "'Dose Area Product' is negative"});
  l.add(e);
  const DoseTotals t = l.totals();
  EXPECT_DOUBLE_EQ(t.pkaGyCm2, 0.0);
  ASSERT_FALSE(t.complete());
  EXPECT_NE(t.incomplete.front().find("unusable"), std::string::npos);
  DoseLedger empty;
  EXPECT_FALSE(empty.totals().complete());
}

TEST(DoseEvent, DateTimeToSecondsAndBack) {
  // Whole seconds, DICOM DT; across a leap day and a year's end.
  const double t0 = *dicomDateTimeSeconds("20260101092900");
  EXPECT_EQ(dicomDateTime(t0), "20260101092900");
  EXPECT_EQ(dicomDateTime(t0 + 0.9), "20260101092900");
  EXPECT_EQ(dicomDateTime(*dicomDateTimeSeconds("20240229235959") + 1), "20240301000000");
  EXPECT_EQ(dicomDateTime(*dicomDateTimeSeconds("19991231235959") + 1), "20000101000000");
  EXPECT_EQ(dicomDateTime(0), "19700101000000");
}

TEST(DoseLedger, PerNeedleAttribution) {
  DoseLedger l;
  l.add(report("1", "20260101093000", 1.0, 0.1, 1));
  l.add(report("2", "20260101093500", 2.0, 0.2, 1));
  l.add(report("3", "20260101094000", 4.0, 0.4, 1));
  const double t0 = *dicomDateTimeSeconds("20260101092900");
  const auto per = l.perNeedle({{"L3 MB left", t0, t0 + 300}, {"L4 MB left", t0 + 300, t0 + 900}});
  ASSERT_EQ(per.size(), 2u);
  EXPECT_DOUBLE_EQ(per[0].second.kermaMGy, 1.0);
  EXPECT_DOUBLE_EQ(per[1].second.kermaMGy, 6.0);
}

TEST(DoseLedger, HeadersInsideTheReportsTimeAreCoveredByIt) {
  // A stored fluoroscopy image at 09:30:20 (its DAP folds in the fluoro
  // since 09:30:00) and the report's fluoro event that started at 09:30:00
  // and ran 25 s: the image is inside the report's time, in either order.
  for (int order = 0; order < 2; ++order) {
    DoseLedger l;
    const DoseEvent img = header("img", "20260101093020", 0.3, 0.5);
    const DoseEvent rep = report("r1", "20260101093000", 2.0, 0.3, 25);
    if (order == 0) {
      l.add(img);
      l.add(rep);
    } else {
      l.add(rep);
      EXPECT_EQ(l.add(img).outcome, LedgerOutcome::Duplicate);
    }
    const DoseTotals t = l.totals();
    EXPECT_EQ(t.events, 1) << "order " << order;
    EXPECT_DOUBLE_EQ(t.pkaGyCm2, 0.3) << "order " << order;
    EXPECT_DOUBLE_EQ(t.kermaMGy, 2.0) << "order " << order;
  }
}

TEST(DoseLedger, ReportCopiesWithoutUidsCountOnce) {
  DoseLedger l;
  l.add(report("", "20260101093000", 1.0, 0.1, 1));
  DoseEvent copy = report("", "20260101093000", 1.0, 0.1, 1);
  copy.file = "copy.dcm";
  EXPECT_EQ(l.add(copy).outcome, LedgerOutcome::Duplicate);
  // Another event in the same second with other values is another irradiation.
  EXPECT_EQ(l.add(report("", "20260101093000", 1.5, 0.2, 1)).outcome, LedgerOutcome::Counted);
  EXPECT_DOUBLE_EQ(l.totals().kermaMGy, 2.5);
}

TEST(DoseLedger, AcquisitionHeadersFoldFluoroscopySoTheSplitIsUnknown) {
  DoseLedger l;
  DoseEvent acq = header("a", "20260101093000", 0.8, 1.0);
  acq.kind = IrradiationKind::Acquisition;
  l.add(acq);
  const DoseTotals t = l.totals();
  EXPECT_DOUBLE_EQ(t.pkaGyCm2, 0.8);
  EXPECT_DOUBLE_EQ(t.acquisitionPkaGyCm2, 0.0); // not booked to either part
  EXPECT_DOUBLE_EQ(t.fluoroPkaGyCm2, 0.0);
  EXPECT_EQ(t.acquisitions, 1);
  bool said = false;
  for (const auto& why : t.incomplete)
    said = said || why.find("split of PKA is unknown") != std::string::npos;
  EXPECT_TRUE(said);
  // Headers carry no Ka,r: the rate is unknown, not zero.
  EXPECT_FALSE(l.kermaRateMGyPerMin());
}

TEST(DoseLedger, StatedTotalsAreAFloor) {
  DoseLedger l;
  l.add(report("1", "20260101093000", 0.066, 0.0209, 1));
  StatedTotal k{"113725", "Dose (RP) Total", "", "0.00010", "Gy", 0.1, "mGy"};
  StatedTotal p{"113722", "Dose Area Product Total", "", "0.0000021200", "Gym2", 0.0212, "Gy cm2"};
  l.addStatedTotals("dual.dcm", {k, p});
  l.addStatedTotals("dual_copy.dcm", {k, p}); // a copy: the largest, not the sum
  const DoseTotals t = l.totals();
  EXPECT_DOUBLE_EQ(t.kermaMGy, 0.1);
  EXPECT_DOUBLE_EQ(t.pkaGyCm2, 0.0212);
  ASSERT_EQ(t.shownAsStated.size(), 2u);
  EXPECT_NE(t.shownAsStated[0].find("0.066"), std::string::npos) << t.shownAsStated[0];
}

TEST(DoseLedger, ADisplayReadingBeforeLaterEventsLeavesTheTotalsIncomplete) {
  DoseLedger l;
  l.add(userEnteredTotals(10.0, 1.0, 30, "20260101093000"));
  l.add(report("1", "20260101094000", 4.0, 0.4, 5)); // after the reading
  const DoseTotals t = l.totals();
  EXPECT_DOUBLE_EQ(t.kermaMGy, 10.0);
  ASSERT_FALSE(t.complete());
  EXPECT_NE(t.incomplete.back().find("after the C-arm's display was read"), std::string::npos);
}
