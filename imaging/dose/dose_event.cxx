#include "imaging/dose/dose_event.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>

namespace fluoroplan {

const char* doseSourceName(DoseSource s) {
  switch (s) {
  case DoseSource::ImageHeader:
    return "image header";
  case DoseSource::DoseReport:
    return "dose report";
  case DoseSource::UserEntry:
    return "user entry";
  }
  return "?";
}

const char* irradiationKindName(IrradiationKind k) {
  switch (k) {
  case IrradiationKind::Fluoroscopy:
    return "fluoroscopy";
  case IrradiationKind::Acquisition:
    return "acquisition";
  case IrradiationKind::Unknown:
    return "unknown";
  }
  return "?";
}

namespace {

std::optional<double> scaled(double value, const std::map<std::string, double>& factors,
                             const std::string& unit, std::string& warning,
                             const std::map<std::string, std::string>& vendorSpellings) {
  if (auto it = factors.find(unit); it != factors.end()) return value * it->second;
  if (auto it = vendorSpellings.find(unit); it != vendorSpellings.end()) {
    warning = "unit '" + unit + "' is not UCUM; read as '" + it->second + "'";
    return value * factors.at(it->second);
  }
  warning = unit.empty() ? "no unit given" : "unknown unit '" + unit + "'";
  return std::nullopt;
}

} // namespace

std::optional<double> toGrayCm2(double value, const std::string& unit, std::string& warning) {
  // 1 Gy.m2 = 10^4 Gy.cm2; 1 dGy.cm2 = 0.1 Gy.cm2 (the unit of (0018,115E)).
  static const std::map<std::string, double> f{
      {"Gy.m2", 1e4},    {"Gy.cm2", 1.0},  {"dGy.cm2", 0.1}, {"cGy.cm2", 0.01}, {"mGy.cm2", 1e-3},
      {"uGy.cm2", 1e-6}, {"uGy.m2", 1e-2}, {"mGy.m2", 10.0}, {"dGy.m2", 1e3},   {"cGy.m2", 1e2}};
  static const std::map<std::string, std::string> vendor{
      {"Gym2", "Gy.m2"},     {"Gy*m2", "Gy.m2"},     {"Gy m2", "Gy.m2"},      {"Gycm2", "Gy.cm2"},
      {"dGycm2", "dGy.cm2"}, {"dGy*cm2", "dGy.cm2"}, {"dGy*cm^2", "dGy.cm2"}, {"uGym2", "uGy.m2"}};
  return scaled(value, f, unit, warning, vendor);
}

std::optional<double> toMilliGray(double value, const std::string& unit, std::string& warning) {
  static const std::map<std::string, double> f{
      {"Gy", 1e3}, {"dGy", 1e2}, {"cGy", 10.0}, {"mGy", 1.0}, {"uGy", 1e-3}};
  static const std::map<std::string, std::string> vendor{{"GY", "Gy"}, {"MGY", "mGy"}};
  return scaled(value, f, unit, warning, vendor);
}

std::optional<double> toSeconds(double value, const std::string& unit, std::string& warning) {
  static const std::map<std::string, double> f{
      {"s", 1.0}, {"ms", 1e-3}, {"min", 60.0}, {"us", 1e-6}, {"h", 3600.0}};
  static const std::map<std::string, std::string> vendor{{"sec", "s"}, {"S", "s"}};
  return scaled(value, f, unit, warning, vendor);
}

std::string dicomDateTime(double seconds) {
  // Civil date from days since 1970-01-01 (proleptic Gregorian), the
  // inverse of the day count below.
  const long total = long(std::floor(seconds));
  long days = total / 86400, rest = total % 86400;
  if (rest < 0) {
    rest += 86400;
    --days;
  }
  const long z = days + 719468;
  const long era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = unsigned(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  const long y = long(yoe) + era * 400 + (m <= 2);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04ld%02u%02u%02ld%02ld%02ld", y, m, d, rest / 3600,
                rest / 60 % 60, rest % 60);
  return buf;
}

std::optional<double> dicomDateTimeSeconds(const std::string& dt) {
  // The leading digits: YYYYMMDD[hh[mm[ss]]]; a fraction only after ss, and a
  // time-zone offset (+hhmm, -hhmm) ends the value.
  std::size_t n = 0;
  while (n < dt.size() && n < 14 && dt[n] >= '0' && dt[n] <= '9')
    ++n;
  if (n < 8 || n % 2 != 0) return std::nullopt;
  if (n < dt.size() && dt[n] != '.' && dt[n] != '+' && dt[n] != '-' && dt[n] != '&' && dt[n] != ' ')
    return std::nullopt;
  auto num = [&](std::size_t pos, std::size_t len) {
    return pos + len <= n ? std::atoi(dt.substr(pos, len).c_str()) : 0;
  };
  const int y = num(0, 4), m = num(4, 2), d = num(6, 2);
  if (m < 1 || m > 12 || d < 1 || d > 31) return std::nullopt;
  const int hh = num(8, 2), mm = num(10, 2);
  double ss = num(12, 2);
  if (n == 14 && dt.size() > 15 && dt[14] == '.') {
    std::size_t end = 15;
    while (end < dt.size() && std::isdigit(static_cast<unsigned char>(dt[end])))
      ++end;
    ss += std::atof(("0." + dt.substr(15, end - 15)).c_str());
  }
  if (hh > 23 || mm > 59 || ss >= 61) return std::nullopt;
  // Days from 1970-01-01 in the proleptic Gregorian calendar.
  const int yy = y - (m <= 2);
  const int era = (yy >= 0 ? yy : yy - 399) / 400;
  const unsigned yoe = unsigned(yy - era * 400);
  const unsigned doy = unsigned((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1);
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  const long days = long(era) * 146097 + long(doe) - 719468;
  return double(days) * 86400.0 + hh * 3600.0 + mm * 60.0 + ss;
}

namespace {

constexpr double kAbsurdKermaMGy = 50000; // 50 Gy at the reference point in one event
constexpr double kAbsurdPkaGyCm2 = 10000; // far above any interventional procedure's total
constexpr double kAbsurdDurationS = 4 * 3600;

const SrNumber* findNumber(const DoseReportEventRecord& ev, const char* code) {
  for (const auto& n : ev.numbers)
    if (n.conceptCode == code) return &n;
  return nullptr;
}
const SrContentItem* findItem(const DoseReportEventRecord& ev, const char* code) {
  for (const auto& i : ev.items)
    if (i.conceptCode == code) return &i;
  return nullptr;
}

// A measured value in a clinical unit, with every oddity said.
template <typename Convert>
std::optional<double> measured(const SrNumber* n, Convert convert, const std::string& file,
                               Problems& problems, double absurd) {
  if (!n) return std::nullopt;
  if (!n->value) {
    problems.push_back(
        {Severity::Warning, file,
         "'" + n->conceptMeaning + "' has no usable value" +
             (n->rawValue.empty() ? std::string(" (empty)") : " ('" + n->rawValue + "')") +
             ": not counted"});
    return std::nullopt;
  }
  std::string warning;
  const auto v = convert(*n->value, n->unit, warning);
  if (!warning.empty())
    problems.push_back({v ? Severity::Warning : Severity::Error, file,
                        "'" + n->conceptMeaning + "' " + n->rawValue + ": " + warning +
                            (v ? "" : "; not counted")});
  if (!v) return std::nullopt;
  if (*v < 0 || !std::isfinite(*v)) {
    problems.push_back({Severity::Error, file,
                        "'" + n->conceptMeaning + "' is negative (" + n->rawValue + " " + n->unit +
                            "): not counted"});
    return std::nullopt;
  }
  if (*v > absurd) {
    problems.push_back({Severity::Error, file,
                        "'" + n->conceptMeaning + "' = " + n->rawValue + " " + n->unit +
                            " is beyond any plausible value: not counted"});
    return std::nullopt;
  }
  return v;
}

std::optional<double> plain(const SrNumber* n) {
  return n ? n->value : std::nullopt;
}

IrradiationKind kindOf(const SrContentItem* type) {
  if (!type) return IrradiationKind::Unknown;
  // Fluoroscopy is (P5-06000, SRT) in older reports and (44491008, SCT) in
  // newer ones; acquisitions are 113611 stationary, 113612 stepping, 113613
  // rotational (CID 10002).
  if (type->value == "P5-06000" || type->value == "44491008" || type->valueMeaning == "Fluoroscopy")
    return IrradiationKind::Fluoroscopy;
  if (type->value == "113611" || type->value == "113612" || type->value == "113613" ||
      type->valueMeaning.find("Acquisition") != std::string::npos)
    return IrradiationKind::Acquisition;
  return IrradiationKind::Unknown;
}

} // namespace

DoseReportDose doseFromReport(const DoseReportSummary& report, const DicomHeader& header) {
  DoseReportDose out;
  out.path = report.path;
  out.patient = header.patient;
  out.studyInstanceUid = header.studyInstanceUid;
  out.studyDate = header.studyDate;
  out.manufacturer = header.manufacturer;
  out.modelName = header.modelName;
  out.problems = report.problems;
  // A CT dose report (TID 10011) shares the SOP class but holds CT
  // acquisitions (CTDIvol, DLP), not projection X-ray events: nothing here
  // to count, and saying so beats a silent zero.
  if (report.templateId == "10011" ||
      report.procedureReported.find("Computed Tomography") != std::string::npos) {
    out.problems.push_back({Severity::Error, report.path,
                            "a CT radiation dose report (TID 10011), not a projection X-ray one "
                            "(TID 10001): its CT dose is not counted here"});
    return out;
  }
  if (!report.templateId.empty() && report.templateId != "10001")
    out.problems.push_back({Severity::Error, report.path,
                            "dose report template TID " + report.templateId +
                                ", not TID 10001: its events are not counted"});
  if (!report.templateId.empty() && report.templateId != "10001") return out;
  for (const SrNumber& n : report.accumulatedTotals) {
    StatedTotal t{n.conceptCode, n.conceptMeaning, n.plane, n.rawValue, n.unit, {}, {}};
    std::string warning;
    const std::string& c = n.conceptCode;
    if (n.value) {
      if (c == "113722" || c == "113726" || c == "113727") {
        t.value = toGrayCm2(*n.value, n.unit, warning);
        t.clinicalUnit = "Gy cm2";
      } else if (c == "113725" || c == "113728" || c == "113729") {
        t.value = toMilliGray(*n.value, n.unit, warning);
        t.clinicalUnit = "mGy";
      } else if (c == "113730" || c == "113855") {
        t.value = toSeconds(*n.value, n.unit, warning);
        t.clinicalUnit = "s";
      } else {
        t.value = n.value;
      }
    }
    if (!warning.empty())
      out.problems.push_back(
          {Severity::Warning, report.path, "'" + n.conceptMeaning + "': " + warning});
    out.statedTotals.push_back(std::move(t));
  }
  // A report whose Irradiation Duration disagrees with its own pulse counts
  // (one vendor writes it in units of 10 ms, labelled seconds) is not
  // trusted for its other events either.
  bool durationUntrusted = false;
  for (const DoseReportEventRecord& rec : report.events) {
    const SrNumber* d = findNumber(rec, "113742");
    const auto rate = plain(findNumber(rec, "113791"));
    const auto pulses = plain(findNumber(rec, "113768"));
    std::string w;
    const auto ds = d && d->value ? toSeconds(*d->value, d->unit, w) : std::nullopt;
    if (ds && rate && *rate > 0 && pulses && *ds > 3 * (*pulses / *rate) + 1.0)
      durationUntrusted = true;
  }
  if (durationUntrusted)
    out.problems.push_back({Severity::Warning, report.path,
                            "Irradiation Duration (113742) disagrees with the pulse counts: "
                            "durations come from pulses and pulse rate, else exposure time"});
  std::size_t index = 0;
  for (const DoseReportEventRecord& rec : report.events) {
    ++index;
    DoseEvent e;
    e.source = DoseSource::DoseReport;
    e.file = report.path;
    e.sopInstanceUid = header.sopInstanceUid;
    e.indexInSource = index;
    Problems& p = e.problems;
    if (const auto* uid = findItem(rec, "113769")) e.eventUid = uid->value;
    if (e.eventUid.empty())
      p.push_back({Severity::Warning, report.path,
                   "irradiation event " + std::to_string(index) +
                       " has no Irradiation Event UID: matched by time and angles only"});
    if (const auto* dt = findItem(rec, "111526")) e.dateTime = dt->value;
    e.startSeconds = dicomDateTimeSeconds(e.dateTime);
    e.kind = kindOf(findItem(rec, "113721"));
    if (e.kind == IrradiationKind::Unknown)
      p.push_back({Severity::Warning, report.path,
                   "irradiation event " + std::to_string(index) +
                       " has no known event type: counted in the totals, not in the fluoroscopy "
                       "or acquisition split"});
    if (const auto* plane = findItem(rec, "113764")) e.plane = plane->valueMeaning;
    if (const auto* rp = findItem(rec, "113780"))
      e.referencePoint = rp->valueType == "CODE" ? rp->valueMeaning : rp->value;
    e.kermaAreaProductGyCm2 =
        measured(findNumber(rec, "122130"), toGrayCm2, report.path, p, kAbsurdPkaGyCm2);
    e.referenceAirKermaMGy =
        measured(findNumber(rec, "113738"), toMilliGray, report.path, p, kAbsurdKermaMGy);
    if (!findNumber(rec, "122130"))
      p.push_back({Severity::Warning, report.path,
                   "irradiation event " + std::to_string(index) + " states no DAP (122130)"});
    if (!findNumber(rec, "113738"))
      p.push_back({Severity::Warning, report.path,
                   "irradiation event " + std::to_string(index) + " states no Dose (RP) (113738)"});
    e.primaryAngleDeg = plain(findNumber(rec, "112011"));
    e.secondaryAngleDeg = plain(findNumber(rec, "112012"));
    e.kvp = plain(findNumber(rec, "113733"));
    e.tubeCurrentMA = plain(findNumber(rec, "113734"));
    e.pulseWidthMs = plain(findNumber(rec, "113793"));
    if (auto n = plain(findNumber(rec, "113768"))) {
      if (std::isfinite(*n) && *n >= 0 && *n <= 1e6)
        e.pulses = int(std::lround(*n));
      else
        p.push_back({Severity::Error, report.path,
                     "irradiation event " + std::to_string(index) + ": Number of Pulses " +
                         findNumber(rec, "113768")->rawValue + " is not a count: not used"});
    }
    // Beam-on time: Irradiation Duration (113742) when it agrees with the
    // pulses and pulse rate; else pulses / rate; else the exposure time
    // (113824, or the retired 113735), which for pulsed fluoroscopy is only
    // the sum of the pulse widths.
    const auto duration = durationUntrusted ? std::nullopt
                                            : measured(findNumber(rec, "113742"), toSeconds,
                                                       report.path, p, kAbsurdDurationS);
    std::optional<double> fromPulses;
    if (const auto rate = plain(findNumber(rec, "113791"));
        rate && std::isfinite(*rate) && *rate > 0 && *rate <= 1000 && e.pulses &&
        *e.pulses / *rate <= kAbsurdDurationS)
      fromPulses = *e.pulses / *rate;
    if (duration) {
      e.durationS = duration;
    } else if (fromPulses) {
      e.durationS = fromPulses;
    } else {
      // The exposure time is the beam-on time only for continuous
      // irradiation; for pulsed fluoroscopy it is the sum of the pulse
      // widths, far shorter: then the time is unknown, not underestimated.
      const SrNumber* exposure = findNumber(rec, "113824");
      if (!exposure) exposure = findNumber(rec, "113735");
      const bool pulsed = e.pulseWidthMs || findNumber(rec, "113791");
      if (exposure && pulsed && e.kind == IrradiationKind::Fluoroscopy)
        p.push_back({Severity::Warning, report.path,
                     "irradiation event " + std::to_string(index) +
                         ": pulsed fluoroscopy with neither Irradiation Duration nor a pulse "
                         "count: its beam-on time is unknown (the exposure time, " +
                         exposure->rawValue + " " + exposure->unit +
                         ", counts only the pulses' widths)"});
      else
        e.durationS = measured(exposure, toSeconds, report.path, p, kAbsurdDurationS);
    }
    if (e.kind == IrradiationKind::Acquisition) e.frames = e.pulses.value_or(0);
    out.events.push_back(std::move(e));
  }
  return out;
}

std::vector<DoseEvent> doseFromRun(const XRayRun& run) {
  std::vector<DoseEvent> out;
  const std::string& file = run.header.path;
  auto fill = [&](DoseEvent& e, const XRayExposure& x, const CArmPositioner& pos) {
    e.source = DoseSource::ImageHeader;
    e.file = file;
    e.sopInstanceUid = run.header.sopInstanceUid;
    e.includesPrecedingFluoro = true;
    // (0018,1155) Radiation Setting: SC is a low-dose (fluoroscopic)
    // setting, GR a high-dose acquisition.
    e.kind = x.radiationSetting == "SC"   ? IrradiationKind::Fluoroscopy
             : x.radiationSetting == "GR" ? IrradiationKind::Acquisition
                                          : IrradiationKind::Unknown;
    if (x.areaDoseProductDGyCm2) {
      if (*x.areaDoseProductDGyCm2 < 0)
        e.problems.push_back({Severity::Error, file,
                              "Image and Fluoroscopy Area Dose Product (0018,115E) is negative: "
                              "not counted"});
      else
        e.kermaAreaProductGyCm2 = *x.areaDoseProductDGyCm2 * 0.1; // dGy cm2 -> Gy cm2
    }
    if (x.exposureTimeMs && *x.exposureTimeMs >= 0) e.durationS = *x.exposureTimeMs / 1000.0;
    e.entranceDoseMGy = x.entranceDoseMGy;
    e.kvp = x.kvp;
    e.tubeCurrentMA = x.tubeCurrentMA;
    e.pulseWidthMs = x.pulseWidthMs;
    e.primaryAngleDeg = pos.primaryAngleDeg;
    e.secondaryAngleDeg = pos.secondaryAngleDeg;
  };
  // Per-frame events only when every frame states its own DAP; frames that
  // share an Irradiation Event UID (a run is usually one irradiation) are
  // one event, their DAPs and times summed.
  bool perFrame = run.header.kind == DicomObjectKind::EnhancedXRayRun && !run.frames.empty();
  for (const auto& f : run.frames)
    perFrame = perFrame && f.ownAreaDoseProduct && f.exposure.areaDoseProductDGyCm2.has_value();
  if (perFrame) {
    for (const auto& f : run.frames) {
      if (!out.empty() && !f.irradiationEventUid.empty() &&
          out.back().eventUid == f.irradiationEventUid) {
        DoseEvent& e = out.back();
        if (e.kermaAreaProductGyCm2 && *f.exposure.areaDoseProductDGyCm2 >= 0)
          *e.kermaAreaProductGyCm2 += *f.exposure.areaDoseProductDGyCm2 * 0.1;
        if (e.durationS && f.exposure.exposureTimeMs && *f.exposure.exposureTimeMs >= 0)
          *e.durationS += *f.exposure.exposureTimeMs / 1000.0;
        ++e.frames;
        continue;
      }
      DoseEvent e;
      fill(e, f.exposure, f.positioner);
      e.eventUid = f.irradiationEventUid;
      e.dateTime = f.acquisitionDateTime.empty() ? run.acquisitionDateTime : f.acquisitionDateTime;
      e.startSeconds = dicomDateTimeSeconds(e.dateTime);
      e.frames = 1;
      out.push_back(std::move(e));
    }
  } else {
    DoseEvent e;
    fill(e, run.exposure, run.positioner);
    e.eventUid = run.irradiationEventUid;
    e.dateTime = run.acquisitionDateTime;
    e.startSeconds = dicomDateTimeSeconds(e.dateTime);
    e.frames = int(run.frames.size());
    if (!run.exposure.areaDoseProductDGyCm2)
      e.problems.push_back({Severity::Warning, file,
                            "no Image and Fluoroscopy Area Dose Product (0018,115E): this image's "
                            "dose is unknown"});
    out.push_back(std::move(e));
  }
  return out;
}

DoseEvent userEnteredTotals(double kermaMGy, double pkaGyCm2, double fluoroTimeS,
                            const std::string& dateTime) {
  DoseEvent e;
  e.source = DoseSource::UserEntry;
  e.file = "user entry";
  e.dateTime = dateTime;
  e.startSeconds = dicomDateTimeSeconds(dateTime);
  e.kind = IrradiationKind::Unknown;
  if (kermaMGy >= 0) e.referenceAirKermaMGy = kermaMGy;
  if (pkaGyCm2 >= 0) e.kermaAreaProductGyCm2 = pkaGyCm2;
  if (fluoroTimeS >= 0) e.durationS = fluoroTimeS;
  return e;
}

} // namespace fluoroplan
