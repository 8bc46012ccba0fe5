// The dose history: schema migration, idempotent writes, history, and a
// process killed with SIGKILL mid-run, again and again.
#include <gtest/gtest.h>

#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <random>
#include <thread>

#include "imaging/dose/dose_ledger.h"
#include "imaging/dose/dose_store.h"

using namespace fluoroplan;
namespace fs = std::filesystem;

namespace {
fs::path freshDb(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("fluoroplan_dose_" + std::to_string(getpid()));
  fs::create_directories(dir);
  const fs::path f = dir / name;
  for (const char* suffix : {"", "-wal", "-shm"})
    fs::remove(f.string() + suffix);
  return f;
}
DoseEvent event(int i) {
  DoseEvent e;
  e.source = DoseSource::DoseReport;
  e.file = "stream";
  e.eventUid = "1.2.826.0.1.3680043.10.1." + std::to_string(i);
  e.dateTime = "20260101093000";
  e.startSeconds = dicomDateTimeSeconds(e.dateTime);
  e.kind = i % 10 == 0 ? IrradiationKind::Acquisition : IrradiationKind::Fluoroscopy;
  e.referenceAirKermaMGy = 0.01 * (i % 7 + 1);
  e.kermaAreaProductGyCm2 = 0.001 * (i % 5 + 1);
  e.durationS = 0.1;
  return e;
}
const PatientIdentity kPatient{"P-1", "Test^Patient", "19600101", "HOSP"};
} // namespace

TEST(DoseStore, MigratesAVersionOneDatabase) {
  const fs::path f = freshDb("v1.sqlite");
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(f.c_str(), &db), SQLITE_OK);
    const char* v1 = R"(CREATE TABLE patients(id INTEGER PRIMARY KEY, patient_id TEXT NOT NULL,
        issuer TEXT NOT NULL, name TEXT, birth_date TEXT, UNIQUE(patient_id, issuer));
      CREATE TABLE procedures(id INTEGER PRIMARY KEY, patient INTEGER NOT NULL REFERENCES
        patients(id), key TEXT NOT NULL UNIQUE, date TEXT, type TEXT);
      CREATE TABLE events(id INTEGER PRIMARY KEY, procedure INTEGER NOT NULL REFERENCES
        procedures(id), event_key TEXT NOT NULL, source TEXT NOT NULL, file TEXT, uid TEXT, sop TEXT,
        date_time TEXT, kind TEXT, plane TEXT, kerma_mgy REAL, pka_gycm2 REAL, duration_s REAL,
        primary_deg REAL, secondary_deg REAL, kvp REAL, tube_ma REAL, pulse_ms REAL, pulses INTEGER,
        frames INTEGER, includes_fluoro INTEGER, UNIQUE(procedure, event_key));
      INSERT INTO patients VALUES(1, 'P-1', 'HOSP', 'Test^Patient', '19600101');
      INSERT INTO procedures VALUES(1, 1, 'old-study', '20250101', 'facet-rf');
      INSERT INTO events(procedure, event_key, source, date_time, kind, kerma_mgy, pka_gycm2,
        duration_s) VALUES(1, 'uid:1', 'dose report', '20250101100000', 'fluoroscopy', 42, 1.5, 30);
      PRAGMA user_version=1;)";
    ASSERT_EQ(sqlite3_exec(db, v1, nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }
  DoseStore store(f);
  EXPECT_EQ(store.schemaVersion(), DoseStore::kSchemaVersion);
  const auto history = store.history(kPatient);
  ASSERT_EQ(history.size(), 1u);
  EXPECT_DOUBLE_EQ(history[0].kermaMGy, 42);
  EXPECT_EQ(history[0].procedure, "facet-rf");
}

TEST(DoseStore, WritesAreIdempotentAndKeepEveryValue) {
  const fs::path f = freshDb("idem.sqlite");
  DoseStore store(f);
  const int64_t p = store.procedure(kPatient, "study-1", "20260101", "facet-rf");
  EXPECT_EQ(store.procedure(kPatient, "study-1", "20260101", "facet-rf"), p);
  std::vector<DoseEvent> events;
  for (int i = 0; i < 50; ++i)
    events.push_back(event(i));
  events[3].kvp = 72.5;
  events[3].problems.push_back({Severity::Warning, "stream", "unit 'Gym2' is not UCUM"});
  EXPECT_EQ(store.append(p, events), 50u);
  EXPECT_EQ(store.append(p, events), 0u); // a restart that re-reads its sources
  const auto back = store.events(p);
  ASSERT_EQ(back.size(), 50u);
  EXPECT_EQ(back[3].eventUid, events[3].eventUid);
  EXPECT_DOUBLE_EQ(*back[3].kvp, 72.5);
  ASSERT_EQ(back[3].problems.size(), 1u);
  EXPECT_EQ(back[3].problems[0].message, "unit 'Gym2' is not UCUM");
  EXPECT_FALSE(back[4].kvp); // empty stays empty, not zero
  // The other procedures of the patient make its history.
  const int64_t q = store.procedure(kPatient, "study-2", "20260301", "facet-rf");
  const auto h = store.history(kPatient, q);
  ASSERT_EQ(h.size(), 1u);
  EXPECT_EQ(h[0].date, "20260101");
  EXPECT_NEAR(h[0].kermaMGy, sumEvents(events).kermaMGy, 1e-9);
}

TEST(DoseStore, ImagesFirstThenTheReportKeepsTheReportsKerma) {
  // Frames arrive during the procedure, the RDSR at the end: both are kept,
  // and the replayed history counts the report's event, with its Ka,r.
  const fs::path f = freshDb("order.sqlite");
  DoseStore store(f);
  const int64_t p = store.procedure(kPatient, "study-order", "20260101", "facet-rf");
  DoseEvent img = event(1);
  img.source = DoseSource::ImageHeader;
  img.sopInstanceUid = "1.2.3.4";
  img.referenceAirKermaMGy.reset();
  EXPECT_EQ(store.append(p, {img}), 1u);
  EXPECT_EQ(store.append(p, {event(1)}), 1u); // same UID, from the report
  EXPECT_EQ(store.append(p, {event(1)}), 0u); // the report again
  DoseLedger ledger;
  for (const auto& e : store.events(p))
    ledger.add(e);
  EXPECT_EQ(ledger.totals().events, 1);
  EXPECT_DOUBLE_EQ(ledger.totals().kermaMGy, *event(1).referenceAirKermaMGy);
  // A study is one patient's: another patient's events are refused.
  const PatientIdentity other{"P-2", "Other^Patient", "19700101", "HOSP"};
  EXPECT_THROW(store.procedure(other, "study-order", "20260101", "facet-rf"), DoseStoreError);
}

TEST(DoseStore, NotADatabaseIsAClearError) {
  const fs::path f = freshDb("garbage.sqlite");
  std::ofstream(f) << "this is not a database, it is a text file with enough bytes to look like "
                      "one to a careless reader................................................";
  try {
    DoseStore store(f);
    FAIL() << "opened a text file as a database";
  } catch (const DoseStoreError& e) {
    EXPECT_NE(std::string(e.what()).find(f.string()), std::string::npos) << e.what();
  }
}

// A child process writes a stream of events with group commits and says on
// a pipe how many are committed; the parent kills it with SIGKILL at a
// random moment, then checks that every event reported committed is there,
// none twice, and the database is intact. Then the child is restarted on
// the same stream (as the workstation restarts and re-reads its sources).
TEST(DoseStore, SurvivesSigkillMidRunWithoutLossOrDoubleCounting) {
  const fs::path f = freshDb("crash.sqlite");
  constexpr int kEvents = 20000, kBatch = 50;
  std::mt19937 rng(7);
  std::size_t lastCommitted = 0;
  int killedMidRun = 0;
  for (int round = 0; round < 8; ++round) {
    // Each round is one procedure: killed mid-stream, then restarted on the
    // same stream and let finish.
    const std::string study = "crash-study-" + std::to_string(round);
    lastCommitted = 0;
    int fd[2];
    ASSERT_EQ(pipe(fd), 0);
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      close(fd[0]);
      try {
        DoseStore store(f);
        const int64_t p = store.procedure(kPatient, study, "20260101", "facet-rf");
        for (int start = 0; start < kEvents; start += kBatch) {
          std::vector<DoseEvent> batch;
          for (int i = start; i < start + kBatch; ++i)
            batch.push_back(event(i));
          store.append(p, batch);
          const int committed = start + kBatch;
          if (write(fd[1], &committed, sizeof committed) != sizeof committed) _exit(3);
        }
      } catch (...) {
        _exit(2);
      }
      _exit(0);
    }
    close(fd[1]);
    std::this_thread::sleep_for(std::chrono::milliseconds(20 + rng() % 150));
    kill(child, SIGKILL);
    int status = 0;
    waitpid(child, &status, 0);
    int committed = 0, value = 0;
    while (read(fd[0], &value, sizeof value) == sizeof value)
      committed = value;
    close(fd[0]);
    killedMidRun += WIFSIGNALED(status) && committed < kEvents;
    std::cout << "round " << round << ": killed after " << committed
              << " events reported committed\n";
    if (WIFEXITED(status)) {
      ASSERT_EQ(WEXITSTATUS(status), 0) << "the writer failed";
    }
    DoseStore store(f);
    const int64_t p = store.procedure(kPatient, study, "20260101", "facet-rf");
    const auto events = store.events(p);
    // Everything reported committed is there; nothing is there twice.
    EXPECT_GE(events.size(), std::size_t(committed)) << "round " << round;
    EXPECT_GE(events.size(), lastCommitted) << "round " << round;
    DoseLedger ledger;
    for (const auto& e : events)
      ledger.add(e);
    EXPECT_EQ(ledger.duplicates(), 0u);
    EXPECT_EQ(std::size_t(ledger.totals().events), events.size());
    lastCommitted = events.size();
    // The restart: the same stream again, to the end. Every event once.
    std::vector<DoseEvent> all;
    for (int i = 0; i < kEvents; ++i)
      all.push_back(event(i));
    EXPECT_EQ(store.append(p, all), std::size_t(kEvents) - lastCommitted);
    EXPECT_EQ(store.events(p).size(), std::size_t(kEvents));
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(f.c_str(), &db), SQLITE_OK);
    sqlite3_stmt* s = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &s, nullptr), SQLITE_OK);
    ASSERT_EQ(sqlite3_step(s), SQLITE_ROW);
    EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(s, 0)), "ok");
    sqlite3_finalize(s);
    sqlite3_close(db);
  }
  // The test means something only if the writer was killed mid-stream.
  EXPECT_GE(killedMidRun, 6);
}
