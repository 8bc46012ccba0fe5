#pragma once
// The procedure as an X-Ray Radiation Dose SR (TID 10001, one TID 10003
// event per counted irradiation), written with DCMTK's dcmsr through
// imaging/dicom. Reading it back gives the ledger's totals.
#include <filesystem>
#include <stdexcept>

#include "imaging/dicom/dicom_writer.h"
#include "imaging/dose/dose_ledger.h"

namespace fluoroplan {

class DoseReportOutError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

// Throws DoseReportOutError, writing nothing, when an event lacks the DAP or
// the Dose (RP) that TID 10003 requires (image-header events carry no
// Ka,r): a report with made-up zeros would be worse than none.
void writeProcedureDoseReport(const DoseLedger& ledger, const SeriesIdentity& identity,
                              const std::filesystem::path& file);

} // namespace fluoroplan
