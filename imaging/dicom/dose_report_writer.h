#pragma once
// Writes an X-Ray Radiation Dose SR (TID 10001, projection X-ray) with
// DCMTK's dcmsr: one TID 10003 irradiation event per entry and the
// accumulated totals (TID 10002/10004) computed from those events, so the
// report's totals equal the sum of its events by construction.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "imaging/dicom/dicom_writer.h"

namespace fluoroplan {

struct DoseReportEvent {
  std::string irradiationEventUid;
  std::string startDateTime;           // DT, YYYYMMDDhhmmss
  bool fluoroscopy = true;             // else a stationary acquisition
  double doseAreaProductGyM2 = 0;      // RDSR unit: Gy.m2 (1 Gy.m2 = 10^4 Gy.cm2)
  double doseRpGy = 0;                 // reference air kerma at the reference point, Gy
  std::optional<double> exposureTimeS; // irradiation duration, s; empty: not written
  // The vendor's reference-point definition (code meaning or text); empty:
  // 15 cm from the isocentre toward the source (113860).
  std::optional<double> primaryAngleDeg, secondaryAngleDeg, kvp, tubeCurrentMA, pulseWidthMs;
  std::optional<int> numberOfPulses;
  std::string comment;
  std::string referencePoint;
};

struct DoseReportContent {
  SeriesIdentity identity; // patient, study; the SR gets its own series
  std::vector<DoseReportEvent> events;
};

void writeDoseReport(const DoseReportContent& content, const std::filesystem::path& file);

} // namespace fluoroplan
