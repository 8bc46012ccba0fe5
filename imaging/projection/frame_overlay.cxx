#include "imaging/projection/frame_overlay.h"

#include <cmath>

namespace fluoroplan {

std::array<double, 2> projectToFrame(const CArmGeometry& g, const IntensifierDistortion& d,
                                     Vec3 p) {
  const auto ideal = g.project(p);
  return d.distort(ideal[0], ideal[1]);
}

ProjectedTrajectory projectTrajectory(const CArmGeometry& g, const IntensifierDistortion& d,
                                      const OverlayTrajectory& t) {
  ProjectedTrajectory out;
  out.name = t.name;
  out.entryPx = projectToFrame(g, d, t.entryLps);
  out.targetPx = projectToFrame(g, d, t.targetLps);
  const Vec3 along = t.targetLps - t.entryLps;
  const double len = norm(along);
  const Vec3 tipStart =
      len > 0 ? t.targetLps - (std::min(t.activeTipMm, len) / len) * along : t.targetLps;
  out.activeTipStartPx = projectToFrame(g, d, tipStart);
  out.targetInFrame = out.targetPx[0] >= -0.5 && out.targetPx[1] >= -0.5 &&
                      out.targetPx[0] <= g.columns - 0.5 && out.targetPx[1] <= g.rows - 0.5;
  return out;
}

std::array<double, 2> patientLeftInImage(const CArmGeometry& g) {
  // LPS +x is the patient's left.
  const auto a = g.project(g.isocentreLps), b = g.project(g.isocentreLps + Vec3{50, 0, 0});
  const double dc = b[0] - a[0], dr = b[1] - a[1], n = std::hypot(dc, dr);
  if (n < 1e-6) return {0, 0}; // a lateral view: left-right is along the beam
  return {dc / n, dr / n};
}

} // namespace fluoroplan
