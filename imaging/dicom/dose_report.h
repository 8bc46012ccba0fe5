#pragma once
// What a Radiation Dose SR (TID 10001) says at a glance: its irradiation
// events (TID 10003) and the accumulated totals as the vendor stated them, in
// the units the vendor wrote. The full ledger (conversion, de-duplication,
// history) is imaging/dose's job; this reader only reports what is there.
#include <optional>
#include <string>
#include <vector>

#include "imaging/core/problem.h"
#include "imaging/dicom/dicom_file.h"

namespace fluoroplan {

struct SrNumber {
  std::string conceptCode;     // e.g. 113722
  std::string conceptMeaning;  // e.g. "Dose Area Product Total"
  std::optional<double> value; // empty when the vendor left it empty or unparsable
  std::string rawValue;        // as written
  std::string unit;            // code value, e.g. "Gy.m2" (or a vendor's "Gym2")
  std::size_t valueCount = 0;  // values in Numeric Value; more than one bends the standard
  std::string plane;           // Acquisition Plane of the enclosing container, if stated
};

// A non-numeric item of an irradiation event (CODE, UIDREF, DATETIME, TEXT).
struct SrContentItem {
  std::string valueType;
  std::string conceptCode, conceptMeaning;
  std::string value;        // CODE: the code value; others: the value as written
  std::string valueMeaning; // CODE: the code meaning
};

// One irradiation event (TID 10003) as written: every number and item in
// it, its sub-containers included. Interpreting codes and units is the dose
// ledger's job (imaging/dose).
struct DoseReportEventRecord {
  std::vector<SrNumber> numbers;
  std::vector<SrContentItem> items;
};

struct DoseReportSummary {
  std::string path;
  std::string templateId;        // from Content Template Sequence, e.g. "10001"
  std::string procedureReported; // code meaning
  std::size_t irradiationEvents = 0;
  std::vector<SrNumber> accumulatedTotals; // numbers of the accumulated-dose containers
  std::vector<DoseReportEventRecord> events;
  Problems problems; // vendor deviations noticed while reading
};

// Reads the totals and every irradiation event. Throws DicomFileError when
// the file is not a dose report.
DoseReportSummary readDoseReportSummary(const DicomFile& file);

} // namespace fluoroplan
