#include "imaging/dicom/dose_report_writer.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmsr/codes/dcm.h>
#include <dcmtk/dcmsr/dsrdoc.h>
#include <dcmtk/dcmsr/dsrnumvl.h>

#include <iomanip>
#include <sstream>
#include <stdexcept>

#include "imaging/core/atomic_file.h"

namespace fluoroplan {
namespace fs = std::filesystem;

namespace {

void check(OFCondition c, const std::string& what) {
  if (c.bad()) throw std::runtime_error("dose report: " + what + ": " + c.text());
}

std::string num(double v) {
  std::ostringstream s;
  s << std::setprecision(8) << v;
  return s.str();
}

DSRCodedEntryValue code(const char* value, const char* scheme, const char* meaning) {
  return DSRCodedEntryValue(value, scheme, meaning);
}

// Adds a content item next to (or below) the cursor and fills it.
class SrBuilder {
public:
  explicit SrBuilder(DSRDocumentTree& tree) : tree_(tree) {}
  void container(DSRTypes::E_RelationshipType rel, const DSRCodedEntryValue& conceptName,
                 DSRTypes::E_AddMode mode) {
    add(rel, DSRTypes::VT_Container, mode);
    check(tree_.getCurrentContentItem().setConceptName(conceptName), "container conceptName");
  }
  void codeItem(DSRTypes::E_RelationshipType rel, const DSRCodedEntryValue& conceptName,
                const DSRCodedEntryValue& value, DSRTypes::E_AddMode mode) {
    add(rel, DSRTypes::VT_Code, mode);
    check(tree_.getCurrentContentItem().setConceptName(conceptName), "code conceptName");
    check(tree_.getCurrentContentItem().setCodeValue(value), "code value");
  }
  void numItem(const DSRCodedEntryValue& conceptName, double value, const DSRCodedEntryValue& unit,
               DSRTypes::E_AddMode mode) {
    add(DSRTypes::RT_contains, DSRTypes::VT_Num, mode);
    check(tree_.getCurrentContentItem().setConceptName(conceptName), "num conceptName");
    check(tree_.getCurrentContentItem().setNumericValue(
              DSRNumericMeasurementValue(num(value).c_str(), unit)),
          "num value");
  }
  void stringItem(DSRTypes::E_ValueType type, const DSRCodedEntryValue& conceptName,
                  const std::string& value, DSRTypes::E_AddMode mode) {
    add(DSRTypes::RT_contains, type, mode);
    check(tree_.getCurrentContentItem().setConceptName(conceptName), "conceptName");
    check(tree_.getCurrentContentItem().setStringValue(value.c_str()), "value");
  }
  void up() { tree_.goUp(); }

private:
  void add(DSRTypes::E_RelationshipType rel, DSRTypes::E_ValueType type, DSRTypes::E_AddMode mode) {
    if (tree_.addContentItem(rel, type, mode) == 0)
      throw std::runtime_error("dose report: DCMTK refused a content item");
  }
  DSRDocumentTree& tree_;
};

const DSRCodedEntryValue kGyM2 = code("Gy.m2", "UCUM", "Gy.m2");
const DSRCodedEntryValue kGy = code("Gy", "UCUM", "Gy");
const DSRCodedEntryValue kSeconds = code("s", "UCUM", "s");
const DSRCodedEntryValue kDegrees = code("deg", "UCUM", "deg");
const DSRCodedEntryValue kKv = code("kV", "UCUM", "kV");
const DSRCodedEntryValue kMa = code("mA", "UCUM", "mA");
const DSRCodedEntryValue kMs = code("ms", "UCUM", "ms");
const DSRCodedEntryValue kCount = code("1", "UCUM", "no units");

} // namespace

namespace {
// The reference point as the vendor defined it: one of the two DCM codes
// (CID 10025) when it is one of them, else the vendor's text (TID 10003
// allows TEXT).
void referencePoint(SrBuilder& b, const std::string& definition) {
  const auto name = code("113780", "DCM", "Reference Point Definition");
  if (definition.empty() || definition == "15cm from Isocenter toward Source")
    b.codeItem(DSRTypes::RT_contains, name,
               code("113860", "DCM", "15cm from Isocenter toward Source"),
               DSRTypes::AM_afterCurrent);
  else if (definition == "30cm in Front of Image Input Surface")
    b.codeItem(DSRTypes::RT_contains, name,
               code("113861", "DCM", "30cm in Front of Image Input Surface"),
               DSRTypes::AM_afterCurrent);
  else
    b.stringItem(DSRTypes::VT_Text, name, definition, DSRTypes::AM_afterCurrent);
}
} // namespace

void writeDoseReport(const DoseReportContent& c, const fs::path& file) {
  DSRDocument doc(DSRTypes::DT_XRayRadiationDoseSR);
  const SeriesIdentity& id = c.identity;
  const std::string study =
      id.studyInstanceUid.empty() ? deterministicUid(id.seed + "/study") : id.studyInstanceUid;
  check(doc.createNewSeriesInStudy(study.c_str()), "series");
  check(doc.setPatientName(id.patient.name.c_str()), "patient name");
  check(doc.setPatientID(id.patient.id.c_str()), "patient ID");
  check(doc.setPatientBirthDate(id.patient.birthDate.c_str()), "birth date");
  check(doc.setPatientSex(id.patientSex.c_str()), "sex");
  check(doc.setStudyDate(id.studyDate.c_str()), "study date");
  check(doc.setStudyID(id.studyId.c_str()), "study ID");
  check(doc.setManufacturer(id.manufacturer.c_str()), "manufacturer");
  check(doc.setManufacturerModelName(id.modelName.c_str()), "model");
  check(doc.setDeviceSerialNumber("0"), "serial");
  check(doc.setSoftwareVersions("FluoroPlan"), "software versions");
  check(doc.setSeriesDescription("Radiation dose report"), "description");
  check(doc.setSeriesNumber("99"), "series number");
  check(doc.setInstanceNumber("1"), "instance number");

  DSRDocumentTree& tree = doc.getTree();
  SrBuilder b(tree);
  b.container(DSRTypes::RT_isRoot, code("113701", "DCM", "X-Ray Radiation Dose Report"),
              DSRTypes::AM_afterCurrent);
  check(tree.getCurrentContentItem().setTemplateIdentification("10001", "DCMR"), "template");
  b.codeItem(DSRTypes::RT_hasConceptMod, code("121058", "DCM", "Procedure reported"),
             code("113704", "DCM", "Projection X-Ray"), DSRTypes::AM_belowCurrent);

  // Accumulated X-Ray Dose (TID 10002) with TID 10004 totals: the sums of
  // the events below, nothing else.
  double fluoroDap = 0, fluoroRp = 0, fluoroTime = 0, acqDap = 0, acqRp = 0, acqTime = 0;
  int acqFrames = 0;
  for (const auto& e : c.events) {
    if (e.fluoroscopy) {
      fluoroDap += e.doseAreaProductGyM2;
      fluoroRp += e.doseRpGy;
      fluoroTime += e.exposureTimeS.value_or(0);
    } else {
      acqDap += e.doseAreaProductGyM2;
      acqRp += e.doseRpGy;
      acqTime += e.exposureTimeS.value_or(0);
      acqFrames += e.numberOfPulses.value_or(1);
    }
  }
  b.container(DSRTypes::RT_contains, code("113702", "DCM", "Accumulated X-Ray Dose Data"),
              DSRTypes::AM_afterCurrent);
  b.codeItem(DSRTypes::RT_hasConceptMod, code("113764", "DCM", "Acquisition Plane"),
             code("113622", "DCM", "Single Plane"), DSRTypes::AM_belowCurrent);
  b.numItem(code("113726", "DCM", "Fluoro Dose Area Product Total"), fluoroDap, kGyM2,
            DSRTypes::AM_afterCurrent);
  b.numItem(code("113728", "DCM", "Fluoro Dose (RP) Total"), fluoroRp, kGy,
            DSRTypes::AM_afterCurrent);
  b.numItem(code("113730", "DCM", "Total Fluoro Time"), fluoroTime, kSeconds,
            DSRTypes::AM_afterCurrent);
  b.numItem(code("113727", "DCM", "Acquisition Dose Area Product Total"), acqDap, kGyM2,
            DSRTypes::AM_afterCurrent);
  b.numItem(code("113729", "DCM", "Acquisition Dose (RP) Total"), acqRp, kGy,
            DSRTypes::AM_afterCurrent);
  b.numItem(code("113855", "DCM", "Total Acquisition Time"), acqTime, kSeconds,
            DSRTypes::AM_afterCurrent);
  b.numItem(code("113722", "DCM", "Dose Area Product Total"), fluoroDap + acqDap, kGyM2,
            DSRTypes::AM_afterCurrent);
  b.numItem(code("113725", "DCM", "Dose (RP) Total"), fluoroRp + acqRp, kGy,
            DSRTypes::AM_afterCurrent);
  b.numItem(code("113731", "DCM", "Total Number of Radiographic Frames"), acqFrames, kCount,
            DSRTypes::AM_afterCurrent);
  referencePoint(b, c.events.empty() ? std::string() : c.events.front().referencePoint);
  b.up();

  for (const auto& e : c.events) {
    b.container(DSRTypes::RT_contains, code("113706", "DCM", "Irradiation Event X-Ray Data"),
                DSRTypes::AM_afterCurrent);
    b.codeItem(DSRTypes::RT_contains, code("113764", "DCM", "Acquisition Plane"),
               code("113622", "DCM", "Single Plane"), DSRTypes::AM_belowCurrent);
    b.stringItem(DSRTypes::VT_UIDRef, code("113769", "DCM", "Irradiation Event UID"),
                 e.irradiationEventUid, DSRTypes::AM_afterCurrent);
    b.stringItem(DSRTypes::VT_DateTime, code("111526", "DCM", "DateTime Started"), e.startDateTime,
                 DSRTypes::AM_afterCurrent);
    b.codeItem(DSRTypes::RT_contains, code("113721", "DCM", "Irradiation Event Type"),
               e.fluoroscopy ? code("P5-06000", "SRT", "Fluoroscopy")
                             : code("113611", "DCM", "Stationary Acquisition"),
               DSRTypes::AM_afterCurrent);
    b.numItem(code("122130", "DCM", "Dose Area Product"), e.doseAreaProductGyM2, kGyM2,
              DSRTypes::AM_afterCurrent);
    b.numItem(code("113738", "DCM", "Dose (RP)"), e.doseRpGy, kGy, DSRTypes::AM_afterCurrent);
    if (e.primaryAngleDeg)
      b.numItem(code("112011", "DCM", "Positioner Primary Angle"), *e.primaryAngleDeg, kDegrees,
                DSRTypes::AM_afterCurrent);
    if (e.secondaryAngleDeg)
      b.numItem(code("112012", "DCM", "Positioner Secondary Angle"), *e.secondaryAngleDeg, kDegrees,
                DSRTypes::AM_afterCurrent);
    // The beam-on time (113742, TID 10003) and the exposure time: for the
    // events written here they are the same irradiation time. Unknown: not
    // written, rather than a zero.
    if (e.exposureTimeS) {
      b.numItem(code("113742", "DCM", "Irradiation Duration"), *e.exposureTimeS, kSeconds,
                DSRTypes::AM_afterCurrent);
      b.numItem(code("113824", "DCM", "Exposure Time"), *e.exposureTimeS * 1000.0, kMs,
                DSRTypes::AM_afterCurrent);
    }
    if (e.kvp) b.numItem(code("113733", "DCM", "KVP"), *e.kvp, kKv, DSRTypes::AM_afterCurrent);
    if (e.tubeCurrentMA)
      b.numItem(code("113734", "DCM", "X-Ray Tube Current"), *e.tubeCurrentMA, kMa,
                DSRTypes::AM_afterCurrent);
    if (e.pulseWidthMs)
      b.numItem(code("113793", "DCM", "Pulse Width"), *e.pulseWidthMs, kMs,
                DSRTypes::AM_afterCurrent);
    if (e.numberOfPulses)
      b.numItem(code("113768", "DCM", "Number of Pulses"), *e.numberOfPulses, kCount,
                DSRTypes::AM_afterCurrent);
    referencePoint(b, e.referencePoint);
    b.up();
  }

  check(doc.completeDocument(), "completion flag"); // an RDSR is always COMPLETE
  DcmFileFormat ff;
  check(doc.write(*ff.getDataset()), "serialise");
  writeFileAtomicallyVia(file, [&](const fs::path& tmp) {
    check(ff.saveFile(tmp.string().c_str(), EXS_LittleEndianExplicit), "save " + file.string());
  });
}

} // namespace fluoroplan
