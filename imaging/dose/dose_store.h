#pragma once
// The patients' dose history: one SQLite database (WAL journal,
// synchronous=FULL) holding patients (DICOM Patient ID + issuer),
// procedures and their irradiation events.
//
// Crash safety: an event is committed before the ledger counts it. Events
// are keyed (Irradiation Event UID, else image + time, else report + time +
// values), so writing the same event again -- a restart that re-reads its
// sources, a report copied twice -- inserts nothing. With synchronous=FULL
// in WAL mode a committed transaction survives a power cut, not only a
// crash of this process. Group commits put many events in one transaction.
#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "imaging/dicom/dicom_file.h"
#include "imaging/dose/dose_alerts.h"
#include "imaging/dose/dose_event.h"

struct sqlite3;

namespace fluoroplan {

class DoseStoreError : public std::runtime_error {
public:
  DoseStoreError(const std::filesystem::path& file, const std::string& what)
      : std::runtime_error(file.string() + ": " + what) {}
};

class DoseStore {
public:
  static constexpr int kSchemaVersion = 2;

  // Opens or creates the database and migrates it to kSchemaVersion.
  explicit DoseStore(const std::filesystem::path& file);
  ~DoseStore();
  DoseStore(const DoseStore&) = delete;
  DoseStore& operator=(const DoseStore&) = delete;

  int schemaVersion() const;

  // The procedure with this key (e.g. the Study Instance UID), created for
  // the patient when new. Returns its row id.
  int64_t procedure(const PatientIdentity& patient, const std::string& key, const std::string& date,
                    const std::string& type);

  // Writes events in one transaction (a group commit). Returns how many
  // were new; events already stored are left as they are.
  std::size_t append(int64_t procedure, const std::vector<DoseEvent>& events);

  // The stored events of a procedure, in the order they were written.
  std::vector<DoseEvent> events(int64_t procedure) const;
  std::size_t eventCount() const;

  // The patient's other procedures, with their totals as a ledger sums them.
  std::vector<PastProcedure> history(const PatientIdentity& patient,
                                     int64_t excludingProcedure = -1) const;

  // The key that makes an event unique within its procedure.
  static std::string eventKey(const DoseEvent& e);

private:
  void exec(const std::string& sql) const;
  void migrate();
  void migrateLocked();

  std::filesystem::path file_;
  sqlite3* db_ = nullptr;
};

} // namespace fluoroplan
