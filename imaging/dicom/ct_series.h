#pragma once
// Builds a Volume (HU, LPS geometry) from the single-frame slices of one
// series: analyses the stack (slice_stack.h), then decodes and rescales the
// slices in parallel straight into the volume's voxel buffer.
#include <optional>
#include <vector>

#include "imaging/core/problem.h"
#include "imaging/core/progress.h"
#include "imaging/core/volume.h"
#include "imaging/dicom/dicom_file.h"
#include "imaging/dicom/slice_stack.h"

namespace fluoroplan {

struct VolumeSeriesLoad {
  std::optional<Volume> volume; // empty when the stack is unusable
  SliceStack stack;
  Problems problems; // the stack's and the decoder's
};

VolumeSeriesLoad loadVolumeSeries(const std::vector<DicomFile>& slices, unsigned threads = 0,
                                  const ProgressCallback& progress = {});

} // namespace fluoroplan
