#include "imaging/dose/dose_ledger.h"

#include <algorithm>
#include <cmath>

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
    t.acquisitionPkaGyCm2 += sign * p;
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
  if (e.source == DoseSource::ImageHeader && !e.referenceAirKermaMGy)
    headerWithoutKerma_ += sign > 0 ? 1 : -1;
  for (const auto& p : e.problems)
    if (p.severity == Severity::Error) valuesNotCounted_ += sign > 0 ? 1 : -1;
}

std::optional<std::size_t> DoseLedger::matchHeaderToReport(const DoseEvent& e) const {
  for (std::size_t i = counted_.size(); i-- > 0;) {
    if (!live_[i]) continue;
    const DoseEvent& c = counted_[i];
    if (e.source == DoseSource::DoseReport && c.source == DoseSource::ImageHeader &&
        sameIrradiation(c, e))
      return i;
    if (e.source == DoseSource::ImageHeader && c.source == DoseSource::DoseReport &&
        sameIrradiation(e, c))
      return i;
  }
  return std::nullopt;
}

LedgerAdd DoseLedger::add(DoseEvent e) {
  if (e.source == DoseSource::UserEntry) {
    // The display is cumulative: the latest entry supersedes earlier ones.
    if (!userTotals_ || e.startSeconds.value_or(0) >= userTotals_->startSeconds.value_or(0)) {
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
      DoseEvent& old = counted_[it->second];
      if (old.source == DoseSource::ImageHeader && e.source == DoseSource::DoseReport) {
        const std::string why =
            "same Irradiation Event UID as " + describe(old) + "; the report's values count";
        accumulate(old, -1.0);
        old = std::move(e);
        accumulate(old, +1.0);
        anyReport_ = true;
        return {LedgerOutcome::Replaced, why};
      }
      ++duplicates_;
      return {LedgerOutcome::Duplicate, "same Irradiation Event UID as " + describe(old)};
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
  // 3. Header and report events without a common UID: time, kind, angles.
  if (auto m = matchHeaderToReport(e)) {
    DoseEvent& old = counted_[*m];
    if (old.source == DoseSource::ImageHeader) {
      const std::string why = "started within 2 s of " + describe(old) +
                              " with the same kind and angles; the report's values count";
      accumulate(old, -1.0);
      live_[*m] = false;
      counted_.push_back(std::move(e));
      live_.push_back(true);
      accumulate(counted_.back(), +1.0);
      if (!counted_.back().eventUid.empty()) byUid_[counted_.back().eventUid] = counted_.size() - 1;
      anyReport_ = true;
      return {LedgerOutcome::Replaced, why};
    }
    ++duplicates_;
    return {LedgerOutcome::Duplicate,
            "started within 2 s of " + describe(old) + " with the same kind and angles"};
  }
  anyReport_ = anyReport_ || e.source == DoseSource::DoseReport;
  anyHeader_ = anyHeader_ || e.source == DoseSource::ImageHeader;
  counted_.push_back(std::move(e));
  live_.push_back(true);
  const std::size_t i = counted_.size() - 1;
  if (!counted_[i].eventUid.empty()) byUid_[counted_[i].eventUid] = i;
  if (counted_[i].source == DoseSource::ImageHeader && !counted_[i].sopInstanceUid.empty())
    bySop_[counted_[i].sopInstanceUid + "/" + counted_[i].eventUid + "/" + counted_[i].dateTime] =
        i;
  accumulate(counted_[i], +1.0);
  return {LedgerOutcome::Counted, {}};
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
  if (valuesNotCounted_ > 0)
    t.incomplete.push_back(std::to_string(valuesNotCounted_) +
                           " value(s) were unusable (unknown unit, negative or absurd) and are "
                           "not counted");
  if (userTotals_) {
    const DoseEvent& u = *userTotals_;
    t.kermaMGy = std::max(t.kermaMGy, u.referenceAirKermaMGy.value_or(0));
    t.pkaGyCm2 = std::max(t.pkaGyCm2, u.kermaAreaProductGyCm2.value_or(0));
    t.fluoroTimeS = std::max(t.fluoroTimeS, u.durationS.value_or(0));
    // The user read the C-arm's own totals: what the recorded events miss is in them.
    t.incomplete.clear();
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

double DoseLedger::kermaRateMGyPerMin(double windowS) const {
  double latest = -1e300;
  for (std::size_t i = 0; i < counted_.size(); ++i)
    if (live_[i] && counted_[i].startSeconds) latest = std::max(latest, *counted_[i].startSeconds);
  if (latest < -1e299 || windowS <= 0) return 0;
  double k = 0;
  for (std::size_t i = 0; i < counted_.size(); ++i) {
    const DoseEvent& e = counted_[i];
    if (live_[i] && e.startSeconds && *e.startSeconds > latest - windowS)
      k += e.referenceAirKermaMGy.value_or(0);
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
