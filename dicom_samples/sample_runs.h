#pragma once
// The recorded C-arm runs of the sample case: a left L4-L5 + L5-S1 facet RF
// on the prone phantom (L3 and L4 medial branches, L5 dorsal ramus), with
// three needles advancing along known paths, seen as a pain specialist takes
// the views: AP, ipsilateral oblique with caudal tilt, lateral (legacy XA,
// multi-frame, one C-arm position each) and an Enhanced XA run whose C-arm
// moves between frames. Also the dose report (RDSR) for all of them.
#include <filesystem>
#include <string>

#include "dicom_samples/spine_phantom.h"
#include "imaging/core/progress.h"
#include "imaging/dicom/dicom_writer.h"

namespace fluoroplan::samples {

struct RunsSummary {
  int instances = 0, frames = 0;
  double totalDapDGyCm2 = 0;  // sum of (0018,115E) over instances
  double totalKermaRpMGy = 0; // sum of the true reference air kerma
  double totalFluoroTimeS = 0;
};

// Writes OUT/runs/*.dcm, OUT/runs/dose_report.dcm and OUT/truth/runs_truth.json.
RunsSummary writeSampleRuns(const Phantom& prone, const SeriesIdentity& patient,
                            const std::filesystem::path& out, unsigned threads = 0,
                            const ProgressCallback& progress = {});

} // namespace fluoroplan::samples
