#pragma once
// DCMTK-facing helpers shared by the .cxx files of imaging/dicom. Not part of
// the public interface: only this folder includes it.
#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcitem.h>
#include <dcmtk/dcmdata/dctag.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "imaging/dicom/dicom_file.h"

namespace fluoroplan {

struct DicomFile::Impl {
  DicomHeader header;
  std::unique_ptr<DcmFileFormat> file;
  DcmDataset* dataset() const { return file->getDataset(); }
};

namespace dicom {

// Registers DCMTK's decoders (JPEG, JPEG-LS, RLE) once per process. DCMTK
// keeps its codec list in a process-wide registry; this is the one place that
// touches it.
void ensureCodecsRegistered();

// A trimmed string value, or "" when absent.
std::string stringValue(DcmItem& item, const DcmTagKey& tag, unsigned long pos = 0);

// A number from DS, IS, FL, FD, US, SS, UL or SL, or nothing when the element
// is absent, empty or unparsable. `pos` selects one value of several.
std::optional<double> numberValue(DcmItem& item, const DcmTagKey& tag, unsigned long pos = 0);
// All values of a numeric element (empty when absent or unparsable).
std::vector<double> numberValues(DcmItem& item, const DcmTagKey& tag);
// Number of values an element holds (0 when absent).
unsigned long valueMultiplicity(DcmItem& item, const DcmTagKey& tag);

// Searches `item` and its sequences, depth-first, for `tag`; returns the
// first numeric value found.
std::optional<double> numberValueDeep(DcmItem& item, const DcmTagKey& tag);
std::string stringValueDeep(DcmItem& item, const DcmTagKey& tag);

} // namespace dicom
} // namespace fluoroplan
