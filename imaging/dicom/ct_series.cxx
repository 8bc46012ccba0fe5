#include "imaging/dicom/ct_series.h"

#include <atomic>

#include "imaging/core/parallel.h"

namespace fluoroplan {

VolumeSeriesLoad loadVolumeSeries(const std::vector<DicomFile>& slices, unsigned threads,
                                  const ProgressCallback& progress) {
  VolumeSeriesLoad out;
  std::vector<DicomHeader> headers;
  headers.reserve(slices.size());
  for (const auto& f : slices)
    headers.push_back(f.header());
  out.stack = analyseSliceStack(headers);
  out.problems = out.stack.problems;
  if (!out.stack.usable) return out;

  const SliceStack& st = out.stack;
  Volume v;
  v.size = {st.columns, st.rows, st.order.size()};
  v.spacingMm = {st.spacingMm[0], st.spacingMm[1], st.spacingMm[2]};
  v.originLps = st.originLps;
  v.directionLps = Mat3::fromColumns(st.rowDirection, st.columnDirection, st.normal);
  const std::size_t sliceVoxels = std::size_t(st.columns) * st.rows;
  v.hu.resize(sliceVoxels * st.order.size());

  std::vector<std::optional<Problem>> failed(st.order.size());
  std::atomic<std::size_t> clamped{0};
  parallelFor(
      st.order.size(), threads,
      [&](std::size_t k) {
        const DicomFile& f = slices[st.order[k]];
        try {
          clamped +=
              f.decodeRescaledInt16(std::span<int16_t>(v.hu.data() + k * sliceVoxels, sliceVoxels));
        } catch (const DicomFileError& e) {
          failed[k] = Problem{Severity::Error, e.file(), e.problem()};
        }
      },
      progress, "decoding slices");
  bool complete = true;
  for (auto& p : failed) {
    if (!p) continue;
    complete = false;
    p->message += ": slice cannot be decoded, so the volume is not built";
    out.problems.push_back(*p);
  }
  if (clamped > 0) {
    out.problems.push_back(
        {Severity::Warning, headers.front().path,
         std::to_string(clamped.load()) +
             " voxels fell outside -32768..32767 HU after rescale and were clamped"});
  }
  if (complete) out.volume = std::move(v);
  return out;
}

} // namespace fluoroplan
