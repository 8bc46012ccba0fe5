#pragma once
// One irradiation, whatever reported it: an image header (XA/RF), a dose
// report's irradiation event (TID 10003), or totals typed in from the
// C-arm's own display. Values are converted to the units the room's dose
// display uses (IEC 60601-2-43): reference air kerma Ka,r in mGy, air
// kerma-area product PKA in Gy cm2, times in seconds. A value the source
// does not give stays empty: never a silent zero.
#include <optional>
#include <string>
#include <vector>

#include "imaging/core/problem.h"
#include "imaging/dicom/dose_report.h"
#include "imaging/dicom/xray_run.h"

namespace fluoroplan {

enum class DoseSource { ImageHeader, DoseReport, UserEntry };
enum class IrradiationKind { Fluoroscopy, Acquisition, Unknown };

const char* doseSourceName(DoseSource s);
const char* irradiationKindName(IrradiationKind k);

struct DoseEvent {
  DoseSource source = DoseSource::DoseReport;
  std::string file;                   // where it was read (or "user entry")
  std::string eventUid;               // Irradiation Event UID; empty when the source has none
  std::string sopInstanceUid;         // image the event came from (header events)
  std::string dateTime;               // DT as stored, YYYYMMDDhhmmss[.ffffff]
  std::optional<double> startSeconds; // dateTime as seconds since 1970 (no time zone)
  IrradiationKind kind = IrradiationKind::Unknown;
  std::string plane;                           // Acquisition Plane, e.g. "Single Plane"
  std::optional<double> referenceAirKermaMGy;  // Ka,r at the reference point
  std::optional<double> kermaAreaProductGyCm2; // PKA (DAP)
  std::optional<double> durationS;             // beam-on time of this event
  std::optional<double> primaryAngleDeg, secondaryAngleDeg;
  std::optional<double> kvp, tubeCurrentMA, pulseWidthMs;
  std::optional<int> pulses;
  std::optional<double> entranceDoseMGy; // headers only: skin entrance, never summed as Ka,r
  std::string referencePoint;            // the vendor's reference-point definition
  int frames = 0;                        // images stored by this event (0: unknown)
  std::size_t indexInSource = 0;         // position among its file's events (from 1)
  // A header's DAP includes the fluoroscopy since the previous stored image
  // (PS3.3 C.8.7.8): set for header events, which may then overlap report
  // fluoroscopy events.
  bool includesPrecedingFluoro = false;
  Problems problems; // what was odd about this event's values
};

// Units: each conversion is explicit, and a unit we do not know is an
// error for that value (it stays empty), never a guess.
// PKA: Gy.m2 (and the vendor spelling "Gym2", with a warning), dGy.cm2,
// cGy.cm2, mGy.cm2, uGy.m2, Gy.cm2, uGy.cm2 -> Gy cm2.
std::optional<double> toGrayCm2(double value, const std::string& unit, std::string& warning);
// Ka,r: Gy, dGy, cGy, mGy, uGy -> mGy.
std::optional<double> toMilliGray(double value, const std::string& unit, std::string& warning);
// Time: s, ms, min, us -> s.
std::optional<double> toSeconds(double value, const std::string& unit, std::string& warning);

// DICOM DT (YYYYMMDDhhmmss[.ffffff][&ZZXX]) to seconds since 1970, time
// zone ignored (all events of one procedure share the room's clock).
std::optional<double> dicomDateTimeSeconds(const std::string& dt);
// The inverse, to whole seconds (rounded down): YYYYMMDDhhmmss.
std::string dicomDateTime(double secondsSince1970);

// A dose report's events, its stated totals and identity.
struct StatedTotal {
  std::string conceptCode, conceptMeaning, plane;
  std::string rawValue, unit;
  std::optional<double> value; // in the clinical unit below
  std::string clinicalUnit;    // "mGy", "Gy cm2", "s" or "" (counts)
};

struct DoseReportDose {
  std::string path;
  PatientIdentity patient;
  std::string studyInstanceUid, studyDate, manufacturer, modelName;
  std::vector<DoseEvent> events;
  std::vector<StatedTotal> statedTotals;
  Problems problems;
};

DoseReportDose doseFromReport(const DoseReportSummary& report, const DicomHeader& header);

// Header events of one XA/RF run: one per stored image for a legacy run,
// one per frame for an enhanced run whose frames carry their own exposure.
std::vector<DoseEvent> doseFromRun(const XRayRun& run);

// Totals typed in from the C-arm's own display (for C-arms that export
// only video): one event standing for the whole procedure.
DoseEvent userEnteredTotals(double kermaMGy, double pkaGyCm2, double fluoroTimeS,
                            const std::string& dateTime);

} // namespace fluoroplan
