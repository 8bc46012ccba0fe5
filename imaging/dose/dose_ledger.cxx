#include "imaging/dose/dose_ledger.h"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace fluoroplan {

namespace {

bool sameIrradiation(const DoseEvent& header, const DoseEvent& report) {
  if (!header.startSeconds || !report.startSeconds) return false;
  if (std::abs(*header.startSeconds - *report.startSeconds) > 2.0) return false;
  if (header.kind != IrradiationKind::Unknown && report.kind != IrradiationKind::Unknown &&
      header.kind != report.kind)
    return false;
  auto close = [](const std::optional<double>& a, const std::optional<double>& b) {
    return !a || !b || std::abs(*a - *b) <= 1.0;
  };
  return close(header.primaryAngleDeg, report.primaryAngleDeg) &&
         close(header.secondaryAngleDeg, report.secondaryAngleDeg);
}

std::string describe(const DoseEvent& e) {
  std::string s = std::string(doseSourceName(e.source)) + " event";
  if (!e.eventUid.empty()) s += " " + e.eventUid;
  if (!e.dateTime.empty()) s += " at " + e.dateTime;
  s += " in " + e.file;
  return s;
}

// Rule 3's key: a report event without a UID is known by its start and values.
std::string reportKey(const DoseEvent& e) {
  std::ostringstream o;
  o.precision(12);
  o << e.dateTime << "/" << e.kermaAreaProductGyCm2.value_or(-1) << "/"
    << e.referenceAirKermaMGy.value_or(-1) << "/" << e.durationS.value_or(-1) << "/"
    << e.primaryAngleDeg.value_or(-999) << "/" << e.secondaryAngleDeg.value_or(-999);
  return o.str();
}

// A header's DAP that folds preceding fluoroscopy into an acquisition
// cannot be split: it counts in the total only.
bool splitUnknown(const DoseEvent& e) {
  return e.includesPrecedingFluoro && e.kind == IrradiationKind::Acquisition;
}

void addTo(DoseTotals& t, const DoseEvent& e, double sign) {
  const double k = e.referenceAirKermaMGy.value_or(0), p = e.kermaAreaProductGyCm2.value_or(0),
               d = e.durationS.value_or(0);
  t.kermaMGy += sign * k;
  t.pkaGyCm2 += sign * p;
  t.events += int(sign);
  if (e.kind == IrradiationKind::Fluoroscopy) {
    t.fluoroKermaMGy += sign * k;
    t.fluoroPkaGyCm2 += sign * p;
    t.fluoroTimeS += sign * d;
    t.fluoroEvents += int(sign);
  } else if (e.kind == IrradiationKind::Acquisition) {
    t.acquisitionKermaMGy += sign * k;
    if (!splitUnknown(e)) t.acquisitionPkaGyCm2 += sign * p;
    t.acquisitionTimeS += sign * d;
    t.acquisitions += int(sign);
  }
}

} // namespace

DoseTotals sumEvents(const std::vector<DoseEvent>& events) {
  DoseTotals t;
  for (const auto& e : events)
    addTo(t, e, 1.0);
  return t;
}

void DoseLedger::accumulate(const DoseEvent& e, double sign) {
  addTo(sums_, e, sign);
  const long s = sign > 0 ? 1 : -1;
  if (e.source == DoseSource::ImageHeader && !e.referenceAirKermaMGy) headerWithoutKerma_ += s;
  if (splitUnknown(e)) splitUnknown_ += s;
  if (!e.durationS) timeUnknown_ += s;
  for (const auto& p : e.problems)
    if (p.severity == Severity::Error) valuesNotCounted_ += s;
}

void DoseLedger::retire(std::size_t i) {
  accumulate(counted_[i], -1.0);
  live_[i] = false;
}

std::size_t DoseLedger::push(DoseEvent e) {
  anyReport_ = anyReport_ || e.source == DoseSource::DoseReport;
  anyHeader_ = anyHeader_ || e.source == DoseSource::ImageHeader;
  if (e.startSeconds) latestEventSeconds_ = std::max(latestEventSeconds_, *e.startSeconds);
  counted_.push_back(std::move(e));
  live_.push_back(true);
  const std::size_t i = counted_.size() - 1;
  const DoseEvent& c = counted_[i];
  if (!c.eventUid.empty()) byUid_[c.eventUid] = i;
  if (c.source == DoseSource::ImageHeader && !c.sopInstanceUid.empty())
    bySop_[c.sopInstanceUid + "/" + c.eventUid + "/" + c.dateTime] = i;
  if (c.source == DoseSource::DoseReport && c.eventUid.empty()) byReportKey_[reportKey(c)] = i;
  if (c.source == DoseSource::ImageHeader) headers_.push_back(i);
  accumulate(c, +1.0);
  if (c.source == DoseSource::DoseReport && c.startSeconds) {
    reportsByStart_.emplace(*c.startSeconds, i);
    const double end = *c.startSeconds + c.durationS.value_or(0);
    const bool grew =
        !reportSpanBegin_ || *c.startSeconds < *reportSpanBegin_ || end > *reportSpanEnd_;
    reportSpanBegin_ = std::min(reportSpanBegin_.value_or(*c.startSeconds), *c.startSeconds);
    reportSpanEnd_ = std::max(reportSpanEnd_.value_or(end), end);
    // Rule 5, in the other order: header events the report now covers.
    if (grew)
      for (std::size_t j : headers_)
        if (live_[j] && coveredByReport(counted_[j])) {
          retire(j);
          ++duplicates_;
        }
  }
  return i;
}

std::optional<std::size_t> DoseLedger::matchHeaderToReport(const DoseEvent& e) const {
  if (!e.startSeconds) return std::nullopt;
  if (e.source == DoseSource::DoseReport) {
    for (std::size_t i : headers_)
      if (live_[i] && sameIrradiation(counted_[i], e)) return i;
  } else if (e.source == DoseSource::ImageHeader) {
    for (auto it = reportsByStart_.lower_bound(*e.startSeconds - 2.0);
         it != reportsByStart_.end() && it->first <= *e.startSeconds + 2.0; ++it)
      if (live_[it->second] && sameIrradiation(e, counted_[it->second])) return it->second;
  }
  return std::nullopt;
}

bool DoseLedger::coveredByReport(const DoseEvent& header) const {
  return header.startSeconds && reportSpanBegin_ && *header.startSeconds >= *reportSpanBegin_ - 2 &&
         *header.startSeconds <= *reportSpanEnd_ + 2;
}

LedgerAdd DoseLedger::add(DoseEvent e) {
  if (e.source == DoseSource::UserEntry) {
    // The display is cumulative: the latest reading supersedes earlier ones
    // (a reading without a time is the latest one given).
    if (!userTotals_ || !e.startSeconds || !userTotals_->startSeconds ||
        *e.startSeconds >= *userTotals_->startSeconds) {
      userTotals_ = std::move(e);
      return {LedgerOutcome::Counted, {}};
    }
    ++duplicates_;
    return {LedgerOutcome::Duplicate,
            "an earlier reading of the C-arm's display than the one held"};
  }
  // 1. Irradiation Event UID.
  if (!e.eventUid.empty()) {
    if (auto it = byUid_.find(e.eventUid); it != byUid_.end() && live_[it->second]) {
      const std::size_t i = it->second;
      if (counted_[i].source == DoseSource::ImageHeader && e.source == DoseSource::DoseReport) {
        const std::string why = "same Irradiation Event UID as " + describe(counted_[i]) +
                                "; the report's values count";
        retire(i);
        push(std::move(e));
        return {LedgerOutcome::Replaced, why};
      }
      ++duplicates_;
      return {LedgerOutcome::Duplicate, "same Irradiation Event UID as " + describe(counted_[i])};
    }
  }
  // 2. The same image read twice.
  if (e.source == DoseSource::ImageHeader && !e.sopInstanceUid.empty()) {
    if (auto it = bySop_.find(e.sopInstanceUid + "/" + e.eventUid + "/" + e.dateTime);
        it != bySop_.end()) {
      ++duplicates_;
      return {LedgerOutcome::Duplicate, "the same image as " + describe(counted_[it->second])};
    }
  }
  // 3. The same report event without a UID, read twice.
  if (e.source == DoseSource::DoseReport && e.eventUid.empty()) {
    if (auto it = byReportKey_.find(reportKey(e)); it != byReportKey_.end() && live_[it->second]) {
      ++duplicates_;
      return {LedgerOutcome::Duplicate, "the same start time and values as " +
                                            describe(counted_[it->second]) +
                                            " (no Irradiation Event UID in either)"};
    }
  }
  // 4. Header and report events without a common UID: time, kind, angles.
  if (auto m = matchHeaderToReport(e)) {
    const DoseEvent& old = counted_[*m];
    if (old.source == DoseSource::ImageHeader) {
      const std::string why = "started within 2 s of " + describe(old) +
                              " with the same kind and angles; the report's values count";
      retire(*m);
      push(std::move(e));
      return {LedgerOutcome::Replaced, why};
    }
    ++duplicates_;
    return {LedgerOutcome::Duplicate,
            "started within 2 s of " + describe(old) + " with the same kind and angles"};
  }
  // 5. A header inside the time the dose report covers.
  if (e.source == DoseSource::ImageHeader && coveredByReport(e)) {
    ++duplicates_;
    return {LedgerOutcome::Duplicate,
            "within the time the dose report covers; its DAP (fluoroscopy before the image "
            "included) is in the report's events"};
  }
  push(std::move(e));
  return {LedgerOutcome::Counted, {}};
}

void DoseLedger::addStatedTotals(const std::string& report,
                                 const std::vector<StatedTotal>& totals) {
  Stated s;
  std::optional<double> fluoroPka, acqPka, fluoroK, acqK;
  for (const auto& t : totals) {
    if (!t.value) continue;
    if (t.conceptCode == "113725") s.kermaMGy = t.value;
    if (t.conceptCode == "113722") s.pkaGyCm2 = t.value;
    if (t.conceptCode == "113730") s.fluoroTimeS = t.value;
    if (t.conceptCode == "113726") fluoroPka = t.value;
    if (t.conceptCode == "113727") acqPka = t.value;
    if (t.conceptCode == "113728") fluoroK = t.value;
    if (t.conceptCode == "113729") acqK = t.value;
  }
  if (!s.pkaGyCm2 && fluoroPka && acqPka) s.pkaGyCm2 = *fluoroPka + *acqPka;
  if (!s.kermaMGy && fluoroK && acqK) s.kermaMGy = *fluoroK + *acqK;
  stated_[report] = s;
}

DoseTotals DoseLedger::totals() const {
  DoseTotals t = sums_;
  if (headerWithoutKerma_ > 0)
    t.incomplete.push_back(std::to_string(headerWithoutKerma_) +
                           " image(s) without a dose report: image headers give DAP but not the "
                           "reference air kerma, so Ka,r is missing for them");
  if (anyHeader_ && !anyReport_)
    t.incomplete.push_back("no dose report: fluoroscopy after the last stored image is in no "
                           "image header");
  if (splitUnknown_ > 0)
    t.incomplete.push_back(std::to_string(splitUnknown_) +
                           " image header(s) fold the fluoroscopy before an acquisition into its "
                           "DAP: the fluoroscopy/acquisition split of PKA is unknown");
  if (timeUnknown_ > 0)
    t.incomplete.push_back(std::to_string(timeUnknown_) +
                           " irradiation(s) with no known beam-on time: the times are low");
  if (valuesNotCounted_ > 0)
    t.incomplete.push_back(std::to_string(valuesNotCounted_) +
                           " value(s) were unusable (unknown unit, negative or absurd) and are "
                           "not counted");
  // Rule 7: a report's stated totals are a floor (copies of one report: the
  // largest, not the sum).
  auto floorTo = [&](double& total, double stated, const char* what, const char* unit) {
    if (stated <= total * (1 + 1e-9) + 1e-12) return;
    std::ostringstream o;
    o << what << " shown as the dose report states it, " << stated << " " << unit << ", above the "
      << total << " " << unit << " its events sum to";
    t.shownAsStated.push_back(o.str());
    total = stated;
  };
  double k = 0, p = 0, f = 0;
  for (const auto& [report, s] : stated_) {
    k = std::max(k, s.kermaMGy.value_or(0));
    p = std::max(p, s.pkaGyCm2.value_or(0));
    f = std::max(f, s.fluoroTimeS.value_or(0));
  }
  floorTo(t.kermaMGy, k, "Ka,r", "mGy");
  floorTo(t.pkaGyCm2, p, "PKA", "Gy cm2");
  floorTo(t.fluoroTimeS, f, "fluoroscopy time", "s");
  if (userTotals_) {
    const DoseEvent& u = *userTotals_;
    floorTo(t.kermaMGy, u.referenceAirKermaMGy.value_or(0), "Ka,r (C-arm display)", "mGy");
    floorTo(t.pkaGyCm2, u.kermaAreaProductGyCm2.value_or(0), "PKA (C-arm display)", "Gy cm2");
    floorTo(t.fluoroTimeS, u.durationS.value_or(0), "fluoroscopy time (C-arm display)", "s");
    // The display's totals hold what the recorded events miss, up to the
    // reading's time: complete only when no event came after it.
    const bool latest = !u.startSeconds || *u.startSeconds >= latestEventSeconds_;
    if (latest)
      t.incomplete.clear();
    else
      t.incomplete.push_back("irradiation recorded after the C-arm's display was read");
  }
  if (t.events == 0 && !userTotals_) t.incomplete.push_back("no irradiation recorded yet");
  return t;
}

std::vector<DoseEvent> DoseLedger::events() const {
  std::vector<DoseEvent> out;
  for (std::size_t i = 0; i < counted_.size(); ++i)
    if (live_[i]) out.push_back(counted_[i]);
  return out;
}

std::optional<double> DoseLedger::kermaRateMGyPerMin(double windowS) const {
  if (latestEventSeconds_ < -1e299 || windowS <= 0) return std::nullopt;
  // Averaged over the window (as a display's running rate), events booked
  // at their start.
  double k = 0;
  for (std::size_t i = 0; i < counted_.size(); ++i) {
    const DoseEvent& e = counted_[i];
    if (!live_[i] || !e.startSeconds || *e.startSeconds <= latestEventSeconds_ - windowS) continue;
    if (!e.referenceAirKermaMGy) return std::nullopt;
    k += *e.referenceAirKermaMGy;
  }
  return k / (windowS / 60.0);
}

std::vector<std::pair<std::string, DoseTotals>>
DoseLedger::perNeedle(const std::vector<NeedlePhase>& phases) const {
  std::vector<std::pair<std::string, DoseTotals>> out;
  for (const auto& ph : phases) {
    DoseTotals t;
    for (std::size_t i = 0; i < counted_.size(); ++i) {
      const DoseEvent& e = counted_[i];
      if (live_[i] && e.startSeconds && *e.startSeconds >= ph.startSeconds &&
          *e.startSeconds < ph.endSeconds)
        addTo(t, e, 1.0);
    }
    out.emplace_back(ph.needle, t);
  }
  return out;
}

} // namespace fluoroplan
