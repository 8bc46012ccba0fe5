#include "imaging/projection/frame_geometry.h"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>

#include "imaging/core/text_format.h"

namespace fluoroplan {

namespace {
std::string mm(double v) {
  std::ostringstream s;
  s << v << " mm";
  return s.str();
}
} // namespace

FrameGeometry frameGeometry(const XRayRun& run, std::size_t frame, Vec3 isocentreLps,
                            const CArmDefaults& d) {
  if (frame >= run.frames.size() && !(run.frames.empty() && frame == 0))
    throw std::out_of_range("the run has " + std::to_string(run.frames.size()) +
                            " frames, not frame " + std::to_string(frame + 1));
  // Per-frame positioner (enhanced runs) or the run's, plus the per-frame
  // increments of a rotational legacy run.
  CArmPositioner p = run.frames.empty() ? run.positioner : run.frames[frame].positioner;
  if (!p.primaryAngleDeg) p.primaryAngleDeg = run.positioner.primaryAngleDeg;
  if (!p.secondaryAngleDeg) p.secondaryAngleDeg = run.positioner.secondaryAngleDeg;
  FrameGeometry out;
  CArmGeometry& g = out.geometry;
  g.primaryDeg = p.primaryAngleDeg.value_or(0);
  g.secondaryDeg = p.secondaryAngleDeg.value_or(0);
  if (run.rotational && frame < run.primaryAngleIncrementsDeg.size())
    g.primaryDeg =
        run.positioner.primaryAngleDeg.value_or(0) + run.primaryAngleIncrementsDeg[frame];
  if (run.rotational && frame < run.secondaryAngleIncrementsDeg.size())
    g.secondaryDeg =
        run.positioner.secondaryAngleDeg.value_or(0) + run.secondaryAngleIncrementsDeg[frame];
  if (!p.primaryAngleDeg) out.defaultsUsed.push_back("primary angle 0 (AP/PA; not in the file)");
  if (!p.secondaryAngleDeg)
    out.defaultsUsed.push_back("secondary angle 0 (no tilt; not in the file)");
  if (p.sourceToDetectorMm) {
    g.sourceToDetectorMm = *p.sourceToDetectorMm;
  } else {
    g.sourceToDetectorMm = d.sourceToDetectorMm;
    out.defaultsUsed.push_back("source-to-detector distance " + mm(d.sourceToDetectorMm) +
                               " (default)");
  }
  // XA's Distance Source to Patient (0018,1111) is to the isocentre; the
  // enhanced objects state it outright (0018,9402).
  if (p.sourceToIsocenterMm) {
    g.sourceToIsocentreMm = *p.sourceToIsocenterMm;
  } else if (p.sourceToPatientMm) {
    g.sourceToIsocentreMm = *p.sourceToPatientMm;
  } else {
    g.sourceToIsocentreMm = d.sourceToIsocentreMm;
    out.defaultsUsed.push_back("source-to-isocentre distance " + mm(d.sourceToIsocentreMm) +
                               " (default)");
  }
  g.columns = run.header.columns;
  g.rows = run.header.rows;
  if (p.imagerPixelSpacingMm) {
    // Row spacing \ column spacing: the C-arm geometry takes square pixels.
    g.pixelMm = 0.5 * ((*p.imagerPixelSpacingMm)[0] + (*p.imagerPixelSpacingMm)[1]);
  } else if (p.intensifierSizeMm && std::max(g.columns, g.rows) > 0) {
    g.pixelMm = *p.intensifierSizeMm / double(std::max(g.columns, g.rows));
    out.defaultsUsed.push_back("pixel spacing from the intensifier size " +
                               mm(*p.intensifierSizeMm) + " over the image width");
  } else {
    g.pixelMm = d.imagerPixelMm;
    out.defaultsUsed.push_back("imager pixel spacing " + mm(d.imagerPixelMm) + " (default)");
  }
  // DICOM has no principal point: the image centre, as calibrations of
  // image intensifiers report to within a few pixels.
  g.principalColumn = (double(g.columns) - 1) / 2;
  g.principalRow = (double(g.rows) - 1) / 2;
  g.isocentreLps = isocentreLps;
  return out;
}

const CArmPositioner& framePositioner(const XRayRun& run, std::size_t frame) {
  return frame < run.frames.size() ? run.frames[frame].positioner : run.positioner;
}

std::vector<std::string> tableMovesBetween(const CArmPositioner& a, const CArmPositioner& b,
                                           double toleranceMm, bool* recorded) {
  std::vector<std::string> moves;
  bool any = false;
  auto compare = [&](const char* name, const std::optional<double>& x,
                     const std::optional<double>& y) {
    if (!x || !y) return;
    any = true;
    if (std::abs(*x - *y) > toleranceMm)
      moves.push_back(std::string(name) + " " + fixedDecimals(*x, 1) + " -> " +
                      fixedDecimals(*y, 1) + " mm");
  };
  compare("Table Top Vertical Position", a.tableTopVerticalMm, b.tableTopVerticalMm);
  compare("Table Top Longitudinal Position", a.tableTopLongitudinalMm, b.tableTopLongitudinalMm);
  compare("Table Top Lateral Position", a.tableTopLateralMm, b.tableTopLateralMm);
  compare("Table Height", a.tableHeightMm, b.tableHeightMm);
  compare("Table Traverse", a.tableTraverseMm, b.tableTraverseMm);
  if (recorded) *recorded = any;
  return moves;
}

} // namespace fluoroplan
