#include "imaging/projection/frame_overlay.h"

#include <algorithm>
#include <cmath>

#include "imaging/core/geometry.h"

namespace fluoroplan {

std::array<double, 2> projectToFrame(const CArmGeometry& g, const IntensifierDistortion& d,
                                     Vec3 p) {
  const auto ideal = g.project(p);
  return d.distort(ideal[0], ideal[1]);
}

VertebraInFrame projectVertebra(const CArmGeometry& g, const IntensifierDistortion& d,
                                const std::string& level, const std::vector<Vec3>& boneLps,
                                Vec3 bodyCentroidLps, unsigned cellPx) {
  VertebraInFrame out;
  out.level = level;
  const unsigned cell = std::max(1u, cellPx);
  const long nc = long(g.columns / cell) + 1, nr = long(g.rows / cell) + 1;
  std::vector<uint8_t> shadow(std::size_t(nc * nr), 0);
  for (const Vec3& p : boneLps) {
    const auto px = projectToFrame(g, d, p);
    const long c = long(std::floor(px[0] / cell)), r = long(std::floor(px[1] / cell));
    if (c >= 0 && r >= 0 && c < nc && r < nr) shadow[std::size_t(r * nc + c)] = 1;
  }
  // Closed (dilated, then eroded, by one cell): the points are bone
  // voxels a little apart, and their shadow has holes a cell wide.
  auto closedOnce = [&](const std::vector<uint8_t>& in, bool dilate) {
    std::vector<uint8_t> out(in.size(), 0);
    for (long r = 0; r < nr; ++r)
      for (long c = 0; c < nc; ++c) {
        bool any = false, all = true;
        for (long dr = -1; dr <= 1; ++dr)
          for (long dc = -1; dc <= 1; ++dc) {
            const long rr = r + dr, cc = c + dc;
            const bool v =
                rr >= 0 && cc >= 0 && rr < nr && cc < nc && in[std::size_t(rr * nc + cc)];
            any = any || v;
            all = all && v;
          }
        out[std::size_t(r * nc + c)] = dilate ? any : all;
      }
    return out;
  };
  shadow = closedOnce(closedOnce(shadow, true), false);
  auto at = [&](long c, long r) {
    return c >= 0 && r >= 0 && c < nc && r < nr && shadow[std::size_t(r * nc + c)];
  };
  for (long r = 0; r < nr; ++r)
    for (long c = 0; c < nc; ++c)
      if (at(c, r) && !(at(c - 1, r) && at(c + 1, r) && at(c, r - 1) && at(c, r + 1)))
        out.outlinePx.push_back({(double(c) + 0.5) * cell, (double(r) + 0.5) * cell});
  out.bodyPx = projectToFrame(g, d, bodyCentroidLps);
  out.bodyInFrame = out.bodyPx[0] >= 0 && out.bodyPx[1] >= 0 && out.bodyPx[0] < g.columns &&
                    out.bodyPx[1] < g.rows;
  return out;
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

std::vector<NeedleToPlan> compareNeedlesToPlan(const std::vector<DetectedNeedle>& needles,
                                               const CArmGeometry& g,
                                               const std::vector<OverlayTrajectory>& plan,
                                               double matchWithinMm) {
  // Ideal pixels to mm at a point's depth: the magnification there.
  auto mmPerPxAt = [&](Vec3 p) {
    const double fromSource = dot(p - g.sourceLps(), g.detectorDirection());
    return g.pixelMm * fromSource / g.sourceToDetectorMm;
  };
  auto flat = [](const std::array<double, 2>& p) { return Vec3{p[0], p[1], 0}; };
  // Every needle against every path: how far both its ends lie off the
  // path (a needle follows its path, it does not cross it), plus a quarter
  // of its tip's distance to the target (in one view another level's needle
  // can lie along a path; of two such, the one near the target is its).
  // Then one needle per path, the best pairs first.
  struct Pair {
    double cost;
    std::size_t needle, trajectory;
  };
  std::vector<Pair> pairs;
  for (std::size_t i = 0; i < needles.size(); ++i)
    for (std::size_t t = 0; t < plan.size(); ++t) {
      const Vec3 a = flat(g.project(plan[t].entryLps)), b = flat(g.project(plan[t].targetLps));
      const double off = mmPerPxAt(plan[t].targetLps) * 0.5 *
                         (distanceToSegment(flat(needles[i].tipPx), a, b) +
                          distanceToSegment(flat(needles[i].shaftEndPx), a, b));
      if (off <= matchWithinMm)
        pairs.push_back(
            {off + 0.25 * mmPerPxAt(plan[t].targetLps) * norm(flat(needles[i].tipPx) - b), i, t});
    }
  std::sort(pairs.begin(), pairs.end(),
            [](const Pair& x, const Pair& y) { return x.cost < y.cost; });
  std::vector<NeedleToPlan> out(needles.size());
  std::vector<bool> pathTaken(plan.size(), false);
  for (std::size_t i = 0; i < needles.size(); ++i)
    out[i].needle = needles[i];
  for (const Pair& p : pairs) {
    NeedleToPlan& m = out[p.needle];
    if (m.trajectory >= 0 || pathTaken[p.trajectory]) continue;
    pathTaken[p.trajectory] = true;
    const OverlayTrajectory& t = plan[p.trajectory];
    const Vec3 a = flat(g.project(t.entryLps)), b = flat(g.project(t.targetLps));
    const double scale = mmPerPxAt(t.targetLps);
    m.trajectory = int(p.trajectory);
    m.tipToTargetMm = scale * norm(flat(m.needle.tipPx) - b);
    m.tipOffPathMm = scale * distanceToSegment(flat(m.needle.tipPx), a, b);
  }
  return out;
}

std::array<double, 2> patientLeftInImage(const CArmGeometry& g) {
  // LPS +x is the patient's left.
  if (!lateralSideMarker(g).empty()) return {0, 0};
  const auto a = g.project(g.isocentreLps), b = g.project(g.isocentreLps + Vec3{50, 0, 0});
  const double dc = b[0] - a[0], dr = b[1] - a[1], n = std::hypot(dc, dr);
  if (n < 1e-6) return {0, 0};
  return {dc / n, dr / n};
}

std::string lateralSideMarker(const CArmGeometry& g) {
  const double towardDetector = g.detectorDirection().x; // cosine of left-right to the beam
  if (std::abs(towardDetector) < std::cos(30 * 3.14159265358979323846 / 180)) return {};
  return towardDetector > 0 ? "LEFT LATERAL" : "RIGHT LATERAL";
}

std::vector<DiscTick> discTicks(const FrameLevelCount& count, const IntensifierDistortion& d) {
  std::vector<DiscTick> out;
  const auto& p = count.places;
  for (std::size_t k = 0; k < p.size(); ++k) {
    if (!p[k].seen) continue;
    // The spine's direction here from the neighbouring places.
    const auto& a = p[k > 0 ? k - 1 : k].px;
    const auto& b = p[k + 1 < p.size() ? k + 1 : k].px;
    const double steps = double((k + 1 < p.size() ? k + 1 : k) - (k > 0 ? k - 1 : k));
    double tx = (b[0] - a[0]) / steps, ty = (b[1] - a[1]) / steps;
    const double spacing = std::hypot(tx, ty);
    if (!(spacing > 0)) continue;
    tx /= spacing;
    ty /= spacing;
    // The normal toward the image's right (or, along a horizontal spine,
    // its lower side).
    double nx = -ty, ny = tx;
    if (nx < 0 || (nx == 0 && ny < 0)) {
      nx = -nx;
      ny = -ny;
    }
    const auto at = [&](double f) {
      return d.distort(p[k].px[0] + f * spacing * nx, p[k].px[1] + f * spacing * ny);
    };
    out.push_back({p[k].name, at(0.35), at(0.6)});
  }
  return out;
}

} // namespace fluoroplan
