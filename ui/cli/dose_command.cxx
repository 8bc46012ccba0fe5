// `fluoroplan dose PATH...`: the dose of each procedure (study) found in the
// paths, as the room's display shows it, with each dose report's stated
// totals checked against its events, the alerts, and the patient's history
// when a history database is given.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "imaging/core/text_format.h"
#include "imaging/dicom/study_inventory.h"
#include "imaging/dose/dose_alerts.h"
#include "imaging/dose/dose_ledger.h"
#include "imaging/dose/dose_report_check.h"
#include "imaging/dose/dose_report_out.h"
#include "imaging/dose/dose_store.h"
#include "ui/cli/commands.h"

namespace fluoroplan::cli {

namespace {

using nlohmann::json;

json totalsJson(const DoseTotals& t) {
  return {{"shown_as_stated", t.shownAsStated},
          {"reference_air_kerma_mGy", t.kermaMGy},
          {"fluoro_reference_air_kerma_mGy", t.fluoroKermaMGy},
          {"acquisition_reference_air_kerma_mGy", t.acquisitionKermaMGy},
          {"air_kerma_area_product_Gy_cm2", t.pkaGyCm2},
          {"fluoro_air_kerma_area_product_Gy_cm2", t.fluoroPkaGyCm2},
          {"acquisition_air_kerma_area_product_Gy_cm2", t.acquisitionPkaGyCm2},
          {"fluoro_time_s", t.fluoroTimeS},
          {"acquisition_time_s", t.acquisitionTimeS},
          {"acquisitions", t.acquisitions},
          {"events", t.events},
          {"complete", t.complete()},
          {"incomplete_because", t.incomplete}};
}

void printTotals(const DoseTotals& t, std::ostream& out, const std::string& indent) {
  out << indent << "Ka,r " << fixedDecimals(t.kermaMGy, 2) << " mGy (fluoro "
      << fixedDecimals(t.fluoroKermaMGy, 2) << ", acquisition "
      << fixedDecimals(t.acquisitionKermaMGy, 2) << ")  PKA " << fixedDecimals(t.pkaGyCm2, 4)
      << " Gy cm2 (fluoro " << fixedDecimals(t.fluoroPkaGyCm2, 4) << ", acquisition "
      << fixedDecimals(t.acquisitionPkaGyCm2, 4) << ")\n"
      << indent << "fluoroscopy " << fixedDecimals(t.fluoroTimeS / 60.0, 1) << " min ("
      << fixedDecimals(t.fluoroTimeS, 1) << " s)  acquisitions " << t.acquisitions << "  events "
      << t.events << "\n";
  for (const auto& s : t.shownAsStated)
    out << indent << "NOTE: " << s << "\n";
  if (t.complete()) out << indent << "complete: every irradiation has its values\n";
  for (const auto& why : t.incomplete)
    out << indent << "INCOMPLETE: " << why << "\n";
}

struct Procedure {
  PatientIdentity patient;
  std::string studyUid, date;
  SeriesIdentity identity; // for the RDSR we write
  DoseLedger ledger;
  std::vector<std::string> sources;
  std::vector<std::string> duplicates;
};

// The alert settings for a procedure type: the cited defaults, with what a
// department's JSON file sets for that type, e.g.
//   {"facet-rf": {"reference_kerma_mGy": 150, "max_facet_rf_per_12_months": 2}}
// Unknown keys are an error, so a misspelt setting is not silently ignored.
DoseAlertConfig alertConfig(const std::string& procedure, const std::filesystem::path& file) {
  DoseAlertConfig c = defaultDoseAlertConfig(procedure);
  if (file.empty()) return c;
  std::ifstream in(file);
  if (!in) throw std::runtime_error(file.string() + ": cannot read the alert settings");
  json j;
  try {
    j = json::parse(in);
  } catch (const std::exception& e) {
    throw std::runtime_error(file.string() + ": not JSON: " + e.what());
  }
  if (!j.contains(procedure)) return c;
  for (const auto& [key, value] : j[procedure].items()) {
    if (!value.is_number())
      throw std::runtime_error(file.string() + ": " + procedure + "." + key + " is not a number");
    const double v = value.get<double>();
    if (key == "reference_kerma_mGy")
      c.referenceKermaMGy = v;
    else if (key == "reference_pka_Gy_cm2")
      c.referencePkaGyCm2 = v;
    else if (key == "reference_fluoro_time_s")
      c.referenceFluoroTimeS = v;
    else if (key == "kerma_first_notification_mGy")
      c.kermaFirstNotificationMGy = v;
    else if (key == "kerma_notification_step_mGy")
      c.kermaNotificationStepMGy = v;
    else if (key == "fluoro_signal_every_s")
      c.fluoroSignalEveryS = v;
    else if (key == "history_kerma_level_mGy")
      c.historyKermaLevelMGy = v;
    else if (key == "max_facet_rf_per_12_months")
      c.maxFacetRfPer12Months = int(v);
    else
      throw std::runtime_error(file.string() + ": unknown alert setting " + procedure + "." + key);
  }
  c.referenceSource = "set in " + file.filename().string();
  return c;
}

// "L4 MB left=20260101093000-20260101093500" -> a phase; throws naming it.
NeedlePhase parsePhase(const std::string& text) {
  const auto eq = text.rfind('='), dash = text.rfind('-');
  if (eq == std::string::npos || dash == std::string::npos || dash < eq)
    throw std::runtime_error("--needle-phase '" + text + "': expected NAME=START-END");
  const auto a = dicomDateTimeSeconds(text.substr(eq + 1, dash - eq - 1)),
             b = dicomDateTimeSeconds(text.substr(dash + 1));
  if (!a || !b || *b <= *a)
    throw std::runtime_error("--needle-phase '" + text +
                             "': START and END must be date-times YYYYMMDDhhmmss, END after START");
  return {text.substr(0, eq), *a, *b};
}

// The needle placements `fluoroplan overlay` found (overlay.json's
// "needle_placements"); throws naming the file and what is wrong.
std::vector<NeedlePhase> phasesFromOverlay(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) throw std::runtime_error(file.string() + ": cannot read");
  json j;
  try {
    j = json::parse(in);
  } catch (const std::exception& e) {
    throw std::runtime_error(file.string() + ": not JSON: " + e.what());
  }
  if (!j.is_object() || !j.contains("needle_placements") || !j["needle_placements"].is_array())
    throw std::runtime_error(file.string() +
                             ": no needle_placements (not an overlay.json of fluoroplan overlay)");
  std::vector<NeedlePhase> out;
  for (const auto& p : j["needle_placements"]) {
    const auto a = dicomDateTimeSeconds(p.value("start", std::string()));
    const auto b = dicomDateTimeSeconds(p.value("end", std::string()));
    if (!p.contains("needle") || !p["needle"].is_string() || !a || !b || *b <= *a)
      throw std::runtime_error(file.string() + ": a needle placement without its needle, or "
                                               "without start and end date-times in order");
    out.push_back({p["needle"].get<std::string>(), *a, *b});
  }
  return out;
}

} // namespace

int doseCommand(const DoseCliOptions& o) {
  DoseAlertConfig alertSettings;
  std::vector<NeedlePhase> phases;
  try {
    alertSettings = alertConfig(o.procedure, o.alertSettings);
    for (const auto& text : o.needlePhases)
      phases.push_back(parsePhase(text));
    for (const auto& file : o.needlePhaseFiles)
      for (const auto& ph : phasesFromOverlay(file))
        phases.push_back(ph);
  } catch (const std::runtime_error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return kInputProblem;
  }
  std::map<std::string, Procedure> procedures; // by Study Instance UID
  json reportsJson = json::array();
  Problems problems;
  std::optional<DoseStore> store;
  if (!o.database.empty()) store.emplace(o.database);
  if (o.paths.empty() && !o.userKermaMGy && !o.userPkaGyCm2 && !o.userFluoroS) {
    std::cerr << "error: give C-arm runs or dose reports, or the C-arm's displayed totals\n";
    return kUsage;
  }
  std::map<std::string, int64_t> storeIds;

  // Every event goes into the history (committed) before the ledger counts it.
  auto count = [&](Procedure& p, std::vector<DoseEvent> events) {
    if (store) {
      const auto key = p.studyUid.empty() ? "no-study:" + p.patient.id + ":" + p.date : p.studyUid;
      auto it = storeIds.find(key);
      if (it == storeIds.end())
        it = storeIds.emplace(key, store->procedure(p.patient, key, p.date, o.procedure)).first;
      store->append(it->second, events);
    }
    for (auto& e : events) {
      const std::string what = e.file;
      const LedgerAdd r = p.ledger.add(std::move(e));
      if (r.outcome == LedgerOutcome::Duplicate)
        p.duplicates.push_back(what + ": counted once: " + r.reason);
    }
  };
  auto procedureOf = [&](const DicomHeader& h) -> Procedure& {
    Procedure& p = procedures[h.studyInstanceUid];
    if (p.studyUid.empty()) {
      p.studyUid = h.studyInstanceUid;
      p.patient = h.patient;
      p.date = h.studyDate;
      p.identity.patient = h.patient;
      p.identity.studyInstanceUid = h.studyInstanceUid;
      p.identity.studyDate = h.studyDate;
      p.identity.studyTime = h.studyTime;
      p.identity.studyId = h.studyId;
      p.identity.accessionNumber = h.accessionNumber;
      p.identity.seed = "fluoroplan-dose/" + h.studyInstanceUid;
      p.identity.seriesDescription = "FluoroPlan dose report";
      p.identity.manufacturer = "FluoroPlan";
      p.identity.modelName = "fluoroplan dose";
    } else if (!(p.patient.id == h.patient.id && p.patient.name == h.patient.name &&
                 p.patient.birthDate == h.patient.birthDate)) {
      problems.push_back({Severity::Warning, h.path,
                          "same study as other files but another patient (" + h.patient.id +
                              " vs " + p.patient.id + ")"});
    }
    return p;
  };

  for (const auto& path : o.paths) {
    const StudyInventory inv = buildInventory(path);
    problems.insert(problems.end(), inv.problems.begin(), inv.problems.end());
    if (inv.runs.empty() && inv.doseReports.empty())
      problems.push_back({Severity::Error, path.string(),
                          "no X-ray run and no dose report here: nothing to count"});
    // Reports first, so images they cover are matched as they arrive.
    for (const DoseReportSummary& s : inv.doseReports) {
      const DicomHeader* header = nullptr;
      for (const auto& f : inv.files)
        if (f.header().path == s.path) header = &f.header();
      if (!header) continue;
      DoseReportDose d = doseFromReport(s, *header);
      Procedure& p = procedureOf(*header);
      p.sources.push_back(s.path);
      json checks = json::array();
      for (const TotalCheck& c : checkReportTotals(d)) {
        // When the vendor states more than its events sum to, the higher
        // figure must not vanish: the ledger shows the stated Ka,r, PKA and
        // fluoroscopy time (its split stays as the events give it).
        const bool floored =
            c.conceptCode == "113722" || c.conceptCode == "113725" || c.conceptCode == "113730";
        if (c.eventSum && !c.agrees() && c.stated > *c.eventSum)
          problems.push_back({Severity::Warning, s.path,
                              c.conceptMeaning + " is stated as " + fixedDecimals(c.stated, 4) +
                                  " " + c.clinicalUnit + " but the events sum to " +
                                  fixedDecimals(*c.eventSum, 4) + " " + c.clinicalUnit +
                                  (floored ? "; the procedure's total shows the stated figure"
                                           : "; the split shows the events' sum")});
        checks.push_back({{"concept", c.conceptMeaning},
                          {"code", c.conceptCode},
                          {"stated", c.stated},
                          {"stated_as_written", c.rawValue},
                          {"unit", c.clinicalUnit},
                          {"event_sum", c.eventSum ? json(*c.eventSum) : json(nullptr)},
                          {"tolerance", c.tolerance},
                          {"agrees", c.agrees()}});
      }
      json stated = json::array();
      for (const auto& t : d.statedTotals)
        stated.push_back({{"concept", t.conceptMeaning},
                          {"code", t.conceptCode},
                          {"as_written", t.rawValue},
                          {"unit_as_written", t.unit},
                          {"value", t.value ? json(*t.value) : json(nullptr)},
                          {"unit", t.clinicalUnit},
                          {"plane", t.plane}});
      json warnings = json::array();
      for (const auto& pr : d.problems)
        warnings.push_back(pr.toString());
      for (const auto& e : d.events)
        for (const auto& pr : e.problems)
          warnings.push_back(pr.toString());
      reportsJson.push_back({{"file", s.path},
                             {"manufacturer", d.manufacturer},
                             {"model", d.modelName},
                             {"events", d.events.size()},
                             {"stated_totals", stated},
                             {"stated_vs_events", checks},
                             {"warnings", warnings}});
      if (!o.json) {
        std::cout << "Dose report " << s.path << " (" << d.manufacturer
                  << (d.modelName.empty() ? "" : " " + d.modelName) << "): " << d.events.size()
                  << " irradiation events\n";
        for (const TotalCheck& c : checkReportTotals(d)) {
          std::cout << "  " << c.conceptMeaning << ": stated " << c.rawValue << " = "
                    << fixedDecimals(c.stated, 4) << " " << c.clinicalUnit;
          if (c.eventSum)
            std::cout << "; events sum to " << fixedDecimals(*c.eventSum, 4) << " "
                      << (c.agrees() ? "(agrees)"
                                     : "(DISAGREES beyond " + fixedDecimals(c.tolerance, 4) + ")");
          else
            std::cout << "; not every event states it";
          std::cout << "\n";
        }
        for (const auto& w : warnings)
          std::cout << "  " << w.get<std::string>() << "\n";
      }
      for (const auto& pr : d.problems)
        if (pr.severity == Severity::Error) problems.push_back(pr);
      p.ledger.addStatedTotals(s.path, d.statedTotals);
      count(p, std::move(d.events));
    }
    for (const XRayRunEntry& r : inv.runs) {
      Procedure& p = procedureOf(r.run.header);
      p.sources.push_back(r.run.header.path);
      count(p, doseFromRun(r.run));
    }
  }
  if (o.userKermaMGy || o.userPkaGyCm2 || o.userFluoroS) {
    if (procedures.empty()) {
      // A video-only C-arm: no DICOM at all, the patient typed in.
      if (o.patient.id.empty()) {
        std::cerr << "error: with no DICOM files, the displayed totals need --patient-id\n";
        return kUsage;
      }
      Procedure& p = procedures["displayed:" + o.patient.id + ":" + o.studyDate];
      p.patient = o.patient;
      p.date = o.studyDate.empty() ? o.userDateTime.substr(0, 8) : o.studyDate;
      p.identity.patient = o.patient;
      p.identity.studyDate = p.date;
      p.identity.seed = "fluoroplan-dose/displayed/" + o.patient.id + "/" + p.date;
    }
    if (procedures.size() != 1) {
      std::cerr << "error: the C-arm's displayed totals belong to one procedure; the paths hold "
                << procedures.size() << "\n";
      return kUsage;
    }
    Procedure& p = procedures.begin()->second;
    count(p, {userEnteredTotals(o.userKermaMGy.value_or(-1), o.userPkaGyCm2.value_or(-1),
                                o.userFluoroS.value_or(-1), o.userDateTime)});
  }

  json out = {{"units", "Ka,r mGy at the reference point; PKA Gy cm2; times s"},
              {"reports", reportsJson},
              {"procedures", json::array()}};
  int rc = kOk;
  for (auto& [uid, p] : procedures) {
    const DoseTotals t = p.ledger.totals();
    std::vector<PastProcedure> history;
    if (store) {
      const auto key = p.studyUid.empty() ? "no-study:" + p.patient.id + ":" + p.date : p.studyUid;
      history = store->history(p.patient, storeIds.count(key) ? storeIds[key] : -1);
    }
    const auto alerts = evaluateDoseAlerts(t, alertSettings, p.date, history);
    json alertsJson = json::array();
    for (const auto& a : alerts)
      alertsJson.push_back(
          {{"level", alertLevelName(a.level)}, {"code", a.code}, {"message", a.message}});
    json hist = json::array();
    for (const auto& h : history)
      hist.push_back({{"date", h.date},
                      {"procedure", h.procedure},
                      {"reference_air_kerma_mGy", h.kermaMGy},
                      {"air_kerma_area_product_Gy_cm2", h.pkaGyCm2},
                      {"fluoro_time_s", h.fluoroTimeS}});
    json proc = {{"study_instance_uid", uid},
                 {"patient_id", p.patient.id},
                 {"patient_name", p.patient.name},
                 {"date", p.date},
                 {"procedure", o.procedure},
                 {"totals", totalsJson(t)},
                 {"kerma_rate_mGy_per_min", p.ledger.kermaRateMGyPerMin()
                                                ? json(*p.ledger.kermaRateMGyPerMin())
                                                : json(nullptr)},
                 {"counted_once", p.duplicates},
                 {"per_needle",
                  [&] {
                    json per = json::array();
                    for (const auto& [needle, nt] : p.ledger.perNeedle(phases))
                      per.push_back({{"needle", needle}, {"totals", totalsJson(nt)}});
                    return per;
                  }()},
                 {"alerts", alertsJson},
                 {"history", hist}};
    if (store) {
      const auto key = p.studyUid.empty() ? "no-study:" + p.patient.id + ":" + p.date : p.studyUid;
      if (storeIds.count(key)) proc["stored_events"] = store->events(storeIds[key]).size();
    }
    if (!o.rdsrOut.empty()) {
      try {
        writeProcedureDoseReport(p.ledger, p.identity, o.rdsrOut);
        proc["rdsr"] = o.rdsrOut.string();
      } catch (const DoseReportOutError& e) {
        proc["rdsr_problem"] = e.what();
        problems.push_back({Severity::Error, o.rdsrOut.string(), e.what()});
      }
    }
    out["procedures"].push_back(proc);
    if (!o.json) {
      std::cout << "Procedure " << p.date << " (" << o.procedure << "), patient " << p.patient.id
                << " " << p.patient.name << ", study " << uid << "\n";
      printTotals(t, std::cout, "  ");
      if (const auto rate = p.ledger.kermaRateMGyPerMin())
        std::cout << "  Ka,r rate over the last minute: " << fixedDecimals(*rate, 2)
                  << " mGy/min\n";
      else
        std::cout << "  Ka,r rate: unknown (image headers carry no Ka,r)\n";
      for (const auto& d : p.duplicates)
        std::cout << "  " << d << "\n";
      for (const auto& [needle, nt] : p.ledger.perNeedle(phases))
        std::cout << "  " << needle << ": Ka,r " << fixedDecimals(nt.kermaMGy, 2) << " mGy, PKA "
                  << fixedDecimals(nt.pkaGyCm2, 4) << " Gy cm2, fluoroscopy "
                  << fixedDecimals(nt.fluoroTimeS, 1) << " s, " << nt.events << " irradiation(s)\n";
      for (const auto& a : alerts)
        std::cout << "  ALERT (" << alertLevelName(a.level) << "): " << a.message << "\n";
      if (store) {
        double k = 0;
        for (const auto& h : history)
          k += h.kermaMGy;
        std::cout << "  History: " << history.size() << " other procedure(s), Ka,r "
                  << fixedDecimals(k, 2) << " mGy in all\n";
      }
      if (proc.contains("rdsr")) std::cout << "  Wrote " << o.rdsrOut.string() << "\n";
    }
  }
  json probs = json::array();
  for (const auto& pr : problems) {
    probs.push_back(pr.toString());
    if (pr.severity == Severity::Error) rc = kInputProblem;
  }
  out["problems"] = probs;
  if (o.json)
    std::cout << out.dump(2) << "\n";
  else
    for (const auto& pr : problems)
      std::cerr << pr.toString() << "\n";
  return rc;
}

} // namespace fluoroplan::cli
