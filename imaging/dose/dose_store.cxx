#include "imaging/dose/dose_store.h"

#include <sqlite3.h>

#include <cmath>
#include <map>
#include <optional>
#include <sstream>

#include "imaging/dose/dose_ledger.h"

namespace fluoroplan {

namespace {

// One prepared statement, finalised on every path out.
class Statement {
public:
  Statement(sqlite3* db, const std::string& sql, const std::filesystem::path& file)
      : db_(db), file_(file) {
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &s_, nullptr) != SQLITE_OK)
      throw DoseStoreError(file,
                           std::string("cannot prepare '") + sql + "': " + sqlite3_errmsg(db));
  }
  ~Statement() { sqlite3_finalize(s_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  void bind(int i, const std::string& v) {
    sqlite3_bind_text(s_, i, v.c_str(), int(v.size()), SQLITE_TRANSIENT);
  }
  void bind(int i, int64_t v) { sqlite3_bind_int64(s_, i, v); }
  void bind(int i, const std::optional<double>& v) {
    if (v)
      sqlite3_bind_double(s_, i, *v);
    else
      sqlite3_bind_null(s_, i);
  }
  // SQLITE_ROW or SQLITE_DONE; anything else throws with the file named.
  int step() {
    const int rc = sqlite3_step(s_);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
      throw DoseStoreError(file_, std::string("database error: ") + sqlite3_errmsg(db_));
    return rc;
  }
  void reset() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  std::string text(int c) const {
    const auto* p = sqlite3_column_text(s_, c);
    return p ? reinterpret_cast<const char*>(p) : "";
  }
  int64_t integer(int c) const { return sqlite3_column_int64(s_, c); }
  std::optional<double> real(int c) const {
    if (sqlite3_column_type(s_, c) == SQLITE_NULL) return std::nullopt;
    return sqlite3_column_double(s_, c);
  }

private:
  sqlite3* db_;
  std::filesystem::path file_;
  sqlite3_stmt* s_ = nullptr;
};

std::string numberKey(const std::optional<double>& v) {
  if (!v) return "-";
  std::ostringstream o;
  o.precision(12);
  o << *v;
  return o.str();
}

} // namespace

DoseStore::DoseStore(const std::filesystem::path& file) : file_(file) {
  if (sqlite3_open_v2(file.string().c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                      nullptr) != SQLITE_OK) {
    const std::string why = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw DoseStoreError(file, "cannot open the dose history: " + why);
  }
  sqlite3_busy_timeout(db_, 5000);
  try {
    // A file that is not a database fails here, with its name.
    exec("PRAGMA journal_mode=WAL");
    exec("PRAGMA synchronous=FULL");
    exec("PRAGMA foreign_keys=ON");
    migrate();
  } catch (...) {
    sqlite3_close(db_);
    db_ = nullptr;
    throw;
  }
}

DoseStore::~DoseStore() {
  if (db_) sqlite3_close(db_);
}

void DoseStore::exec(const std::string& sql) const {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    const std::string why = err ? err : "unknown error";
    sqlite3_free(err);
    throw DoseStoreError(file_, "database error: " + why);
  }
}

int DoseStore::schemaVersion() const {
  Statement s(db_, "PRAGMA user_version", file_);
  s.step();
  return int(s.integer(0));
}

void DoseStore::migrate() {
  // The whole migration is one transaction that reads the version inside
  // it: two programs opening an old database at once cannot both migrate,
  // and a crash mid-way leaves the previous version intact.
  exec("BEGIN IMMEDIATE");
  try {
    migrateLocked();
    exec("COMMIT");
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

void DoseStore::migrateLocked() {
  const int version = schemaVersion();
  if (version > kSchemaVersion)
    throw DoseStoreError(file_, "dose history schema " + std::to_string(version) +
                                    " is newer than this program's (" +
                                    std::to_string(kSchemaVersion) + "): not touched");
  if (version < 1) {
    exec(R"(CREATE TABLE IF NOT EXISTS patients(
              id INTEGER PRIMARY KEY, patient_id TEXT NOT NULL, issuer TEXT NOT NULL,
              name TEXT, birth_date TEXT, UNIQUE(patient_id, issuer));
            CREATE TABLE IF NOT EXISTS procedures(
              id INTEGER PRIMARY KEY, patient INTEGER NOT NULL REFERENCES patients(id),
              key TEXT NOT NULL UNIQUE, date TEXT, type TEXT);
            CREATE TABLE IF NOT EXISTS events(
              id INTEGER PRIMARY KEY, procedure INTEGER NOT NULL REFERENCES procedures(id),
              event_key TEXT NOT NULL, source TEXT NOT NULL, file TEXT, uid TEXT, sop TEXT,
              date_time TEXT, kind TEXT, plane TEXT, kerma_mgy REAL, pka_gycm2 REAL,
              duration_s REAL, primary_deg REAL, secondary_deg REAL, kvp REAL, tube_ma REAL,
              pulse_ms REAL, pulses INTEGER, frames INTEGER, includes_fluoro INTEGER,
              UNIQUE(procedure, event_key));
            PRAGMA user_version=1;)");
  }
  if (version < 2) {
    // Version 2 keeps the skin-entrance dose, the reference-point definition
    // and each event's problems, so a replayed history says what it said.
    exec(R"(ALTER TABLE events ADD COLUMN entrance_mgy REAL;
            ALTER TABLE events ADD COLUMN reference_point TEXT;
            ALTER TABLE events ADD COLUMN problems TEXT;
            CREATE INDEX IF NOT EXISTS events_by_procedure ON events(procedure, id);
            PRAGMA user_version=2;)");
  }
}

int64_t DoseStore::procedure(const PatientIdentity& patient, const std::string& key,
                             const std::string& date, const std::string& type) {
  if (patient.id.empty())
    throw DoseStoreError(file_, "a procedure needs the patient's ID (0010,0020) to be kept");
  exec("BEGIN IMMEDIATE");
  try {
    {
      Statement s(db_,
                  "INSERT INTO patients(patient_id, issuer, name, birth_date) VALUES(?,?,?,?) "
                  "ON CONFLICT(patient_id, issuer) DO NOTHING",
                  file_);
      s.bind(1, patient.id);
      s.bind(2, patient.issuer);
      s.bind(3, patient.name);
      s.bind(4, patient.birthDate);
      s.step();
    }
    {
      Statement s(db_,
                  "INSERT INTO procedures(patient, key, date, type) SELECT id, ?, ?, ? FROM "
                  "patients WHERE patient_id=? AND issuer=? ON CONFLICT(key) DO NOTHING",
                  file_);
      s.bind(1, key);
      s.bind(2, date);
      s.bind(3, type);
      s.bind(4, patient.id);
      s.bind(5, patient.issuer);
      s.step();
    }
    Statement q(db_,
                "SELECT p.id, q.patient_id, q.issuer, p.type FROM procedures p JOIN patients q "
                "ON p.patient=q.id WHERE p.key=?",
                file_);
    q.bind(1, key);
    if (q.step() != SQLITE_ROW) throw DoseStoreError(file_, "procedure " + key + " not stored");
    const int64_t id = q.integer(0);
    // A study belongs to one patient: never file events under another's.
    if (q.text(1) != patient.id || q.text(2) != patient.issuer)
      throw DoseStoreError(file_, "procedure " + key + " belongs to patient " + q.text(1) +
                                      ", not " + patient.id + ": nothing written");
    exec("COMMIT");
    return id;
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

std::string DoseStore::eventKey(const DoseEvent& e) {
  // The source is part of the key: an image and the report's event for the
  // same irradiation are both kept (the ledger counts the report's when the
  // history is replayed), and a copy of either is not.
  const std::string source = doseSourceName(e.source);
  if (!e.eventUid.empty()) return "uid:" + source + ":" + e.eventUid;
  if (e.source == DoseSource::ImageHeader && !e.sopInstanceUid.empty())
    return "image:" + e.sopInstanceUid + "@" + e.dateTime;
  if (e.source == DoseSource::DoseReport && !e.sopInstanceUid.empty())
    return "report:" + e.sopInstanceUid + "#" + std::to_string(e.indexInSource);
  return source + ":" + e.dateTime + "/" + numberKey(e.kermaAreaProductGyCm2) + "/" +
         numberKey(e.referenceAirKermaMGy) + "/" + numberKey(e.durationS);
}

std::size_t DoseStore::append(int64_t procedure, const std::vector<DoseEvent>& events) {
  exec("BEGIN IMMEDIATE");
  std::size_t added = 0;
  try {
    Statement s(db_,
                "INSERT INTO events(procedure, event_key, source, file, uid, sop, date_time, kind, "
                "plane, kerma_mgy, pka_gycm2, duration_s, primary_deg, secondary_deg, kvp, "
                "tube_ma, pulse_ms, pulses, frames, includes_fluoro, entrance_mgy, "
                "reference_point, problems) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
                "ON CONFLICT(procedure, event_key) DO NOTHING",
                file_);
    for (const DoseEvent& e : events) {
      s.bind(1, procedure);
      s.bind(2, eventKey(e));
      s.bind(3, std::string(doseSourceName(e.source)));
      s.bind(4, e.file);
      s.bind(5, e.eventUid);
      s.bind(6, e.sopInstanceUid);
      s.bind(7, e.dateTime);
      s.bind(8, std::string(irradiationKindName(e.kind)));
      s.bind(9, e.plane);
      s.bind(10, e.referenceAirKermaMGy);
      s.bind(11, e.kermaAreaProductGyCm2);
      s.bind(12, e.durationS);
      s.bind(13, e.primaryAngleDeg);
      s.bind(14, e.secondaryAngleDeg);
      s.bind(15, e.kvp);
      s.bind(16, e.tubeCurrentMA);
      s.bind(17, e.pulseWidthMs);
      s.bind(18, e.pulses ? std::optional<double>(*e.pulses) : std::nullopt);
      s.bind(19, int64_t(e.frames));
      s.bind(20, int64_t(e.includesPrecedingFluoro));
      s.bind(21, e.entranceDoseMGy);
      s.bind(22, e.referencePoint);
      std::string problems;
      for (const auto& p : e.problems)
        problems += std::string(severityName(p.severity)) + "|" + p.message + "\n";
      s.bind(23, problems);
      s.step();
      added += std::size_t(sqlite3_changes(db_));
      s.reset();
    }
    exec("COMMIT");
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
  return added;
}

std::vector<DoseEvent> DoseStore::events(int64_t procedure) const {
  Statement s(db_,
              "SELECT source, file, uid, sop, date_time, kind, plane, kerma_mgy, pka_gycm2, "
              "duration_s, primary_deg, secondary_deg, kvp, tube_ma, pulse_ms, pulses, frames, "
              "includes_fluoro, entrance_mgy, reference_point, problems FROM events WHERE "
              "procedure=? ORDER BY id",
              file_);
  s.bind(1, procedure);
  std::vector<DoseEvent> out;
  while (s.step() == SQLITE_ROW) {
    DoseEvent e;
    const std::string source = s.text(0), kind = s.text(5);
    e.source = source == "image header" ? DoseSource::ImageHeader
               : source == "user entry" ? DoseSource::UserEntry
                                        : DoseSource::DoseReport;
    e.file = s.text(1);
    e.eventUid = s.text(2);
    e.sopInstanceUid = s.text(3);
    e.dateTime = s.text(4);
    e.startSeconds = dicomDateTimeSeconds(e.dateTime);
    e.kind = kind == "fluoroscopy"   ? IrradiationKind::Fluoroscopy
             : kind == "acquisition" ? IrradiationKind::Acquisition
                                     : IrradiationKind::Unknown;
    e.plane = s.text(6);
    e.referenceAirKermaMGy = s.real(7);
    e.kermaAreaProductGyCm2 = s.real(8);
    e.durationS = s.real(9);
    e.primaryAngleDeg = s.real(10);
    e.secondaryAngleDeg = s.real(11);
    e.kvp = s.real(12);
    e.tubeCurrentMA = s.real(13);
    e.pulseWidthMs = s.real(14);
    if (auto p = s.real(15)) e.pulses = int(std::lround(*p));
    e.frames = int(s.integer(16));
    e.includesPrecedingFluoro = s.integer(17) != 0;
    e.entranceDoseMGy = s.real(18);
    e.referencePoint = s.text(19);
    std::istringstream problems(s.text(20));
    for (std::string line; std::getline(problems, line);) {
      const auto bar = line.find('|');
      if (bar == std::string::npos) continue;
      const std::string sev = line.substr(0, bar);
      e.problems.push_back({sev == "error"     ? Severity::Error
                            : sev == "warning" ? Severity::Warning
                                               : Severity::Info,
                            e.file, line.substr(bar + 1)});
    }
    out.push_back(std::move(e));
  }
  return out;
}

std::size_t DoseStore::eventCount() const {
  Statement s(db_, "SELECT count(*) FROM events", file_);
  s.step();
  return std::size_t(s.integer(0));
}

std::vector<PastProcedure> DoseStore::history(const PatientIdentity& patient,
                                              int64_t excludingProcedure) const {
  std::vector<std::pair<int64_t, PastProcedure>> procs;
  {
    Statement s(db_,
                "SELECT p.id, p.date, p.type FROM procedures p JOIN patients q ON p.patient=q.id "
                "WHERE q.patient_id=? AND q.issuer=? AND p.id<>? ORDER BY p.date",
                file_);
    s.bind(1, patient.id);
    s.bind(2, patient.issuer);
    s.bind(3, excludingProcedure);
    while (s.step() == SQLITE_ROW) {
      PastProcedure p;
      p.date = s.text(1);
      p.procedure = s.text(2);
      procs.emplace_back(s.integer(0), p);
    }
  }
  std::vector<PastProcedure> out;
  for (auto& [id, p] : procs) {
    DoseLedger ledger;
    for (auto& e : events(id))
      ledger.add(std::move(e));
    const DoseTotals t = ledger.totals();
    p.kermaMGy = t.kermaMGy;
    p.pkaGyCm2 = t.pkaGyCm2;
    p.fluoroTimeS = t.fluoroTimeS;
    out.push_back(p);
  }
  return out;
}

} // namespace fluoroplan
