#include "imaging/dicom/dose_report.h"

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcsequen.h>

#include "imaging/dicom/dicom_internal.h"

namespace fluoroplan {
using namespace dicom;

namespace {

constexpr const char* kIrradiationEvent = "113706";      // Irradiation Event X-Ray Data
constexpr const char* kAccumulatedXRayDose = "113702";   // Accumulated X-Ray Dose Data
constexpr const char* kAccumulatedProjection = "113704"; // Accumulated Projection X-Ray Dose
constexpr const char* kAccumulatedFluoroAcq =
    "113854"; // Accumulated Fluoroscopy / acquisition (TID 10004)
constexpr const char* kAccumulatedTotalProj = "113701"; // report root; never a container here

std::pair<std::string, std::string> conceptOf(DcmItem& item) {
  DcmItem* c = nullptr;
  if (item.findAndGetSequenceItem(DCM_ConceptNameCodeSequence, c, 0).bad() || !c) return {};
  return {stringValue(*c, DCM_CodeValue), stringValue(*c, DCM_CodeMeaning)};
}

SrNumber readNumber(DcmItem& child, const std::string& code, const std::string& meaning,
                    const std::string& path, Problems& problems) {
  SrNumber n;
  n.conceptCode = code;
  n.conceptMeaning = meaning;
  DcmItem* mv = nullptr;
  if (child.findAndGetSequenceItem(DCM_MeasuredValueSequence, mv, 0).good() && mv) {
    n.rawValue = stringValue(*mv, DCM_NumericValue);
    n.valueCount = valueMultiplicity(*mv, DCM_NumericValue);
    if (n.valueCount > 1)
      problems.push_back(
          {Severity::Warning, path,
           "'" + meaning + "' holds several values (" + n.rawValue + "); the first is used"});
    n.value = numberValue(*mv, DCM_NumericValue);
    DcmItem* unit = nullptr;
    if (mv->findAndGetSequenceItem(DCM_MeasurementUnitsCodeSequence, unit, 0).good() && unit)
      n.unit = stringValue(*unit, DCM_CodeValue);
  }
  return n;
}

void walkEvent(DcmItem& item, DoseReportEventRecord& ev, const std::string& path,
               Problems& problems, int depth) {
  if (depth > 64) return;
  DcmSequenceOfItems* content = nullptr;
  if (item.findAndGetSequence(DCM_ContentSequence, content).bad() || !content) return;
  for (unsigned long i = 0; i < content->card(); ++i) {
    DcmItem* child = content->getItem(i);
    if (!child) continue;
    const std::string valueType = stringValue(*child, DCM_ValueType);
    const auto [code, meaning] = conceptOf(*child);
    if (valueType == "NUM") {
      ev.numbers.push_back(readNumber(*child, code, meaning, path, problems));
    } else if (valueType != "CONTAINER") {
      SrContentItem it{valueType, code, meaning, {}, {}};
      if (valueType == "CODE") {
        DcmItem* v = nullptr;
        if (child->findAndGetSequenceItem(DCM_ConceptCodeSequence, v, 0).good() && v) {
          it.value = stringValue(*v, DCM_CodeValue);
          it.valueMeaning = stringValue(*v, DCM_CodeMeaning);
        }
      } else if (valueType == "UIDREF") {
        it.value = stringValue(*child, DCM_UID);
      } else if (valueType == "DATETIME") {
        it.value = stringValue(*child, DCM_DateTime);
      } else if (valueType == "TEXT") {
        it.value = stringValue(*child, DCM_TextValue);
      }
      ev.items.push_back(std::move(it));
    }
    // Containers, and items that carry their own (HAS PROPERTIES, HAS
    // CONCEPT MOD) children, are walked into.
    walkEvent(*child, ev, path, problems, depth + 1);
  }
}

// The Acquisition Plane (113764) a container states for its numbers.
std::string planeOf(DcmItem& container) {
  DcmSequenceOfItems* content = nullptr;
  if (container.findAndGetSequence(DCM_ContentSequence, content).bad() || !content) return {};
  for (unsigned long i = 0; i < content->card(); ++i) {
    DcmItem* child = content->getItem(i);
    if (!child || conceptOf(*child).first != "113764") continue;
    DcmItem* v = nullptr;
    if (child->findAndGetSequenceItem(DCM_ConceptCodeSequence, v, 0).good() && v)
      return stringValue(*v, DCM_CodeMeaning);
  }
  return {};
}

void walk(DcmItem& item, DoseReportSummary& out, bool inAccumulated, int depth,
          const std::string& plane) {
  if (depth > 64) return; // malformed nesting
  DcmSequenceOfItems* content = nullptr;
  if (item.findAndGetSequence(DCM_ContentSequence, content).bad() || !content) return;
  for (unsigned long i = 0; i < content->card(); ++i) {
    DcmItem* child = content->getItem(i);
    if (!child) continue;
    const std::string valueType = stringValue(*child, DCM_ValueType);
    const auto [code, meaning] = conceptOf(*child);
    if (valueType == "CONTAINER") {
      if (code == kIrradiationEvent) {
        ++out.irradiationEvents;
        DoseReportEventRecord ev;
        walkEvent(*child, ev, out.path, out.problems, 0);
        out.events.push_back(std::move(ev));
        continue;
      }
      const bool accumulated = inAccumulated || code == kAccumulatedXRayDose ||
                               code == kAccumulatedProjection || code == kAccumulatedFluoroAcq;
      const std::string p = code == kAccumulatedXRayDose ? planeOf(*child) : plane;
      walk(*child, out, accumulated, depth + 1, p);
    } else if (valueType == "NUM" && inAccumulated) {
      SrNumber n = readNumber(*child, code, meaning, out.path, out.problems);
      n.plane = plane;
      if (!n.value)
        out.problems.push_back(
            {Severity::Warning, out.path,
             "'" + meaning + "' has no usable numeric value" +
                 (n.rawValue.empty() ? std::string() : " ('" + n.rawValue + "')")});
      out.accumulatedTotals.push_back(std::move(n));
    } else if (valueType == "CODE" && code == "121058" /* Procedure reported */) {
      DcmItem* v = nullptr;
      if (child->findAndGetSequenceItem(DCM_ConceptCodeSequence, v, 0).good() && v)
        out.procedureReported = stringValue(*v, DCM_CodeMeaning);
    }
  }
}

} // namespace

DoseReportSummary readDoseReportSummary(const DicomFile& file) {
  const DicomHeader& h = file.header();
  if (h.kind != DicomObjectKind::DoseReport)
    throw DicomFileError(h.path,
                         "not an X-Ray Radiation Dose SR (SOP Class " + h.sopClassUid + ")");
  DcmDataset& ds = *file.impl().dataset();
  DoseReportSummary out;
  out.path = h.path;
  DcmItem* tmpl = nullptr;
  if (ds.findAndGetSequenceItem(DCM_ContentTemplateSequence, tmpl, 0).good() && tmpl)
    out.templateId = stringValue(*tmpl, DCM_TemplateIdentifier);
  const auto root = conceptOf(ds);
  if (root.first != kAccumulatedTotalProj)
    out.problems.push_back({Severity::Warning, h.path,
                            "root concept is '" + root.second + "' (" + root.first +
                                "), not 'X-Ray Radiation Dose Report' (113701)"});
  if (!out.templateId.empty() && out.templateId != "10001")
    out.problems.push_back(
        {Severity::Warning, h.path, "template " + out.templateId + ", not TID 10001"});
  walk(ds, out, false, 0, {});
  return out;
}

} // namespace fluoroplan
