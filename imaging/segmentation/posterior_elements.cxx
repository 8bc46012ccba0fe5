#include "imaging/segmentation/posterior_elements.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <optional>

namespace fluoroplan {

namespace {

struct LocalVoxel {
  float x, v, w; // left, posterior, cranial (mm, vertebra axes)
};

double percentile(std::vector<double> values, double q) {
  if (values.empty()) return 0;
  const std::size_t k = std::min(values.size() - 1, std::size_t(q * double(values.size() - 1)));
  std::nth_element(values.begin(), values.begin() + long(k), values.end());
  return values[k];
}

struct Centroid {
  double x = 0, v = 0, w = 0;
  std::size_t n = 0;
  void add(const LocalVoxel& p) {
    x += p.x;
    v += p.v;
    w += p.w;
    ++n;
  }
  Vec3 mean() const { return n ? Vec3{x / double(n), v / double(n), w / double(n)} : Vec3{}; }
};

// Nearest canal centreline sample to `p`.
std::size_t nearestCanal(const SpineModel& m, Vec3 p) {
  std::size_t best = 0;
  double bestD = 1e300;
  for (std::size_t i = 0; i < m.canalCentrelineLps.size(); ++i) {
    const double d = norm(m.canalCentrelineLps[i] - p);
    if (d < bestD) {
      bestD = d;
      best = i;
    }
  }
  return best;
}

// The label at an LPS point (nearest voxel); 0 outside the grid.
int16_t labelAt(const Volume& labels, Vec3 lps) {
  const Vec3 idx = labels.lpsToIndex(lps);
  if (!labels.containsIndex(idx)) return 0;
  return labels.at(std::size_t(std::lround(idx.x)), std::size_t(std::lround(idx.y)),
                   std::size_t(std::lround(idx.z)));
}

bool boneAt(const Volume& labels, int16_t label, Vec3 lps) {
  return labelAt(labels, lps) == label;
}

VertebraAxes axesOf(const SpineModel& m, const VertebraModel& v) {
  VertebraAxes a;
  a.origin = v.bodyCentroid.lps;
  // Cranial axis: the canal's direction beside the vertebra over +-10 mm
  // (steadier than one disc plane's normal); the endplate normal otherwise.
  Vec3 cranial = norm(v.endplateNormalLps) > 0.5 ? v.endplateNormalLps : Vec3{0, 0, 1};
  const auto& c = m.canalCentrelineLps;
  if (c.size() > 4) {
    Vec3 ref = a.origin;
    if (v.pedicleLeft && v.pedicleRight) ref = 0.5 * (v.pedicleLeft->lps + v.pedicleRight->lps);
    const std::size_t i = nearestCanal(m, ref);
    std::size_t lo = i, hi = i;
    while (lo > 0 && norm(c[lo - 1] - c[i]) < 10)
      --lo;
    while (hi + 1 < c.size() && norm(c[hi + 1] - c[i]) < 10)
      ++hi;
    if (norm(c[lo] - c[hi]) > 8) {
      // The centreline runs cranial to caudal. Where the canal's detection
      // jitters (a short, noisy scan), its direction can swing far from the
      // disc's: the disc plane then decides (the two agree within a few
      // degrees on a clean scan).
      Vec3 along = normalized(c[lo] - c[hi]);
      if (along.z < 0) along = -1.0 * along;
      const bool haveDisc = norm(v.endplateNormalLps) > 0.5;
      if (!haveDisc || dot(along, normalized(cranial.z < 0 ? -1.0 * cranial : cranial)) >
                           std::cos(15.0 * 3.14159265358979 / 180))
        cranial = along;
    }
  }
  if (cranial.z < 0) cranial = -1.0 * cranial; // LPS +z is toward the head
  cranial = normalized(cranial);
  Vec3 posterior{0, 1, 0};
  if (!m.canalCentrelineLps.empty()) {
    const Vec3 toCanal = m.canalCentrelineLps[nearestCanal(m, a.origin)] - a.origin;
    const Vec3 p = toCanal - dot(toCanal, cranial) * cranial;
    if (norm(p) > 3) posterior = p;
  }
  posterior = normalized(posterior - dot(posterior, cranial) * cranial);
  a.cranial = cranial;
  a.posterior = posterior;
  a.left = cross(posterior, cranial);
  return a;
}

// The sacrum's axes from its S1 endplate: the canal curves too fast
// through the sacrum for its direction to say how S1 is tilted (3-4 degrees
// off on the prone phantom), and a course 30 mm behind the body moves 2 mm
// for that. The top of the S1 body, per 1 mm column in front of the canal,
// is fitted by a plane across depth (refitted without columns over 2 mm
// off: the promontory's rim); the axes turn about left-right onto it, and
// the voxels with them.
void alignToS1Endplate(const SpineModel& m, VertebraModel& vm, std::vector<LocalVoxel>& vox) {
  if (m.canalCentrelineLps.empty() || vox.size() < 200) return;
  VertebraAxes& ax = vm.axes;
  const std::size_t ci =
      nearestCanal(m, vm.superiorEndplate.confidence > 0 ? vm.superiorEndplate.lps : ax.origin);
  const Vec3 canal = ax.toLocal(m.canalCentrelineLps[ci]);
  const double rc = m.canalRadiusMm.empty() ? 7.0 : m.canalRadiusMm[ci];
  std::map<std::pair<long, long>, double> columnTop;
  for (const auto& p : vox)
    if (std::abs(p.x - canal.x) < 10 && p.v < canal.y - rc - 3) {
      double& t = columnTop.try_emplace({std::lround(p.x), std::lround(p.v)}, -1e9).first->second;
      t = std::max(t, double(p.w));
    }
  if (columnTop.size() < 40) return;
  // The columns whose top is the endplate, not the ala's slope or a low rim:
  // within 8 mm of the highest.
  double highest = -1e9;
  for (const auto& [key, t] : columnTop)
    highest = std::max(highest, t);
  std::vector<std::pair<double, double>> vw;
  for (const auto& [key, t] : columnTop)
    if (t > highest - 8) vw.push_back({double(key.second), t});
  auto fit = [&](const std::vector<std::pair<double, double>>& pts)
      -> std::optional<std::pair<double, double>> {
    double n = 0, sv = 0, sw = 0, svv = 0, svw = 0;
    for (const auto& [v, w] : pts)
      n += 1, sv += v, sw += w, svv += v * v, svw += v * w;
    const double den = n * svv - sv * sv;
    if (n < 20 || den < 1e-6) return std::nullopt;
    const double b = (n * svw - sv * sw) / den;
    return std::pair{(sw - b * sv) / n, b};
  };
  const auto first = fit(vw);
  if (!first) return;
  std::vector<std::pair<double, double>> near;
  for (const auto& [v, w] : vw)
    if (std::abs(w - (first->first + first->second * v)) < 2) near.push_back({v, w});
  const auto second = fit(near);
  if (!second || std::abs(second->second) > std::tan(20.0 * 3.14159265358979 / 180)) return;
  // w = a + b v: the endplate's normal is (0, -b, 1) in these axes.
  const double b = second->second, s = std::sqrt(1 + b * b);
  const Vec3 cranial = normalized(ax.cranial - b * ax.posterior);
  const Vec3 posterior = normalized(ax.posterior + b * ax.cranial);
  ax.cranial = cranial;
  ax.posterior = posterior;
  ax.left = cross(posterior, cranial);
  for (auto& p : vox) {
    const double v = p.v, w = p.w;
    p.v = float((v + b * w) / s);
    p.w = float((w - b * v) / s);
  }
}

void measureOne(const SpineModel& m, VertebraModel& vm, const std::vector<LocalVoxel>& vox) {
  const VertebraAxes& ax = vm.axes;
  const bool sacrum = vm.label == spine_label::kSacrum;
  if (m.canalCentrelineLps.empty() || vox.size() < 200) return;
  // Canal beside this vertebra: nearest centreline sample to the pedicles'
  // midpoint (the body centroid of a long sacrum lies far below S1).
  Vec3 ref = ax.origin;
  if (vm.pedicleLeft && vm.pedicleRight)
    ref = 0.5 * (vm.pedicleLeft->lps + vm.pedicleRight->lps);
  else if (sacrum)
    ref = vm.superiorEndplate.lps;
  const std::size_t ci = nearestCanal(m, ref);
  const Vec3 canal = ax.toLocal(m.canalCentrelineLps[ci]);
  const double rc = m.canalRadiusMm.empty() ? 7.0 : m.canalRadiusMm[ci];

  // Heights: the pedicle's axis (or, for the sacrum, the top of the S1 body).
  double wRef = canal.z;
  if (vm.pedicleLeft && vm.pedicleRight)
    wRef = 0.5 * (ax.toLocal(vm.pedicleLeft->lps).z + ax.toLocal(vm.pedicleRight->lps).z);
  if (sacrum) {
    std::vector<double> top;
    for (const auto& p : vox)
      if (std::abs(p.x - canal.x) < 10 && p.v < canal.y - rc - 3) top.push_back(p.w);
    if (top.size() < 50) return;
    wRef = percentile(top, 0.98);
  }

  const auto lab = static_cast<int16_t>(vm.label);
  for (int side : {1, -1}) { // +1: left
    // u: lateral distance from the canal's centre on this side.
    auto lateral = [&](const LocalVoxel& p) { return side * (p.x - canal.x); };
    auto toLps = [&](double u, double v, double w) { return ax.toLps({canal.x + side * u, v, w}); };
    // Marching through this vertebra's own label, in its axes.
    auto bone = [&](double u, double v, double w) { return boneAt(m.labels, lab, toLps(u, v, w)); };
    // Distance from q along a local direction to the first point off the
    // bone (0 when q is off the bone).
    auto exitAlong = [&](Vec3 q, Vec3 dir) {
      double t = 0;
      while (t < 60 && bone(q.x + t * dir.x, q.y + t * dir.y, q.z + t * dir.z))
        t += 0.25;
      return t;
    };
    auto beside = [&](const LocalVoxel& p, double wc, double halfHeight) {
      return std::abs(p.w - wc) < halfHeight && p.v > canal.y - 15 && p.v < canal.y + 30;
    };

    // 0. Cervical-type courses, measured on every vertebra (the names,
    //    which may be corrected later, decide which course applies). The
    //    pillar's lateral face: 15-27 mm from the canal's centre (lateral
    //    masses at ~22 mm from the midline, Panjabi 1991), from the canal's
    //    centre depth plus half its radius 4 mm backward (behind the
    //    transverse process). Its x is the 75th percentile of the outermost
    //    exits over those depths (joint clefts and the lamina's edge drop
    //    single depths), plus 1 mm: the nerve lies on the bone.
    if (!sacrum) {
      const double v0 = canal.y + 0.5 * rc, v1 = v0 + 4;
      auto anyVertebra = [&](double u, double v, double w) {
        return spine_label::isVertebra(labelAt(m.labels, toLps(u, v, w)));
      };
      auto faceU = [&](const std::function<bool(double, double, double)>& isBone, double w0,
                       double w1) -> std::optional<double> {
        std::vector<double> us;
        for (double w = w0; w <= w1 + 1e-9; w += 0.5)
          for (double v = v0; v <= v1 + 1e-9; v += 0.25) {
            std::optional<double> e;
            for (double u = 15; u < 27; u += 0.25)
              if (isBone(u, v, w) && !isBone(u + 0.25, v, w)) e = u + 0.25;
            if (e) us.push_back(*e);
          }
        if (us.size() < 8) return std::nullopt;
        return percentile(us, 0.75) + 1;
      };
      // The pillar's heights on that face, 2 mm behind v0.
      double top = -1e9, bottom = 1e9;
      for (double w = canal.z - 30; w <= canal.z + 30; w += 0.25)
        for (double u = 15; u < 27; u += 0.5)
          if (bone(u, v0 + 2, w)) {
            top = std::max(top, w);
            bottom = std::min(bottom, w);
          }
      if (top > bottom + 4) {
        // Stored at the waist; nerve_courses() lifts it by level (C5 at
        // the waist, the others 2 mm above), since names may be corrected.
        const double waist = 0.5 * (top + bottom);
        if (const auto u = faceU(bone, waist - 1, waist + 1))
          (side > 0 ? vm.pillarWaistLeft : vm.pillarWaistRight) =
              NerveGroove{toLps(*u, v0, waist + 0.5), toLps(*u, v1, waist - 0.5), 0.5,
                          "lateral face of the articular pillar, half-way up it"};
        // The joint above: half-way between this pillar's top and the
        // next pillar's bottom on the same face.
        std::optional<double> nextBottom;
        for (double w = top + 0.25; w < top + 8 && !nextBottom; w += 0.25)
          for (double u = 15; u < 27 && !nextBottom; u += 0.5)
            if (anyVertebra(u, v0 + 2, w) && !bone(u, v0 + 2, w)) nextBottom = w;
        if (nextBottom) {
          const double joint = 0.5 * (top + *nextBottom);
          if (const auto u = faceU(anyVertebra, joint - 3, joint + 3))
            (side > 0 ? vm.jointAboveLeft : vm.jointAboveRight) =
                NerveGroove{toLps(*u, v0, joint + 0.5), toLps(*u, v1, joint - 0.5), 0.5,
                            "lateral face of the facet joint above, between the pillars"};
        }
      }
    }

    // 1. The transverse process, found from its tip (the most lateral bone
    //    of the vertebra at the pedicle's height) and measured 10 mm short
    //    of it, where it stands alone: its axis height, faces and depth.
    struct TransverseProcess {
      double tip = 0, uMid = 0, depth = 0, axisW = 0, top = 0, bottom = 0, face = 0;
    };
    std::optional<TransverseProcess> tp;
    if (!sacrum) {
      std::vector<double> us;
      for (const auto& p : vox)
        if (lateral(p) > rc + 5 && beside(p, wRef, 12)) us.push_back(lateral(p));
      if (us.size() > 100) {
        // The 50th most lateral voxel: robust to a stray voxel, and
        // independent of how much bone lies medially.
        std::nth_element(us.begin(), us.begin() + 49, us.end(), std::greater<>());
        const double tip = us[49];
        // Measured 10 mm short of the tip; where the section there is
        // taller than any transverse process (14 mm), it holds the
        // articular pillar (a short, rudimentary TP, as at T12), and the
        // section moves toward the tip, 1 mm at a time, to 3 mm short of it.
        for (double uMid = tip - 10; uMid <= tip - 3; uMid += 1) {
          TransverseProcess t;
          t.tip = tip;
          t.uMid = uMid;
          Centroid mid;
          for (const auto& p : vox)
            if (std::abs(lateral(p) - t.uMid) < 2 && beside(p, wRef, 12)) mid.add(p);
          const Vec3 c = mid.mean();
          if (!(mid.n > 10 && t.uMid > rc && bone(t.uMid, c.y, c.z))) break;
          // Faces as medians of rays over a 3 mm patch: one ray on a grid
          // of 0.75 mm voxels is off by up to half a voxel.
          auto medianExit = [&](Vec3 from, Vec3 dir, Vec3 spreadA, Vec3 spreadB) {
            std::vector<double> ts;
            for (double i = -1.5; i <= 1.5; i += 0.75)
              for (double j = -1; j <= 1; j += 1) {
                const Vec3 q = from + i * spreadA + j * spreadB;
                if (bone(q.x, q.y, q.z)) ts.push_back(exitAlong(q, dir));
              }
            return percentile(ts, 0.5);
          };
          const Vec3 X{1, 0, 0}, Y{0, 1, 0}, Z{0, 0, 1};
          const Vec3 q{t.uMid, c.y, c.z};
          t.top = c.z + medianExit(q, Z, X, Y);
          t.bottom = c.z - medianExit(q, -1.0 * Z, X, Y);
          t.axisW = 0.5 * (t.top + t.bottom);
          t.depth = c.y;
          t.face = c.y + medianExit(q, Y, X, Z);
          if (t.top > t.bottom + 14) continue; // the pillar's section: nearer the tip
          if (t.top > t.bottom + 2) tp = t;
          break;
        }
      }
    }
    // Heights from here on: the TP's axis where it was found.
    const double wAxis = tp ? tp->axisW : wRef;

    // 2. The pillar of the SAP: bone lateral to and behind the canal, 8-14 mm
    //    above the TP's axis, clear of the pedicle (4-14 mm where the SAP is
    //    short, as in the mid-thoracic spine); sacrum: up to 6 mm above the
    //    S1 body, which the alae stay below.
    std::vector<double> pillarU;
    Centroid sap;
    auto collectPillar = [&](double lo, double hi) {
      pillarU.clear();
      sap = {};
      for (const auto& p : vox) {
        const double u = lateral(p);
        if (u > rc && p.v >= canal.y && p.v < canal.y + 20 && p.w >= lo && p.w <= hi) {
          pillarU.push_back(u);
          if (u > rc + 2) sap.add(p);
        }
      }
    };
    std::string sapMethod = "bone lateral to and behind the canal, 8-14 mm above the TP's axis";
    if (sacrum) {
      // The S1 SAP's upper 4 mm, from its tip down: how far its tip stands
      // above the S1 body's top depends on the sacrum's tilt (prone or
      // supine, lordosis), and the ala spreads out 5-6 mm below the tip.
      std::vector<double> ws;
      for (const auto& p : vox)
        if (lateral(p) > rc + 2 && p.v >= canal.y && p.v < canal.y + 20 &&
            std::abs(p.w - wRef) < 16)
          ws.push_back(p.w);
      if (ws.size() < 50) continue;
      const double tipW = percentile(ws, 0.995);
      collectPillar(tipW - 4, tipW);
      sapMethod = "bone lateral to and behind the canal, the S1 SAP's upper 4 mm";
    } else {
      collectPillar(wAxis + 8, wAxis + 14);
      if (pillarU.size() < 20) {
        collectPillar(wAxis + 4, wAxis + 14);
        sapMethod = "bone lateral to and behind the canal, 4-14 mm above the TP's axis";
      }
    }
    if (pillarU.size() < 20) continue;
    const double up = percentile(pillarU, 0.97); // the pillar's lateral edge
    const Vec3 sapLocal = sap.mean();
    (side > 0 ? vm.superiorArticularLeft : vm.superiorArticularRight) =
        Landmark{ax.toLps(sapLocal), 0.5, sapMethod};

    // 3. Inferior articular process: the lowest 8 mm of the bone lateral to
    //    and behind the canal.
    if (!sacrum) {
      std::vector<double> ws;
      for (const auto& p : vox)
        if (lateral(p) > rc && p.v > canal.y && p.v < canal.y + 20) ws.push_back(p.w);
      if (ws.size() > 30) {
        const double wMin = percentile(ws, 0.02);
        Centroid iap;
        for (const auto& p : vox)
          if (lateral(p) > rc && p.v > canal.y && p.v < canal.y + 20 && p.w < wMin + 8) iap.add(p);
        if (iap.n > 20)
          (side > 0 ? vm.inferiorArticularLeft : vm.inferiorArticularRight) =
              Landmark{ax.toLps(iap.mean()), 0.4, "lowest bone lateral to and behind the canal"};
      }
    }

    // Outermost exit from bone between u0 and u1 at depth v, height w.
    auto outermostExit = [&](double u0, double u1, double v, double w) -> std::optional<double> {
      std::optional<double> exit;
      for (double u = u0; u < u1; u += 0.25)
        if (bone(u, v, w) && !bone(u + 0.25, v, w)) exit = u + 0.25;
      return exit;
    };
    // A nerve's point at height w: 1 mm lateral to the pillar's wall at depth
    // vN, or, where the pillar does not reach back that far, at its most
    // posterior depth; at height w or the pillar's highest point within 4 mm
    // below. The wall is the median over depths +-1 mm, since the rounded tip
    // of a process adds or drops a sliver of bone at single depths.
    auto nerveAt = [&](double vN, double w, double u0, double u1) -> std::optional<Vec3> {
      for (double ww = w; ww > w - 4; ww -= 0.25)
        for (double vv = vN; vv > vN - 6; vv -= 0.25) {
          if (!outermostExit(u0, u1, vv, ww)) continue;
          std::vector<double> xs;
          for (double dv = -1; dv <= 1; dv += 0.5)
            if (const auto e = outermostExit(u0, u1, vv + dv, ww)) xs.push_back(*e);
          return Vec3{percentile(xs, 0.5) + 1, vv, ww};
        }
      return std::nullopt;
    };

    // A nerve crosses a corner of the bone, not through it: a straight
    // course (running caudally and dorsally) is lifted square to itself,
    // dorsally and cranially, until each point of it is 1 mm clear of the
    // bone beneath.
    auto liftedClear = [&](Vec3 cranial, Vec3 caudal) {
      const Vec3 d = caudal - cranial;
      const Vec3 lift = normalized(Vec3{0, -d.z, d.y});
      auto clearAt = [&](double h) {
        for (double f = 0; f <= 1; f += 0.25 / norm(d))
          for (double k = 0; k <= 1; k += 0.25) {
            const Vec3 q = cranial + f * d + (h - k) * lift;
            if (bone(q.x, q.y, q.z)) return false;
          }
        return true;
      };
      double h = 0;
      while (h < 6 && !clearAt(h))
        h += 0.25;
      return std::pair{cranial + h * lift, caudal + h * lift};
    };

    if (sacrum) {
      // L5 dorsal ramus: in the groove between the ala and the S1 SAP (Lau
      // et al., Pain Med 2004: tip opposite the middle and posterior thirds
      // of the S1 SAP), the groove's plane 1 mm lateral to the SAP's wall
      // just behind the ala's dorsal face. It crosses the ala's superior
      // border and turns down its dorsal face: 45 degrees caudal and dorsal
      // around the dorsal-superior corner (face: the median over 6 mm of
      // height below the top of S1; top: the median over the 4 mm in front
      // of the face), from 4 mm in front of the face to 4 mm below the top,
      // lifted until 1 mm clear of it.
      auto faceAt = [&](double u, double w) -> std::optional<double> {
        std::optional<double> face;
        for (double v = canal.y - 25; v < canal.y + 25; v += 0.25)
          if (bone(u, v, w) && !bone(u, v + 0.25, w)) face = v + 0.25;
        return face;
      };
      const auto face0 = faceAt(up + 1, wRef - 6);
      if (!face0) continue;
      const auto wall = nerveAt(*face0 + 1, wRef + 2, std::max(rc, up - 6), up + 8);
      if (!wall) continue;
      const double x = wall->x;
      std::vector<double> faces, tops;
      for (double w = wRef - 10; w <= wRef - 4; w += 0.5)
        if (const auto e = faceAt(x, w)) faces.push_back(*e);
      if (faces.empty()) continue;
      const double face = percentile(faces, 0.5);
      for (double v = face - 6; v <= face - 2; v += 0.5)
        if (bone(x, v, wRef - 10))
          tops.push_back(wRef - 10 + exitAlong({x, v, wRef - 10}, {0, 0, 1}));
      if (tops.empty()) continue;
      const double top = percentile(tops, 0.5);
      const auto [c0, c1] = liftedClear({x, face - 4, top + 1}, {x, face + 1, top - 4});
      (side > 0 ? vm.rootGrooveLeft : vm.rootGrooveRight) =
          NerveGroove{toLps(c0.x, c0.y, c0.z), toLps(c1.x, c1.y, c1.z), 0.5,
                      "over the sacral ala's superior border in the groove against the S1 "
                      "superior articular process, down onto its dorsal face"};
      continue;
    }
    if (!tp) continue;

    // 4. Transverse-process root: just lateral to the pillar, at the depth
    //    and height of the bone there.
    Centroid rootBone;
    for (const auto& p : vox)
      if (lateral(p) > up + 1 && lateral(p) < up + 7 && p.v < canal.y + 12 && beside(p, wAxis, 12))
        rootBone.add(p);
    const Vec3 root = rootBone.n > 10 ? rootBone.mean() : Vec3{0, tp->depth, wAxis};
    (side > 0 ? vm.transverseRootLeft : vm.transverseRootRight) =
        Landmark{toLps(up + 1.5, root.y, root.z), 0.4,
                 "1.5 mm lateral to the articular pillar, at the depth and height of the bone "
                 "beside it"};

    // 5. Lumbar-type medial branch: from in front of the TP it crosses the
    //    TP's superior border against the neck of the SAP and runs caudally
    //    and dorsally onto its dorsal face (Bogduk; Lau et al. 2004: the
    //    electrode lies opposite the middle two quarters of the SAP). The
    //    course over the bone: from 1 mm above the superior border at the
    //    depth of the TP's axis, to 1 mm behind its dorsal face at the
    //    height of its axis, 1 mm lateral to the pillar beside it; lifted
    //    square to itself until it is 1 mm clear of the corner it crosses.
    {
      // The TP's axis through its sections at its middle and 3 mm medial,
      // followed to the root, where the pillar's bone would bias a section.
      Centroid inner, middle;
      for (const auto& p : vox) {
        if (!beside(p, wAxis, 12)) continue;
        if (std::abs(lateral(p) - (tp->uMid - 3)) < 1.5) inner.add(p);
        if (std::abs(lateral(p) - tp->uMid) < 1.5) middle.add(p);
      }
      struct Root {
        Vec3 axis;
        double top, face;
      };
      auto rootAt = [&](double u) -> std::optional<Root> {
        const Vec3 m = middle.mean(), i = inner.mean();
        const double along = (tp->uMid - u) / 3;
        const Vec3 q{u, m.y + along * (i.y - m.y), m.z + along * (i.z - m.z)};
        if (!bone(q.x, q.y, q.z)) return std::nullopt;
        // The root's superior border and dorsal face stand at most 2 mm
        // beyond the TP's own (at its middle): bone reaching further up or
        // back from the root is the pillar's (its SAP up to the facet
        // joint, at the height of the foramen) or a rib's, not the border
        // the nerve crosses.
        return Root{q, std::min(q.z + exitAlong(q, {0, 0, 1}), tp->top + 2),
                    std::min(q.y + exitAlong(q, {0, 1, 0}), tp->face + 2)};
      };
      // The pillar's wall beside the course: the 90th percentile of the
      // outermost exits over its depths, from the TP's superior border to
      // 4 mm above it (the SAP's neck).
      auto wallBeside = [&](const std::optional<Root>& r) -> std::optional<double> {
        if (!r) return std::nullopt;
        std::vector<double> us;
        // Where the pillar stands back from the root (a short or sloping
        // TP), also 6 mm further forward and higher; where it overhangs the
        // TP's middle (a hypertrophic facet), out to the TP's tip.
        for (double widen = 0; widen <= 6 && us.empty(); widen += 3)
          for (double vv = r->axis.y - widen; vv <= r->face + 2; vv += 0.5)
            for (double ww = r->top + 1; ww <= r->top + 4 + widen; ww += 0.5)
              if (const auto e = outermostExit(rc, widen > 0 ? tp->tip : tp->uMid, vv, ww))
                us.push_back(*e);
        // Where the point is under the pillar itself (the facet overhangs
        // the root, and the top measured there is the pillar's), the wall is
        // the pillar's outer face just below that top.
        if (us.empty())
          for (double vv = r->axis.y - 6; vv <= r->face + 2; vv += 0.5)
            for (double ww = r->top - 4; ww <= r->top - 1; ww += 0.5)
              if (const auto e = outermostExit(rc, tp->tip, vv, ww)) us.push_back(*e);
        if (us.empty()) return std::nullopt;
        return percentile(us, 0.9) + 1;
      };
      std::optional<Root> root;
      if (inner.n > 10 && middle.n > 10)
        if (const auto u1 = wallBeside(rootAt(tp->uMid)))
          if (const auto u2 = wallBeside(rootAt(*u1))) root = rootAt(*u2);
      if (root) {
        const Vec3 cranial{root->axis.x, root->axis.y, root->top + 1};
        const Vec3 caudal{root->axis.x, root->face + 1, root->axis.z};
        const auto [c0, c1] = liftedClear(cranial, caudal);
        (side > 0 ? vm.rootGrooveLeft : vm.rootGrooveRight) =
            NerveGroove{toLps(c0.x, c0.y, c0.z), toLps(c1.x, c1.y, c1.z), 0.5,
                        "over the transverse root's superior border beside the superior "
                        "articular process, down onto its dorsal face"};
      }
    }

    // 6. Thoracic-type: along the upper edge of the TP, 7-15 mm short of its
    //    bony tip, 1 mm above the bone (the superolateral corner; Chua &
    //    Bogduk 1995). The TP's axis runs through the centroids of its
    //    cross-sections 14-18 and 2-6 mm from its tip.
    if (tp->tip > up + 12) {
      Centroid end;
      for (const auto& p : vox)
        if (lateral(p) > tp->tip - 6 && lateral(p) < tp->tip - 2 && beside(p, wAxis, 12))
          end.add(p);
      Centroid inner;
      for (const auto& p : vox)
        if (std::abs(lateral(p) - (tp->tip - 16)) < 2 && beside(p, wAxis, 12)) inner.add(p);
      if (end.n > 10 && inner.n > 10) {
        const Vec3 ic = inner.mean();
        const Vec3 r0{side * (ic.x - canal.x), ic.y, ic.z};
        const Vec3 e = end.mean();
        const Vec3 r1{side * (e.x - canal.x), e.y, e.z};
        const Vec3 axis = normalized(r1 - r0);
        const double along = exitAlong(r0, axis);
        auto edgeAt = [&](double fromTip) {
          const Vec3 q = r0 + (along - fromTip) * axis;
          return toLps(q.x, q.y, q.z + exitAlong(q, {0, 0, 1}) + 1);
        };
        if (along > 16)
          (side > 0 ? vm.cornerGrooveLeft : vm.cornerGrooveRight) =
              NerveGroove{edgeAt(7), edgeAt(15), 0.4,
                          "upper edge of the transverse process, 7-15 mm from its tip"};
      }
    }
  }
}

} // namespace

void measurePosteriorElements(SpineModel& model) {
  const Volume& L = model.labels;
  std::map<int16_t, std::size_t> index;
  for (std::size_t i = 0; i < model.vertebrae.size(); ++i) {
    model.vertebrae[i].axes = axesOf(model, model.vertebrae[i]);
    index[static_cast<int16_t>(model.vertebrae[i].label)] = i;
  }
  std::vector<std::vector<LocalVoxel>> vox(model.vertebrae.size());
  for (std::size_t k = 0; k < L.size[2]; ++k)
    for (std::size_t j = 0; j < L.size[1]; ++j)
      for (std::size_t i = 0; i < L.size[0]; ++i) {
        const int16_t lab = L.hu[L.offset(i, j, k)];
        if (!spine_label::isVertebra(lab)) continue;
        auto it = index.find(lab);
        if (it == index.end()) continue;
        const Vec3 q = model.vertebrae[it->second].axes.toLocal(
            L.indexToLps({double(i), double(j), double(k)}));
        vox[it->second].push_back({float(q.x), float(q.y), float(q.z)});
      }
  for (std::size_t i = 0; i < model.vertebrae.size(); ++i) {
    if (model.vertebrae[i].label == spine_label::kSacrum)
      alignToS1Endplate(model, model.vertebrae[i], vox[i]);
    measureOne(model, model.vertebrae[i], vox[i]);
  }
}

} // namespace fluoroplan
