// `fluoroplan bench plan`: planning 4 needles (bilateral L4-L5 RF) after
// segmentation, median of runs, as a ratio to the segmentation time measured
// in the same run.
#include <algorithm>
#include <chrono>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>

#include "imaging/dicom/study_inventory.h"
#include "imaging/segmentation/spine_segmenter.h"
#include "planning/plan.h"
#include "ui/cli/commands.h"

namespace fluoroplan::cli {

Volume loadBenchCt(const std::filesystem::path& ctFolder) {
  const StudyInventory inv = buildInventory(ctFolder);
  const auto idx = primaryVolumeSeries(inv);
  if (!idx) throw std::runtime_error(ctFolder.string() + ": no CT series");
  VolumeSeriesLoad l = loadVolume(inv, *idx);
  if (!l.volume) throw std::runtime_error(ctFolder.string() + ": CT did not load");
  return std::move(*l.volume);
}

int benchPlan(const std::filesystem::path& ctFolder, int repeats, bool asJson) {
  using Clock = std::chrono::steady_clock;
  const Volume ct = loadBenchCt(ctFolder);
  std::vector<double> seg, plan;
  SpineModel spine;
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = Clock::now();
    spine = segmentSpine(ct);
    seg.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  ProcedureRequest req;
  req.procedure = Procedure::FacetRf;
  req.joints = {"L4-L5"};
  req.side = Side::Both;
  req.needle.lengthMm = 150;
  std::size_t needles = 0, planned = 0;
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = Clock::now();
    const Plan p = planProcedure(ct, spine, req);
    plan.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
    needles = p.needles.size();
    planned = 0;
    for (const auto& n : p.needles)
      planned += n.best.has_value();
  }
  std::sort(seg.begin(), seg.end());
  std::sort(plan.begin(), plan.end());
  const double ts = seg[seg.size() / 2], tp = plan[plan.size() / 2];
  if (asJson) {
    std::cout
        << nlohmann::json{{"ct", ctFolder.string()},     {"segment_s", ts},    {"plan_s", tp},
                          {"ratio_to_segment", tp / ts}, {"needles", needles}, {"planned", planned},
                          {"repeats", repeats}}
               .dump(2)
        << "\n";
  } else {
    std::cout << std::fixed << std::setprecision(3) << "Planning " << needles
              << " needles (bilateral L4-L5 RF, " << planned << " planned), median of " << repeats
              << ": segment " << ts << " s, plan " << tp << " s = " << tp / ts
              << "x the segmentation time\n";
  }
  return kOk;
}

} // namespace fluoroplan::cli
