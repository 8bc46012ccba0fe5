#pragma once
// DICOM Segmentation (SEG) of a label map on a CT's grid, through DCMTK's
// dcmseg: one binary segment per label (vertebrae by level with their
// SNOMED CT codes, the spinal canal, the foramina), each frame referencing
// the CT slice it derives from, with the CT's patient, study and frame of
// reference; empty frames are left out.
#include <array>
#include <filesystem>
#include <string>
#include <vector>

#include "imaging/core/volume.h"

namespace fluoroplan {

// The CT the segmentation derives from: one file per slice, in the label
// map's k order (the first carries patient, study and frame of reference).
struct SegmentationSource {
  std::vector<std::filesystem::path> sliceFiles;
  std::vector<std::string> sopClassUids, sopInstanceUids;
};

struct SegmentCode {
  std::string value, scheme, meaning;
};

struct SegmentDescription {
  int labelValue = 0;
  std::string label;        // "L4", "spinal canal"
  SegmentCode propertyType; // e.g. SCT 11994002 "L4 vertebra"
  std::array<uint8_t, 3> rgb{255, 255, 255};
};

// Segment descriptions for the spine labels present in `labels`
// (spine_levels.h values), with codes from DICOM CID 7603 "Vertebra";
// T13 and L6, which have no code of their own, are coded as "Vertebra".
std::vector<SegmentDescription> spineSegments(const Volume& labels);

struct SegmentationSeries {
  int seriesNumber = 300;
  std::string seriesDescription = "FluoroPlan spine segmentation";
  std::string algorithmVersion = "0.1.0";
};

// Writes `file` atomically. Throws std::runtime_error naming the file and
// the problem (e.g. a source slice count that does not match the grid).
void writeSegmentation(const Volume& labels, const SegmentationSource& source,
                       const std::vector<SegmentDescription>& segments,
                       const SegmentationSeries& series, const std::filesystem::path& file);

} // namespace fluoroplan
