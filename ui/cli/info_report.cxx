#include "ui/cli/info_report.h"
#include "ui/cli/json_values.h"

#include <iomanip>
#include <sstream>

#include "imaging/core/volume.h"

namespace fluoroplan::cli {
using nlohmann::json;

namespace {

std::string fmt(double v, int precision = 3) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(precision) << v;
  std::string r = s.str();
  while (r.find('.') != std::string::npos && (r.back() == '0' || r.back() == '.')) {
    const bool dot = r.back() == '.';
    r.pop_back();
    if (dot) break;
  }
  return r;
}

std::string significant(double v) {
  std::ostringstream s;
  s << std::setprecision(6) << v;
  return s.str();
}

template <class T> json opt(const std::optional<T>& v) {
  return v ? json(*v) : json(nullptr);
}

std::string optText(const std::optional<double>& v, const char* unit) {
  return v ? fmt(*v) + " " + unit : std::string("missing");
}

json positionerJson(const CArmPositioner& p) {
  return {{"primary_angle_deg", opt(p.primaryAngleDeg)},
          {"secondary_angle_deg", opt(p.secondaryAngleDeg)},
          {"source_to_detector_mm", opt(p.sourceToDetectorMm)},
          {"source_to_patient_mm", opt(p.sourceToPatientMm)},
          {"source_to_isocenter_mm", opt(p.sourceToIsocenterMm)},
          {"imager_pixel_spacing_mm", opt(p.imagerPixelSpacingMm)},
          {"magnification_factor", opt(p.magnificationFactor)},
          {"intensifier_size_mm", opt(p.intensifierSizeMm)},
          {"table_height_mm", opt(p.tableHeightMm)},
          {"table_traverse_mm", opt(p.tableTraverseMm)}};
}

json exposureJson(const XRayExposure& e) {
  return {{"area_dose_product_dGy_cm2", opt(e.areaDoseProductDGyCm2)},
          {"entrance_dose_mGy", opt(e.entranceDoseMGy)},
          {"exposure_time_ms", opt(e.exposureTimeMs)},
          {"kvp", opt(e.kvp)},
          {"tube_current_mA", opt(e.tubeCurrentMA)},
          {"pulse_width_ms", opt(e.pulseWidthMs)},
          {"radiation_setting", e.radiationSetting}};
}

} // namespace

json inventoryToJson(const StudyInventory& inv) {
  json j;
  j["files_looked_at"] = inv.filesLookedAt;
  j["dicom_files"] = inv.files.size();
  j["patients"] = json::array();
  for (const auto& p : inv.patients)
    j["patients"].push_back({{"id", p.id}, {"name", p.name}, {"birth_date", p.birthDate}});
  j["series"] = json::array();
  for (const auto& s : inv.volumeSeries) {
    const SliceStack& st = s.stack;
    json gaps = json::array();
    for (const auto& g : st.gaps)
      gaps.push_back({{"after_slice", g.afterSlice + 1},
                      {"from_mm", g.fromMm},
                      {"to_mm", g.toMm},
                      {"gap_mm", g.gapMm},
                      {"expected_mm", g.expectedMm},
                      {"missing_slices", g.missingSlices}});
    const Mat3 dir = Mat3::fromColumns(st.rowDirection, st.columnDirection, st.normal);
    j["series"].push_back(
        {{"series_instance_uid", s.seriesInstanceUid},
         {"modality", s.modality},
         {"description", s.description},
         {"files", s.files.size()},
         {"slices", st.order.size()},
         {"usable", st.usable},
         {"dimensions", {st.columns, st.rows, st.order.size()}},
         {"spacing_mm", {st.spacingMm[0], st.spacingMm[1], st.spacingMm[2]}},
         {"origin_lps_mm", vec(st.originLps)},
         {"direction_lps", {vec(st.rowDirection), vec(st.columnDirection), vec(st.normal)}},
         {"orientation", orientationLabel(dir)},
         {"plane", slicePlaneName(dir)},
         {"gantry_tilt_deg", st.gantryTiltDeg},
         {"gaps", gaps}});
  }
  j["runs"] = json::array();
  for (const auto& r : inv.runs) {
    const XRayRun& run = r.run;
    json frames = json::array();
    for (const auto& f : run.frames)
      frames.push_back({{"index", f.index},
                        {"time_ms", opt(f.timeFromStartMs)},
                        {"positioner", positionerJson(f.positioner)},
                        {"exposure", exposureJson(f.exposure)}});
    j["runs"].push_back(
        {{"file", run.header.path},
         {"modality", run.header.modality},
         {"enhanced", run.header.kind == DicomObjectKind::EnhancedXRayRun},
         {"frames", run.header.numberOfFrames},
         {"rows", run.header.rows},
         {"columns", run.header.columns},
         {"bits_stored", run.header.bitsStored},
         {"frame_time_ms", opt(run.frameTimeMs)},
         {"frame_rate_hz", run.frameTimeMs && *run.frameTimeMs > 0 ? json(1000.0 / *run.frameTimeMs)
                                                                   : json(nullptr)},
         {"patient_position", run.patientPosition},
         {"positioner", positionerJson(run.positioner)},
         {"geometry_missing", run.missingGeometry},
         {"rotational", run.rotational},
         {"dose",
          {{"area_dose_product_dGy_cm2", r.dose.areaDoseProductDGyCm2},
           {"entrance_dose_mGy", r.dose.entranceDoseMGy},
           {"exposure_time_ms", r.dose.exposureTimeMs},
           {"values_with_dap", r.dose.valuesWithDap},
           {"values_without_dap", r.dose.valuesWithoutDap}}},
         {"frame_details", frames}});
  }
  j["dose_reports"] = json::array();
  for (const auto& d : inv.doseReports) {
    json totals = json::array();
    for (const auto& t : d.accumulatedTotals)
      totals.push_back({{"concept", t.conceptMeaning},
                        {"code", t.conceptCode},
                        {"value", opt(t.value)},
                        {"raw", t.rawValue},
                        {"unit", t.unit}});
    j["dose_reports"].push_back({{"file", d.path},
                                 {"template", d.templateId},
                                 {"procedure", d.procedureReported},
                                 {"irradiation_events", d.irradiationEvents},
                                 {"accumulated", totals}});
  }
  j["other_objects"] = inv.otherObjects;
  j["problems"] = json::array();
  for (const auto& p : inv.problems)
    j["problems"].push_back(
        {{"severity", severityName(p.severity)}, {"file", p.file}, {"message", p.message}});
  return j;
}

void printInventory(const StudyInventory& inv, std::ostream& out) {
  out << "Looked at " << inv.filesLookedAt << " file(s): " << inv.files.size()
      << " DICOM object(s)\n";
  for (const auto& p : inv.patients)
    out << "Patient: " << (p.name.empty() ? "(no name)" : p.name) << ", ID "
        << (p.id.empty() ? "(none)" : p.id) << ", born "
        << (p.birthDate.empty() ? "(unknown)" : p.birthDate) << "\n";
  for (const auto& s : inv.volumeSeries) {
    const SliceStack& st = s.stack;
    const Mat3 dir = Mat3::fromColumns(st.rowDirection, st.columnDirection, st.normal);
    out << "Series " << s.modality << " " << s.seriesInstanceUid
        << (s.description.empty() ? "" : " \"" + s.description + "\"") << ": " << st.order.size()
        << " slice(s) of " << s.files.size() << " file(s), " << st.columns << "x" << st.rows << "x"
        << st.order.size() << " voxels, spacing " << fmt(st.spacingMm[0]) << " x "
        << fmt(st.spacingMm[1]) << " x " << fmt(st.spacingMm[2]) << " mm, " << slicePlaneName(dir)
        << " (" << orientationLabel(dir) << "), origin (" << fmt(st.originLps.x, 2) << ", "
        << fmt(st.originLps.y, 2) << ", " << fmt(st.originLps.z, 2) << ") mm LPS, "
        << (st.usable ? "loadable" : "NOT loadable") << ", " << st.gaps.size() << " gap(s)\n";
  }
  for (const auto& r : inv.runs) {
    const XRayRun& run = r.run;
    const CArmPositioner& p = run.positioner;
    out << "Run " << run.header.modality
        << (run.header.kind == DicomObjectKind::EnhancedXRayRun ? " (enhanced)" : "") << " "
        << run.header.path << ": " << run.header.numberOfFrames << " frame(s) "
        << run.header.columns << "x" << run.header.rows << " " << run.header.bitsStored << "-bit, "
        << (run.frameTimeMs ? fmt(1000.0 / *run.frameTimeMs, 2) + " frames/s"
                            : std::string("frame rate missing"))
        << ", patient position " << (run.patientPosition.empty() ? "missing" : run.patientPosition)
        << "\n";
    out << "  geometry: primary " << optText(p.primaryAngleDeg, "deg") << ", secondary "
        << optText(p.secondaryAngleDeg, "deg") << ", SID " << optText(p.sourceToDetectorMm, "mm")
        << ", SOD " << optText(p.sourceToPatientMm, "mm") << ", imager pixel spacing "
        << (p.imagerPixelSpacingMm ? fmt((*p.imagerPixelSpacingMm)[0]) + " x " +
                                         fmt((*p.imagerPixelSpacingMm)[1]) + " mm"
                                   : std::string("missing"))
        << (run.geometryComplete()
                ? ""
                : " (geometry incomplete: " + std::to_string(run.missingGeometry.size()) +
                      " attribute(s) missing)")
        << "\n";
    out << "  dose from image attributes: DAP " << fmt(r.dose.areaDoseProductDGyCm2, 4)
        << " dGy*cm2 (" << fmt(r.dose.areaDoseProductDGyCm2 / 10.0, 5) << " Gy*cm2), entrance dose "
        << fmt(r.dose.entranceDoseMGy, 4) << " mGy, exposure time " << fmt(r.dose.exposureTimeMs, 1)
        << " ms";
    if (r.dose.valuesWithoutDap > 0)
      out << " (" << r.dose.valuesWithoutDap << " value(s) without DAP: total incomplete)";
    out << "\n";
  }
  for (const auto& d : inv.doseReports) {
    out << "Dose report " << d.path << ": template " << (d.templateId.empty() ? "?" : d.templateId)
        << ", " << d.irradiationEvents << " irradiation event(s)";
    if (!d.procedureReported.empty()) out << ", " << d.procedureReported;
    out << "\n";
    for (const auto& t : d.accumulatedTotals)
      out << "  " << t.conceptMeaning << ": "
          << (t.value ? significant(*t.value) : "(" + t.rawValue + ")") << " " << t.unit << "\n";
  }
  for (const auto& o : inv.otherObjects)
    out << "Other: " << o << "\n";
  for (const auto& p : inv.problems)
    out << p.toString() << "\n";
  out << inv.problems.size() << " problem(s)\n";
}

} // namespace fluoroplan::cli
