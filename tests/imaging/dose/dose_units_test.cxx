// Unit conversions, DICOM date-times and stored precision, each against a
// hand-computed answer.
#include <gtest/gtest.h>

#include "imaging/dicom/xray_run.h"
#include "imaging/dose/dose_event.h"
#include "imaging/dose/dose_report_check.h"

using namespace fluoroplan;

TEST(DoseUnits, AreaProductToGrayCm2) {
  std::string w;
  EXPECT_DOUBLE_EQ(*toGrayCm2(2.954178618e-05, "Gy.m2", w), 0.2954178618); // 1 Gy m2 = 1e4 Gy cm2
  EXPECT_TRUE(w.empty());
  EXPECT_DOUBLE_EQ(*toGrayCm2(6.06, "dGy.cm2", w), 0.606); // (0018,115E) is in dGy cm2
  EXPECT_DOUBLE_EQ(*toGrayCm2(150, "mGy.cm2", w), 0.15);
  EXPECT_DOUBLE_EQ(*toGrayCm2(3.5, "uGy.m2", w), 0.035);
  EXPECT_TRUE(w.empty());
  // A vendor's non-UCUM spelling is read, with a warning that says so.
  EXPECT_DOUBLE_EQ(*toGrayCm2(1.6e-5, "Gym2", w), 0.16);
  EXPECT_NE(w.find("not UCUM"), std::string::npos) << w;
  // An unknown or missing unit is never guessed.
  w.clear();
  EXPECT_FALSE(toGrayCm2(1.0, "furlong", w));
  EXPECT_NE(w.find("unknown unit 'furlong'"), std::string::npos) << w;
  w.clear();
  EXPECT_FALSE(toGrayCm2(1.0, "", w));
  EXPECT_EQ(w, "no unit given");
}

TEST(DoseUnits, KermaToMilliGrayAndTimeToSeconds) {
  std::string w;
  EXPECT_DOUBLE_EQ(*toMilliGray(0.00252, "Gy", w), 2.52);
  EXPECT_DOUBLE_EQ(*toMilliGray(250, "uGy", w), 0.25);
  EXPECT_DOUBLE_EQ(*toMilliGray(3, "cGy", w), 30);
  EXPECT_DOUBLE_EQ(*toSeconds(1610, "ms", w), 1.61);
  EXPECT_DOUBLE_EQ(*toSeconds(2.5, "min", w), 150);
  EXPECT_TRUE(w.empty());
  EXPECT_FALSE(toMilliGray(1, "Gy.m2", w));
}

TEST(DoseUnits, DicomDateTime) {
  EXPECT_DOUBLE_EQ(*dicomDateTimeSeconds("19700101000000"), 0.0);
  EXPECT_DOUBLE_EQ(*dicomDateTimeSeconds("20000101000000"), 946684800.0);
  // 2016-02-29 12:34:56.5: leap day, fraction.
  EXPECT_DOUBLE_EQ(*dicomDateTimeSeconds("20160229123456.5"), 1456749296.5);
  EXPECT_DOUBLE_EQ(*dicomDateTimeSeconds("20160229123456+0100"), 1456749296.0);
  EXPECT_DOUBLE_EQ(*dicomDateTimeSeconds("20171012"), 1507766400.0); // date only
  EXPECT_FALSE(dicomDateTimeSeconds(""));
  EXPECT_FALSE(dicomDateTimeSeconds("2017AB12"));
  EXPECT_FALSE(dicomDateTimeSeconds("20171312000000"));
}

TEST(DoseUnits, StoredPrecision) {
  EXPECT_DOUBLE_EQ(storedPrecision("0.00252"), 1e-5);
  EXPECT_DOUBLE_EQ(storedPrecision("1.6e-005"), 1e-6);
  EXPECT_DOUBLE_EQ(storedPrecision("13"), 1.0);
  EXPECT_DOUBLE_EQ(storedPrecision("2.954178618e-05"), 1e-14);
  EXPECT_DOUBLE_EQ(storedPrecision(" 0.0 "), 0.1);
}

TEST(DoseUnits, DateTimeWithTimeZoneAfterTheHour) {
  // 2017-11-09 12:00 +0100: the offset is not read as minutes and seconds.
  EXPECT_DOUBLE_EQ(*dicomDateTimeSeconds("2017110912+0100"),
                   *dicomDateTimeSeconds("20171109120000"));
  EXPECT_FALSE(dicomDateTimeSeconds("201711091")); // odd number of digits
}

TEST(DoseUnits, EnhancedRunFramesSharingAnEventUidAreOneEvent) {
  XRayRun run;
  run.header.kind = DicomObjectKind::EnhancedXRayRun;
  run.header.path = "enhanced.dcm";
  run.acquisitionDateTime = "20260101093000";
  for (int f = 0; f < 4; ++f) {
    XRayFrameInfo fr;
    fr.index = uint32_t(f);
    fr.irradiationEventUid = f < 3 ? "1.2.3.1" : "1.2.3.2";
    fr.ownAreaDoseProduct = true;
    fr.exposure.areaDoseProductDGyCm2 = 0.5; // dGy cm2 per frame
    fr.exposure.exposureTimeMs = 10;
    fr.exposure.radiationSetting = "SC";
    run.frames.push_back(fr);
  }
  auto events = doseFromRun(run);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_DOUBLE_EQ(*events[0].kermaAreaProductGyCm2, 0.15); // 3 x 0.05 Gy cm2
  EXPECT_DOUBLE_EQ(*events[0].durationS, 0.03);
  EXPECT_EQ(events[0].frames, 3);
  EXPECT_DOUBLE_EQ(*events[1].kermaAreaProductGyCm2, 0.05);
  // A DAP found only in the run's shared groups is the run's, counted once.
  for (auto& f : run.frames)
    f.ownAreaDoseProduct = false;
  run.exposure.areaDoseProductDGyCm2 = 2.0;
  events = doseFromRun(run);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_DOUBLE_EQ(*events[0].kermaAreaProductGyCm2, 0.2);
  EXPECT_EQ(events[0].frames, 4);
}
