#include "imaging/dose/dose_report_out.h"

#include "imaging/dicom/dose_report_writer.h"

namespace fluoroplan {

void writeProcedureDoseReport(const DoseLedger& ledger, const SeriesIdentity& identity,
                              const std::filesystem::path& file) {
  DoseReportContent content;
  content.identity = identity;
  std::size_t missing = 0;
  std::string firstMissing;
  for (const DoseEvent& e : ledger.events()) {
    if (!e.kermaAreaProductGyCm2 || !e.referenceAirKermaMGy || e.kind == IrradiationKind::Unknown) {
      if (missing++ == 0) firstMissing = e.file;
      continue;
    }
    DoseReportEvent r;
    // An event from an image header may have no UID of its own: the report
    // gives it a stable one.
    r.irradiationEventUid =
        e.eventUid.empty()
            ? deterministicUid(identity.seed + "/dose-event/" + e.file + "/" + e.dateTime + "/" +
                               std::to_string(content.events.size()))
            : e.eventUid;
    r.startDateTime = e.dateTime.substr(0, 14);
    r.fluoroscopy = e.kind != IrradiationKind::Acquisition;
    r.doseAreaProductGyM2 = *e.kermaAreaProductGyCm2 * 1e-4; // Gy cm2 -> Gy m2
    r.doseRpGy = *e.referenceAirKermaMGy * 1e-3;             // mGy -> Gy
    r.exposureTimeS = e.durationS;
    r.referencePoint = e.referencePoint;
    r.primaryAngleDeg = e.primaryAngleDeg;
    r.secondaryAngleDeg = e.secondaryAngleDeg;
    r.kvp = e.kvp;
    r.tubeCurrentMA = e.tubeCurrentMA;
    r.pulseWidthMs = e.pulseWidthMs;
    r.numberOfPulses = e.pulses;
    content.events.push_back(r);
  }
  if (missing > 0)
    throw DoseReportOutError(
        file.string() + ": not written: " + std::to_string(missing) +
        " counted event(s) have no DAP, no Dose (RP) or no known type (first from " + firstMissing +
        "); a dose report needs all three for every irradiation event");
  if (content.events.empty())
    throw DoseReportOutError(file.string() + ": not written: no irradiation event to report");
  writeDoseReport(content, file);
}

} // namespace fluoroplan
