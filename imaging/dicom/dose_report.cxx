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

void walk(DcmItem& item, DoseReportSummary& out, bool inAccumulated, int depth) {
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
        continue; // event details are imaging/dose's
      }
      const bool accumulated = inAccumulated || code == kAccumulatedXRayDose ||
                               code == kAccumulatedProjection || code == kAccumulatedFluoroAcq;
      walk(*child, out, accumulated, depth + 1);
    } else if (valueType == "NUM" && inAccumulated) {
      SrNumber n;
      n.conceptCode = code;
      n.conceptMeaning = meaning;
      DcmItem* mv = nullptr;
      if (child->findAndGetSequenceItem(DCM_MeasuredValueSequence, mv, 0).good() && mv) {
        n.rawValue = stringValue(*mv, DCM_NumericValue);
        if (valueMultiplicity(*mv, DCM_NumericValue) > 1)
          out.problems.push_back(
              {Severity::Warning, out.path,
               "'" + meaning + "' holds several values (" + n.rawValue + "); the first is shown"});
        n.value = numberValue(*mv, DCM_NumericValue);
        DcmItem* unit = nullptr;
        if (mv->findAndGetSequenceItem(DCM_MeasurementUnitsCodeSequence, unit, 0).good() && unit)
          n.unit = stringValue(*unit, DCM_CodeValue);
      }
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
  walk(ds, out, false, 0);
  return out;
}

} // namespace fluoroplan
