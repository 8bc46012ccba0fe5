#include <gtest/gtest.h>

#include <algorithm>

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmdata/dcuid.h"

#include "imaging/dicom/study_inventory.h"
#include "tests/support/test_data.h"

using namespace fluoroplan;
using namespace fluoroplan::test;
namespace fs = std::filesystem;

namespace {
XRayRunSpec baseSpec(const std::string& seed, uint16_t bits, std::size_t frames) {
  XRayRunSpec s;
  s.identity.seed = seed;
  s.rows = 32;
  s.columns = 40;
  s.bitsStored = bits;
  const uint16_t maxValue = static_cast<uint16_t>((1u << bits) - 1);
  for (std::size_t f = 0; f < frames; ++f) {
    std::vector<uint16_t> px(32 * 40);
    for (std::size_t n = 0; n < px.size(); ++n)
      px[n] = static_cast<uint16_t>((n * 37 + f * 11) % (maxValue + 1u));
    s.frames.push_back(px);
  }
  return s;
}
} // namespace

TEST(XRayRun, LegacyMultiFrameAttributesRoundTrip) {
  XRayRunSpec s = baseSpec("legacy", 12, 5);
  s.frameTimeMs = 66.7;
  s.patientPosition = "HFP";
  s.positioner.primaryAngleDeg = 160;
  s.positioner.secondaryAngleDeg = -40;
  s.positioner.sourceToDetectorMm = 1000;
  s.positioner.sourceToPatientMm = 750;
  s.positioner.imagerPixelSpacingMm = std::array<double, 2>{0.3, 0.31};
  s.positioner.intensifierSizeMm = 230;
  s.positioner.tableHeightMm = 950;
  s.exposure.areaDoseProductDGyCm2 = 1.25;
  s.exposure.entranceDoseMGy = 0.8;
  s.exposure.exposureTimeMs = 333;
  s.exposure.kvp = 78;
  s.exposure.tubeCurrentMA = 4;
  s.exposure.radiationSetting = "SC";
  const fs::path f = freshDir("legacy") / "run.dcm";
  writeXRayRun(s, f);
  const DicomFile file = DicomFile::open(f);
  EXPECT_EQ(file.header().kind, DicomObjectKind::XRayRun);
  const XRayRun run = readXRayRun(file);
  EXPECT_EQ(run.header.numberOfFrames, 5u);
  EXPECT_NEAR(*run.frameTimeMs, 66.7, 1e-9);
  EXPECT_EQ(run.patientPosition, "HFP");
  EXPECT_DOUBLE_EQ(*run.positioner.primaryAngleDeg, 160);
  EXPECT_DOUBLE_EQ(*run.positioner.secondaryAngleDeg, -40);
  EXPECT_DOUBLE_EQ(*run.positioner.sourceToDetectorMm, 1000);
  EXPECT_DOUBLE_EQ(*run.positioner.sourceToPatientMm, 750);
  EXPECT_DOUBLE_EQ((*run.positioner.imagerPixelSpacingMm)[1], 0.31);
  EXPECT_DOUBLE_EQ(*run.positioner.intensifierSizeMm, 230);
  EXPECT_DOUBLE_EQ(*run.positioner.tableHeightMm, 950);
  EXPECT_DOUBLE_EQ(*run.exposure.areaDoseProductDGyCm2, 1.25);
  EXPECT_DOUBLE_EQ(*run.exposure.entranceDoseMGy, 0.8);
  EXPECT_DOUBLE_EQ(*run.exposure.exposureTimeMs, 333);
  EXPECT_DOUBLE_EQ(*run.exposure.kvp, 78);
  EXPECT_DOUBLE_EQ(*run.exposure.tubeCurrentMA, 4);
  EXPECT_EQ(run.exposure.radiationSetting, "SC");
  EXPECT_TRUE(run.geometryComplete());
  ASSERT_EQ(run.frames.size(), 5u);
  EXPECT_NEAR(*run.frames[3].timeFromStartMs, 3 * 66.7, 1e-9);
  for (uint32_t k = 0; k < 5; ++k) {
    const FrameSamples px = file.frame(k);
    for (std::size_t n = 0; n < px.values.size(); ++n)
      ASSERT_EQ(px.values[n], s.frames[k][n]) << k;
  }
  EXPECT_THROW(file.frame(5), DicomFileError);
}

TEST(XRayRun, EightBitFramesDecode) {
  XRayRunSpec s = baseSpec("eight", 8, 3);
  s.modality = "RF";
  const fs::path f = freshDir("eight") / "run.dcm";
  writeXRayRun(s, f);
  const DicomFile file = DicomFile::open(f);
  EXPECT_EQ(file.header().bitsAllocated, 8);
  for (uint32_t k = 0; k < 3; ++k) {
    const FrameSamples px = file.frame(k);
    for (std::size_t n = 0; n < px.values.size(); ++n)
      ASSERT_EQ(px.values[n], s.frames[k][n]);
  }
}

TEST(XRayRun, MissingGeometryIsReportedNotInvented) {
  XRayRunSpec s = baseSpec("nogeo", 10, 1);
  s.patientPosition = "";
  const fs::path f = freshDir("nogeo") / "run.dcm";
  writeXRayRun(s, f);
  const XRayRun run = readXRayRun(DicomFile::open(f));
  EXPECT_FALSE(run.positioner.primaryAngleDeg.has_value()); // empty element, not 0
  EXPECT_FALSE(run.positioner.sourceToDetectorMm.has_value());
  EXPECT_FALSE(run.exposure.areaDoseProductDGyCm2.has_value());
  EXPECT_FALSE(run.geometryComplete());
  EXPECT_EQ(run.missingGeometry.size(), 6u);
}

TEST(XRayRun, EnhancedPerFrameFunctionalGroups) {
  XRayRunSpec s = baseSpec("enhanced", 12, 4);
  s.enhanced = true;
  for (int f = 0; f < 4; ++f) {
    CArmPositioner p;
    p.primaryAngleDeg = 10.0 * f;
    p.secondaryAngleDeg = -5.0 * f;
    p.sourceToDetectorMm = 1100 + f;
    p.sourceToIsocenterMm = 785;
    p.sourceToPatientMm = 700;
    p.imagerPixelSpacingMm = std::array<double, 2>{0.2, 0.2};
    s.framePositioners.push_back(p);
    XRayExposure e;
    e.areaDoseProductDGyCm2 = 0.1 * (f + 1);
    e.kvp = 70 + f;
    e.tubeCurrentMA = 10.5;
    e.exposureTimeMs = 8;
    s.frameExposures.push_back(e);
  }
  const fs::path f = freshDir("enhanced") / "run.dcm";
  writeXRayRun(s, f);
  const DicomFile file = DicomFile::open(f);
  EXPECT_EQ(file.header().kind, DicomObjectKind::EnhancedXRayRun);
  const XRayRun run = readXRayRun(file);
  ASSERT_EQ(run.frames.size(), 4u);
  for (int k = 0; k < 4; ++k) {
    const auto& fr = run.frames[k];
    EXPECT_NEAR(*fr.positioner.primaryAngleDeg, 10.0 * k, 1e-5);
    EXPECT_NEAR(*fr.positioner.secondaryAngleDeg, -5.0 * k, 1e-5);
    EXPECT_NEAR(*fr.positioner.sourceToDetectorMm, 1100 + k, 1e-3);
    EXPECT_NEAR(*fr.positioner.sourceToIsocenterMm, 785, 1e-3);
    EXPECT_NEAR(*fr.exposure.areaDoseProductDGyCm2, 0.1 * (k + 1), 1e-9);
    EXPECT_NEAR(*fr.exposure.kvp, 70 + k, 1e-9);
    EXPECT_NEAR(*fr.exposure.tubeCurrentMA, 10.5, 1e-9);
  }
  // The inventory sums per-frame DAP of an enhanced run.
  const StudyInventory inv = buildInventory(f.parent_path());
  ASSERT_EQ(inv.runs.size(), 1u);
  EXPECT_NEAR(inv.runs[0].dose.areaDoseProductDGyCm2, 1.0, 1e-9);
  EXPECT_EQ(inv.runs[0].dose.valuesWithDap, 4u);
}

TEST(SecondaryCapture, RefersToItsFrameAndReadsBack) {
  const fs::path dir = freshDir("secondary_capture");
  XRayRunSpec s = baseSpec("sc-source", 12, 3);
  writeXRayRun(s, dir / "run.dcm");
  const DicomFile run = DicomFile::open(dir / "run.dcm");
  SecondaryCaptureSpec sc;
  sc.source = &run.header();
  sc.sourceFrame = 2;
  sc.columns = 4;
  sc.rows = 2;
  sc.rgb = {255, 0, 0, 0, 255, 0, 0, 0, 255, 9, 9, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  sc.derivationDescription = "test";
  writeSecondaryCapture(sc, dir / "sc.dcm");
  // Our reader takes greyscale only: read it back with DCMTK.
  DcmFileFormat ff;
  ASSERT_TRUE(ff.loadFile((dir / "sc.dcm").string().c_str()).good());
  DcmDataset& ds = *ff.getDataset();
  auto str = [](DcmItem& item, const DcmTagKey& tag) {
    OFString v;
    item.findAndGetOFStringArray(tag, v);
    return std::string(v.c_str());
  };
  EXPECT_EQ(str(ds, DCM_SOPClassUID), UID_SecondaryCaptureImageStorage);
  EXPECT_EQ(str(ds, DCM_StudyInstanceUID), run.header().studyInstanceUid);
  EXPECT_EQ(str(ds, DCM_PatientID), run.header().patient.id);
  EXPECT_NE(str(ds, DCM_SOPInstanceUID), run.header().sopInstanceUid);
  DcmItem* ref = nullptr;
  ASSERT_TRUE(ds.findAndGetSequenceItem(DCM_SourceImageSequence, ref, 0).good());
  EXPECT_EQ(str(*ref, DCM_ReferencedSOPInstanceUID), run.header().sopInstanceUid);
  EXPECT_EQ(str(*ref, DCM_ReferencedFrameNumber), "2");
  const Uint8* px = nullptr;
  unsigned long n = 0;
  ASSERT_TRUE(ds.findAndGetUint8Array(DCM_PixelData, px, &n).good());
  ASSERT_EQ(n, sc.rgb.size());
  EXPECT_TRUE(std::equal(sc.rgb.begin(), sc.rgb.end(), px));
}

TEST(SecondaryCapture, BadInputIsRefusedNamingTheFileAndNothingIsWritten) {
  const fs::path dir = freshDir("secondary_capture_bad");
  XRayRunSpec s = baseSpec("sc-bad", 12, 1);
  writeXRayRun(s, dir / "run.dcm");
  const DicomFile run = DicomFile::open(dir / "run.dcm");
  SecondaryCaptureSpec sc;
  sc.source = &run.header();
  sc.columns = 4;
  sc.rows = 2;
  sc.rgb.assign(5, 0); // not 4 x 2 x 3
  try {
    writeSecondaryCapture(sc, dir / "sc.dcm");
    FAIL() << "a picture whose pixels do not match its size was written";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("sc.dcm"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("size"), std::string::npos) << e.what();
  }
  DicomHeader anonymous = run.header();
  anonymous.studyInstanceUid.clear();
  sc.source = &anonymous;
  sc.rgb.assign(24, 0);
  EXPECT_THROW(writeSecondaryCapture(sc, dir / "sc.dcm"), std::runtime_error);
  EXPECT_FALSE(fs::exists(dir / "sc.dcm"));
}

TEST(XRayRun, CollimatorEdgesAreReadAndTheShutterStandsInForThem) {
  // Legacy XA with a rectangular and circular collimator (1-based pixels).
  XRayRunSpec s = baseSpec("collimated", 12, 2);
  s.positioner.collimatorShape = "RECTANGULAR\\CIRCULAR";
  s.positioner.collimatorLeftColumn = 5;
  s.positioner.collimatorRightColumn = 36;
  s.positioner.collimatorUpperRow = 3;
  s.positioner.collimatorLowerRow = 30;
  s.positioner.collimatorCircleCentre = std::array<double, 2>{16, 20};
  s.positioner.collimatorCircleRadius = 18;
  const fs::path dir = freshDir("collimated");
  writeXRayRun(s, dir / "run.dcm");
  const XRayRun run = readXRayRun(DicomFile::open(dir / "run.dcm"));
  const CArmPositioner& p = run.frames[1].positioner;
  EXPECT_EQ(p.collimatorShape, "RECTANGULAR\\CIRCULAR");
  EXPECT_EQ(*p.collimatorLeftColumn, 5);
  EXPECT_EQ(*p.collimatorRightColumn, 36);
  EXPECT_EQ(*p.collimatorUpperRow, 3);
  EXPECT_EQ(*p.collimatorLowerRow, 30);
  EXPECT_EQ((*p.collimatorCircleCentre)[0], 16);
  EXPECT_EQ((*p.collimatorCircleCentre)[1], 20);
  EXPECT_EQ(*p.collimatorCircleRadius, 18);

  // A C-arm that writes the Display Shutter instead: read the same way.
  DcmFileFormat ff;
  ASSERT_TRUE(ff.loadFile((dir / "run.dcm").c_str()).good());
  DcmDataset* ds = ff.getDataset();
  for (const DcmTagKey& t :
       {DCM_CollimatorShape, DCM_CollimatorLeftVerticalEdge, DCM_CollimatorRightVerticalEdge,
        DCM_CollimatorUpperHorizontalEdge, DCM_CollimatorLowerHorizontalEdge,
        DCM_CenterOfCircularCollimator, DCM_RadiusOfCircularCollimator})
    ds->findAndDeleteElement(t);
  ds->putAndInsertString(DCM_ShutterShape, "RECTANGULAR");
  ds->putAndInsertString(DCM_ShutterLeftVerticalEdge, "7");
  ds->putAndInsertString(DCM_ShutterRightVerticalEdge, "33");
  ds->putAndInsertString(DCM_ShutterUpperHorizontalEdge, "2");
  ds->putAndInsertString(DCM_ShutterLowerHorizontalEdge, "31");
  ASSERT_TRUE(ff.saveFile((dir / "shutter.dcm").c_str(), EXS_LittleEndianExplicit).good());
  const XRayRun shuttered = readXRayRun(DicomFile::open(dir / "shutter.dcm"));
  EXPECT_EQ(shuttered.positioner.collimatorShape, "RECTANGULAR");
  EXPECT_EQ(*shuttered.positioner.collimatorLeftColumn, 7);
  EXPECT_EQ(*shuttered.positioner.collimatorLowerRow, 31);
  EXPECT_FALSE(shuttered.positioner.collimatorCircleRadius);

  // A polygonal collimator (an octagonal iris), written and read back,
  // and from the Display Shutter; an odd count of values is refused with
  // the file and the attribute named.
  XRayRunSpec poly = baseSpec("polygonal", 12, 1);
  poly.positioner.collimatorShape = "POLYGONAL";
  poly.positioner.collimatorPolygon = {{2, 14},  {2, 26},  {10, 34}, {22, 34},
                                       {30, 26}, {30, 14}, {22, 6},  {10, 6}};
  writeXRayRun(poly, dir / "polygonal.dcm");
  const XRayRun polyRun = readXRayRun(DicomFile::open(dir / "polygonal.dcm"));
  EXPECT_EQ(polyRun.positioner.collimatorShape, "POLYGONAL");
  EXPECT_EQ(polyRun.positioner.collimatorPolygon, poly.positioner.collimatorPolygon);
  {
    DcmFileFormat pf;
    ASSERT_TRUE(pf.loadFile((dir / "polygonal.dcm").c_str()).good());
    DcmDataset* pd = pf.getDataset();
    pd->findAndDeleteElement(DCM_CollimatorShape);
    pd->findAndDeleteElement(DCM_VerticesOfThePolygonalCollimator);
    pd->putAndInsertString(DCM_ShutterShape, "POLYGONAL");
    pd->putAndInsertString(DCM_VerticesOfThePolygonalShutter, "3\\4\\3\\30\\28\\17");
    ASSERT_TRUE(pf.saveFile((dir / "poly_shutter.dcm").c_str(), EXS_LittleEndianExplicit).good());
    const XRayRun ps = readXRayRun(DicomFile::open(dir / "poly_shutter.dcm"));
    ASSERT_EQ(ps.positioner.collimatorPolygon.size(), 3u);
    EXPECT_EQ(ps.positioner.collimatorPolygon[2], (std::array<double, 2>{28, 17}));
    pd->putAndInsertString(DCM_VerticesOfThePolygonalShutter, "3\\4\\3\\30\\28");
    ASSERT_TRUE(pf.saveFile((dir / "poly_bad.dcm").c_str(), EXS_LittleEndianExplicit).good());
    try {
      (void)readXRayRun(DicomFile::open(dir / "poly_bad.dcm"));
      ADD_FAILURE() << "a polygon of 5 values was read";
    } catch (const std::exception& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("poly_bad.dcm"), std::string::npos) << what;
      EXPECT_NE(what.find("(0018,1620)"), std::string::npos) << what;
    }
  }

  // Enhanced XA requires the collimator: with none given, the whole image.
  XRayRunSpec e = baseSpec("enhanced-collimator", 12, 1);
  e.enhanced = true;
  writeXRayRun(e, dir / "enhanced.dcm");
  const XRayRun en = readXRayRun(DicomFile::open(dir / "enhanced.dcm"));
  EXPECT_EQ(en.frames[0].positioner.collimatorShape, "RECTANGULAR");
  EXPECT_EQ(*en.frames[0].positioner.collimatorLeftColumn, 1);
  EXPECT_EQ(*en.frames[0].positioner.collimatorRightColumn, 40);
  EXPECT_EQ(*en.frames[0].positioner.collimatorLowerRow, 32);
}
