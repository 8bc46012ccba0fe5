#include "imaging/segmentation/spine_segmenter.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <numeric>
#include <optional>
#include <queue>
#include <sstream>
#include <tuple>

#include "imaging/core/parallel.h"
#include "imaging/core/reslice.h"
#include "imaging/segmentation/neural_foramina.h"
#include "imaging/segmentation/posterior_elements.h"

namespace fluoroplan {

double dice(const Volume& x, int a, const Volume& y, int b) {
  std::size_t nx = 0, ny = 0, both = 0;
  for (std::size_t i = 0; i < x.hu.size() && i < y.hu.size(); ++i) {
    const bool px = x.hu[i] == a, py = y.hu[i] == b;
    nx += px;
    ny += py;
    both += px && py;
  }
  return nx + ny == 0 ? 1.0 : 2.0 * double(both) / double(nx + ny);
}

namespace {

// 2D helpers on one slice (row-major w x h).
std::vector<uint8_t> closeSquare(const std::vector<uint8_t>& m, std::size_t w, std::size_t h,
                                 int r) {
  auto pass = [&](const std::vector<uint8_t>& in, bool dilate, bool horizontal) {
    std::vector<uint8_t> out(in.size());
    for (std::size_t y = 0; y < h; ++y)
      for (std::size_t x = 0; x < w; ++x) {
        uint8_t v = dilate ? 0 : 1;
        for (int t = -r; t <= r; ++t) {
          const long xx = horizontal ? long(x) + t : long(x),
                     yy = horizontal ? long(y) : long(y) + t;
          if (xx < 0 || yy < 0 || xx >= long(w) || yy >= long(h)) continue;
          const uint8_t s = in[std::size_t(yy) * w + std::size_t(xx)];
          v = dilate ? std::max(v, s) : std::min(v, s);
        }
        out[y * w + x] = v;
      }
    return out;
  };
  return pass(pass(pass(pass(m, true, true), true, false), false, true), false, false);
}

// Connected components (4-neighbour) of `m` that do not touch the border.
std::vector<std::vector<std::size_t>> holes(const std::vector<uint8_t>& solid, std::size_t w,
                                            std::size_t h) {
  std::vector<int> seen(solid.size(), 0);
  std::vector<std::vector<std::size_t>> out;
  std::vector<std::size_t> stack;
  for (std::size_t start = 0; start < solid.size(); ++start) {
    if (solid[start] || seen[start]) continue;
    std::vector<std::size_t> comp;
    bool border = false;
    stack.push_back(start);
    seen[start] = 1;
    while (!stack.empty()) {
      const std::size_t p = stack.back();
      stack.pop_back();
      comp.push_back(p);
      const std::size_t x = p % w, y = p / w;
      if (x == 0 || y == 0 || x + 1 == w || y + 1 == h) border = true;
      const std::size_t nb[4] = {x > 0 ? p - 1 : p, x + 1 < w ? p + 1 : p, y > 0 ? p - w : p,
                                 y + 1 < h ? p + w : p};
      for (std::size_t q : nb)
        if (!solid[q] && !seen[q]) {
          seen[q] = 1;
          stack.push_back(q);
        }
    }
    if (!border) out.push_back(std::move(comp));
  }
  return out;
}

struct CanalSlice {
  bool found = false;
  Vec3 centre;
  double radiusMm = 0;
};

// x(z) and y(z) fitted by least squares to points on axial slices (the
// canal's centres): x = x0 + dx z, y = y0 + dy z; none from fewer than
// `minPoints` or from points on one slice.
struct LineOfZ {
  double x0 = 0, dx = 0, y0 = 0, dy = 0;
  double distance(Vec3 p) const { return std::hypot(p.x - (x0 + dx * p.z), p.y - (y0 + dy * p.z)); }
};
std::optional<LineOfZ> fitLineOfZ(const std::vector<Vec3>& pts, std::size_t minPoints) {
  double n = 0, sz = 0, sx = 0, sy = 0, szz = 0, szx = 0, szy = 0;
  for (const Vec3& p : pts) {
    n += 1;
    sz += p.z;
    sx += p.x;
    sy += p.y;
    szz += p.z * p.z;
    szx += p.z * p.x;
    szy += p.z * p.y;
  }
  const double den = n * szz - sz * sz;
  if (pts.size() < minPoints || std::abs(den) < 1e-9) return std::nullopt;
  LineOfZ l;
  l.dx = (n * szx - sz * sx) / den;
  l.dy = (n * szy - sz * sy) / den;
  l.x0 = (sx - l.dx * sz) / n;
  l.y0 = (sy - l.dy * sz) / n;
  return l;
}

} // namespace

namespace {
// The steps below count slices from the feet up (a disc plane's "above" is
// the next segment); segmentSpine hands them such a volume.
SpineModel segmentFeetFirstSlices(const Volume& ct, const SegmentationOptions& o,
                                  const ProgressCallback& progress) {
  reportProgress(progress, 0.0, "segment: downsampling");
  std::array<std::size_t, 3> f{};
  const Volume c = blockAverage(ct, o.coarseMm, &f);
  const double boneHu = 180;
  const std::size_t W = c.size[0], H = c.size[1], D = c.size[2];

  // --- 1. Canal per coarse slice.
  std::vector<CanalSlice> canal(D);
  parallelFor(
      D, o.threads,
      [&](std::size_t K) {
        std::vector<uint8_t> bone(W * H);
        for (std::size_t n = 0; n < W * H; ++n)
          bone[n] = c.hu[K * W * H + n] > boneHu;
        const int r = std::max(1, int(std::lround(3.5 / c.spacingMm.x)));
        const auto closed = closeSquare(bone, W, H, r);
        double bestScore = 0;
        for (const auto& comp : holes(closed, W, H)) {
          const double area = double(comp.size()) * c.spacingMm.x * c.spacingMm.y;
          if (area < 40 || area > 900) continue;
          Vec3 centre;
          double hu = 0;
          for (std::size_t p : comp) {
            centre = centre + c.indexToLps({double(p % W), double(p / W), double(K)});
            hu += c.hu[K * W * H + p];
          }
          centre = (1.0 / double(comp.size())) * centre;
          hu /= double(comp.size());
          // CSF, cord and epidural fat average well under 60 HU; a faint
          // (osteoporotic) body enclosed by its cortex is 100 HU or more.
          if (hu > 60) continue;
          // A vertebral body lies in front of the canal (anterior is -y).
          const double rad = std::sqrt(area / 3.14159);
          std::size_t in = 0, all = 0;
          for (double dy = rad + 2; dy <= rad + 40; dy += c.spacingMm.y)
            for (double dx = -10; dx <= 10; dx += c.spacingMm.x) {
              const Vec3 idx = c.lpsToIndex(centre + Vec3{dx, -dy, 0});
              const long i = std::lround(idx.x), j = std::lround(idx.y);
              if (i < 0 || j < 0 || i >= long(W) || j >= long(H)) continue;
              ++all;
              in += c.hu[K * W * H + std::size_t(j) * W + std::size_t(i)] > boneHu;
            }
          const double frac = all ? double(in) / double(all) : 0;
          if (frac < 0.2) continue;
          // Bone around it on both sides (pedicles/laminae).
          const double score = frac;
          if (score > bestScore) {
            bestScore = score;
            canal[K] = {true, centre, rad};
          }
        }
      },
      [&](double fr, std::string_view) {
        return !progress || progress(0.05 + 0.25 * fr, "segment: tracking the canal");
      });

  // A slice where the canal's hole opens into a disc or a foramen puts its
  // centre several mm off (8 mm forward at the supine phantom's T6-T7).
  // Within +-15 mm the canal is nearly straight even where it curves most
  // (the lumbosacral junction: about 1 mm off a line): a line fitted to the
  // detections there, refitted without those over 3 mm from the first fit,
  // says where the canal is. A detection over 5 mm from it (a hole opening
  // into a disc: 6-8 mm; the detections' own jitter: up to 4 mm) is dropped
  // and filled in below like a missing one.
  {
    std::vector<CanalSlice> kept = canal;
    const long half = std::lround(15.0 / c.spacingMm.z);
    for (long K = 0; K < long(D); ++K) {
      if (!canal[std::size_t(K)].found) continue;
      std::vector<Vec3> pts;
      for (long t = std::max(0L, K - half); t <= std::min(long(D) - 1, K + half); ++t)
        if (canal[std::size_t(t)].found) pts.push_back(canal[std::size_t(t)].centre);
      if (pts.size() < 7) continue;
      const auto first = fitLineOfZ(pts, 5);
      if (!first) continue;
      std::vector<Vec3> near;
      for (const Vec3& p : pts)
        if (first->distance(p) <= 3) near.push_back(p);
      const auto second = fitLineOfZ(near, 5);
      if (second && second->distance(canal[std::size_t(K)].centre) > 5)
        kept[std::size_t(K)].found = false;
    }
    canal = kept;
  }
  // Keep the longest run of detections, bridging gaps up to 20 mm, and drop
  // detections that jump sideways.
  std::vector<std::size_t> hits;
  for (std::size_t K = 0; K < D; ++K)
    if (canal[K].found) hits.push_back(K);
  if (hits.size() < 3) throw NoSpineFound("no spine found: no spinal canal in any slice");
  std::size_t bestBegin = 0, bestEnd = 0, runBegin = 0;
  for (std::size_t n = 1; n <= hits.size(); ++n) {
    const bool breaks = n == hits.size() || double(hits[n] - hits[n - 1]) * c.spacingMm.z > 32 ||
                        norm(canal[hits[n]].centre - canal[hits[n - 1]].centre) >
                            15 + double(hits[n] - hits[n - 1]) * c.spacingMm.z;
    if (breaks) {
      if (n - runBegin > bestEnd - bestBegin) {
        bestBegin = runBegin;
        bestEnd = n;
      }
      runBegin = n;
    }
  }
  std::vector<std::size_t> run(hits.begin() + long(bestBegin), hits.begin() + long(bestEnd));
  if (double(run.back() - run.front()) * c.spacingMm.z < 15)
    throw NoSpineFound("no spine found: the canal is too short to be a spine");
  // A canal last seen within 25 mm of the scan's end goes on to that end,
  // along the line through its last 15 mm: its ring closes only at the
  // pedicles, 10-15 mm of each 30-40 mm level (the run above bridges gaps
  // of up to 32 mm for that), and without those slices a disc near the end
  // has no body beyond it to dip against. The real T11-T12 CT resampled to
  // 1 mm slices lost its T11 so, and an L3-S1 crop that cuts L2 11 mm into
  // its body (the canal last seen 18 mm from the top) labelled that piece
  // of L2 as L3.
  {
    const double reach = 25, baseline = 15;
    auto extend = [&](bool up) {
      const std::size_t last = up ? run.back() : run.front();
      const std::size_t end = up ? D - 1 : 0;
      const std::size_t gap = up ? end - last : last - end;
      if (gap == 0 || double(gap) * c.spacingMm.z > reach) return;
      std::vector<Vec3> pts;
      for (std::size_t K : run)
        if (double(up ? last - K : K - last) * c.spacingMm.z <= baseline)
          pts.push_back(canal[K].centre);
      const auto line = fitLineOfZ(pts, 3);
      std::vector<std::size_t> added;
      for (std::size_t n = 1; n <= gap; ++n) {
        const std::size_t K = up ? last + n : last - n;
        Vec3 p = canal[last].centre;
        p.z = c.indexToLps({0, 0, double(K)}).z;
        if (line) {
          p.x = line->x0 + line->dx * p.z;
          p.y = line->y0 + line->dy * p.z;
        }
        canal[K] = {true, p, canal[last].radiusMm};
        added.push_back(K);
      }
      if (up)
        run.insert(run.end(), added.begin(), added.end());
      else
        run.insert(run.begin(), added.rbegin(), added.rend());
    };
    extend(true);
    extend(false);
  }
  const std::size_t K0 = run.front(), K1 = run.back();
  // Interpolate missing slices and smooth.
  std::vector<Vec3> centre(D);
  std::vector<double> radius(D, 0);
  {
    std::size_t prev = K0;
    for (const std::size_t K : run) {
      for (std::size_t k = prev; k <= K; ++k) {
        const double t = K == prev ? 0 : double(k - prev) / double(K - prev);
        centre[k] = canal[prev].centre + t * (canal[K].centre - canal[prev].centre);
        radius[k] = canal[prev].radiusMm + t * (canal[K].radiusMm - canal[prev].radiusMm);
      }
      prev = K;
    }
    std::vector<Vec3> sm = centre;
    for (std::size_t K = K0; K <= K1; ++K) {
      Vec3 s;
      int n = 0;
      for (long t = -3; t <= 3; ++t) {
        const long k = long(K) + t;
        if (k < long(K0) || k > long(K1)) continue;
        s = s + centre[std::size_t(k)];
        ++n;
      }
      sm[K] = (1.0 / n) * s;
      sm[K].z = centre[K].z;
    }
    centre = sm;
  }
  // The canal's direction: a least-squares line through the centres within
  // +-12 mm along z (the slices are axial, so x and y are functions of z).
  // A short baseline turned the canal's detection jitter (a few mm where
  // foramina open its wall) into tilts of 30-40 degrees on a real scan.
  const std::vector<Vec3> tangents = [&] {
    std::vector<Vec3> out(D, Vec3{0, 0, 1});
    const long half = std::max(3L, std::lround(12.0 / c.spacingMm.z));
    for (std::size_t K = K0; K <= K1; ++K) {
      const std::size_t a = std::size_t(std::max(long(K0), long(K) - half)),
                        b = std::min(K1, K + std::size_t(half));
      const auto line =
          fitLineOfZ(std::vector<Vec3>(centre.begin() + long(a), centre.begin() + long(b) + 1), 2);
      if (line) out[K] = normalized(Vec3{line->dx, line->dy, 1.0});
    }
    return out;
  }();
  auto tangentAt = [&](std::size_t K) { return tangents[std::clamp(K, K0, K1)]; };
  auto anteriorAt = [&](Vec3 t) { return normalized(Vec3{0, -1, 0} - dot(Vec3{0, -1, 0}, t) * t); };

  // --- 2. Bone profile across the canal's course; discs are its dips.
  // The density that separates bodies from discs depends on the patient:
  // half-way between a disc (~80 HU) and this scan's cancellous bone (the
  // median density in front of the canal).
  double profileHu = boneHu;
  double cancellousMedianHu = 200;
  {
    std::vector<int16_t> body;
    for (std::size_t K = K0; K <= K1; ++K) {
      const Vec3 t = tangentAt(K), a = anteriorAt(t), l = cross(t, a);
      for (double r = radius[K] + 6; r <= radius[K] + 24; r += 2)
        for (double sd = -6; sd <= 6; sd += 2) {
          const Vec3 idx = c.lpsToIndex(centre[K] + r * a + sd * l);
          if (c.containsIndex(idx))
            body.push_back(c.at(std::size_t(std::lround(idx.x)), std::size_t(std::lround(idx.y)),
                                std::size_t(std::lround(idx.z))));
        }
    }
    if (!body.empty()) {
      std::nth_element(body.begin(), body.begin() + body.size() / 2, body.end());
      cancellousMedianHu = body[body.size() / 2];
      profileHu = std::clamp(0.5 * (80.0 + body[body.size() / 2]), 100.0, boneHu);
    }
  }
  // Sampled on the coarse grid smoothed 3 x 3 in plane (about 4.5 mm):
  // a disc's density lies only 30-60 HU under cancellous bone, so without it
  // noise of 20 HU (low-dose CT) lifts enough disc samples over the
  // threshold to hide a thoracic disc (measured on the real T11-T12 CT).
  // In-plane smoothing leaves the disc's thinness along the spine alone.
  const Volume cs = [&] {
    Volume out = c;
    parallelFor(D, o.threads, [&](std::size_t K) {
      for (std::size_t J = 1; J + 1 < H; ++J)
        for (std::size_t I = 1; I + 1 < W; ++I) {
          int sum = 0;
          for (std::size_t y = J - 1; y <= J + 1; ++y)
            for (std::size_t x = I - 1; x <= I + 1; ++x)
              sum += c.at(x, y, K);
          out.hu[out.offset(I, J, K)] = static_cast<int16_t>(sum / 9);
        }
    });
    return out;
  }();
  // Discs are wedges (lordosis, kyphosis): the plane is tilted up to 15
  // degrees about the left-right axis and the emptiest tilt kept. A wedge
  // is empty over a range of tilts: the middle of that range bisects it
  // (the first of them would lie along one endplate, 10-20 degrees off on
  // the prone phantom's L4-L5).
  std::vector<double> profile(D, 0), arc(D, 0), bestTilt(D, 0);
  for (std::size_t K = K0; K <= K1; ++K) {
    if (K > K0) arc[K] = arc[K - 1] + norm(centre[K] - centre[K - 1]);
    const Vec3 t0 = tangentAt(K), a0 = anteriorAt(t0), l = cross(t0, a0);
    double best = 2;
    std::vector<std::pair<double, double>> tried; // (tilt, bone fraction)
    std::size_t bestAt = 0;                       // index of the best in `tried`
    for (double deg = -15; deg <= 15; deg += 5) {
      const double th = deg * 3.14159265358979 / 180;
      const Vec3 a = std::cos(th) * a0 - std::sin(th) * t0;
      std::size_t in = 0, all = 0, planned = 0;
      for (double r = radius[K] + 2; r <= radius[K] + 36; r += 1.5)
        for (double s = -11; s <= 11; s += 1.5) {
          ++planned;
          const Vec3 idx = c.lpsToIndex(centre[K] + r * a + s * l);
          if (!c.containsIndex(idx)) continue;
          ++all;
          in += cs.at(std::size_t(std::lround(idx.x)), std::size_t(std::lround(idx.y)),
                      std::size_t(std::lround(idx.z))) > profileHu;
        }
      if (all < planned * 3 / 4) continue; // a plane that leaves the scan says nothing
      const double frac = double(in) / double(all);
      if (frac < best) {
        best = frac;
        bestAt = tried.size();
      }
      tried.push_back({th, frac});
    }
    if (!tried.empty()) {
      // The run of tilts as empty as the best (within 2% of the plane's
      // samples) around it, and its middle.
      std::size_t lo = bestAt, hi = bestAt;
      while (lo > 0 && tried[lo - 1].second <= best + 0.02)
        --lo;
      while (hi + 1 < tried.size() && tried[hi + 1].second <= best + 0.02)
        ++hi;
      bestTilt[K] = 0.5 * (tried[lo].first + tried[hi].first);
    }
    profile[K] = best > 1.5 ? 1.0 : best; // no usable plane: not a disc
  }
  std::vector<std::size_t> discs;
  {
    std::vector<double> sm(profile);
    for (std::size_t K = K0 + 1; K + 1 <= K1; ++K)
      sm[K] = (profile[K - 1] + profile[K] + profile[K + 1]) / 3;
    const double window = o.minDiscSpacingMm / 2;
    for (std::size_t K = K0 + 1; K < K1; ++K) {
      double localMin = 1e9, below = 0, above = 0;
      for (std::size_t k = K0; k <= K1; ++k) {
        if (std::abs(arc[k] - arc[K]) <= window) localMin = std::min(localMin, sm[k]);
        if (std::abs(arc[k] - arc[K]) <= 18)
          (k < K ? below : above) = std::max(k < K ? below : above, sm[k]);
      }
      const double localMax = std::max(below, above);
      if (sm[K] > localMin || sm[K] > 0.65 * localMax || localMax < 0.25) continue;
      // Bone on both sides: a dip at the scan's end with nothing denser
      // beyond it (a disc cut by the scan) does not split off a vertebra.
      // The lesser side may be a thin partial body: the real CT's T11 at
      // 3 mm slices rises 0.11 over its disc, the T12-L1 disc cut by its
      // bottom edge 0.02.
      if (std::min(below, above) - sm[K] < 0.1) continue;
      if (arc[K] - arc[K0] < 2.5 || arc[K1] - arc[K] < 2.5) continue;
      if (!discs.empty() && arc[K] - arc[discs.back()] < o.minDiscSpacingMm) {
        if (sm[K] < sm[discs.back()]) discs.back() = K;
        continue;
      }
      discs.push_back(K);
    }
  }
  reportProgress(progress, 0.4, "segment: splitting vertebrae");

  // Segments between discs, caudal to cranial: segment s lies above disc s-1
  // and below disc s.
  const std::size_t segments = discs.size() + 1;
  struct Plane {
    Vec3 point, normal;
  };
  std::vector<Plane> planes;
  for (std::size_t K : discs) {
    const Vec3 t0 = tangentAt(K), a0 = anteriorAt(t0);
    const double th = bestTilt[K];
    const Vec3 a = std::cos(th) * a0 - std::sin(th) * t0, t = std::cos(th) * t0 + std::sin(th) * a0;
    planes.push_back({centre[K] + (radius[K] + 15) * a, normalized(t)});
  }
  auto segmentOf = [&](Vec3 p, double margin) -> int {
    // Index of the segment that p lies in, or -1 within `margin` of a disc plane.
    int s = 0;
    for (std::size_t j = 0; j < planes.size(); ++j) {
      const double d = dot(p - planes[j].point, planes[j].normal);
      if (std::abs(d) < margin) return -1;
      if (d > 0) s = int(j) + 1;
    }
    return s;
  };

  // Distance from p to the nearer disc plane bounding segment s (a segment
  // at the scan's end has one), and the segment's length along the canal.
  auto distanceToBounds = [&](Vec3 p, std::size_t s) {
    double dmin = 1e9;
    if (s > 0) dmin = std::min(dmin, dot(p - planes[s - 1].point, planes[s - 1].normal));
    if (s < planes.size()) dmin = std::min(dmin, -dot(p - planes[s].point, planes[s].normal));
    return dmin;
  };
  auto segmentLength = [&](std::size_t s) {
    const double lo = s > 0 ? arc[discs[s - 1]] : arc[K0];
    const double hi = s < discs.size() ? arc[discs[s]] : arc[K1];
    return hi - lo;
  };

  // Segment of p by its position along the canal (untilted planes through
  // the canal at each disc), its distance to the nearer bound and the
  // segment's length.
  auto canalSegmentOf = [&](Vec3 p) {
    int s = 0;
    double margin = 1e9;
    for (std::size_t j = 0; j < discs.size(); ++j) {
      const double dd = dot(p - centre[discs[j]], tangentAt(discs[j]));
      if (dd > 0) s = int(j) + 1;
      margin = std::min(margin, std::abs(dd));
    }
    const std::size_t u = std::size_t(s);
    const double lo = u > 0 ? arc[discs[u - 1]] : arc[K0];
    const double hi = u < discs.size() ? arc[discs[u]] : arc[K1];
    // At a scan's end the bound is the end of the canal.
    if (u == 0) margin = std::min(margin, dot(p - centre[K0], tangentAt(K0)));
    if (u == discs.size()) margin = std::min(margin, dot(centre[K1] - p, tangentAt(K1)));
    return std::tuple<int, double, double>{s, margin, hi - lo};
  };

  // --- 3. Full-resolution bone mask: an edge threshold half-way between soft
  // tissue and cortex, with enclosed cancellous bone filled per slice.
  std::vector<int16_t> spineHu;
  for (std::size_t K = K0; K <= K1; K += 2) {
    const Vec3 t = tangentAt(K), a = anteriorAt(t);
    for (double r = radius[K]; r < radius[K] + 40; r += 1.0) {
      const Vec3 idx = ct.lpsToIndex(centre[K] + r * a);
      if (ct.containsIndex(idx))
        spineHu.push_back(ct.at(std::size_t(std::lround(idx.x)), std::size_t(std::lround(idx.y)),
                                std::size_t(std::lround(idx.z))));
    }
  }
  std::sort(spineHu.begin(), spineHu.end());
  const double cortex =
      spineHu.empty() ? 1000 : spineHu[std::size_t(0.995 * double(spineHu.size() - 1))];
  const double edge = std::clamp(0.5 * (40 + cortex), 250.0, 700.0);
  const std::size_t w = ct.size[0], h = ct.size[1], d = ct.size[2];
  // Faint bone (osteoporosis, a soft kernel, low dose): the half-way edge
  // misses cortex and posterior elements of 150-350 HU. Away from any
  // cortex denser than the edge (2 voxels in plane, and the slices above
  // and below), a voxel is also bone when its 3 x 3 neighbourhood is denser
  // than soft tissue and it is at least half-way up to its brightest
  // neighbour (not a partial-volume rim). Near dense cortex the edge alone
  // decides, so joint spaces stay open.
  const double lowHu = std::clamp(0.5 * (50.0 + cancellousMedianHu), 115.0, edge);
  std::vector<uint8_t> bone(ct.voxelCount(), 0);
  parallelFor(
      d, o.threads,
      [&](std::size_t k) {
        std::vector<uint8_t> m(w * h);
        const std::size_t base = k * w * h;
        for (std::size_t n = 0; n < w * h; ++n)
          m[n] = ct.hu[base + n] > edge;
        for (std::size_t j = 1; j + 1 < h; ++j)
          for (std::size_t i = 1; i + 1 < w; ++i) {
            const std::size_t n = j * w + i;
            if (m[n]) continue;
            int sum = 0;
            int16_t hi = ct.hu[base + n];
            for (std::size_t y = j - 1; y <= j + 1; ++y)
              for (std::size_t x = i - 1; x <= i + 1; ++x) {
                sum += ct.hu[base + y * w + x];
                hi = std::max(hi, ct.hu[base + y * w + x]);
              }
            // Next to cortex denser than the edge (in plane, or in the
            // slices above and below: a joint space seen obliquely by thin
            // slices) the edge holds, so a joint space's partial volume
            // between two cortices stays open.
            if (hi > edge || sum <= 9 * lowHu || ct.hu[base + n] < 0.5 * (40.0 + hi)) continue;
            int16_t near = hi;
            for (std::size_t kk : {k - 1, k + 1}) {
              if (kk >= d) continue; // k - 1 wraps below 0
              for (std::size_t y = j - 1; y <= j + 1; ++y)
                for (std::size_t x = i - 1; x <= i + 1; ++x)
                  near = std::max(near, ct.hu[kk * w * h + y * w + x]);
            }
            m[n] = near <= edge;
          }
        // Thin posterior elements (laminae, articular and spinous
        // processes 2-4 mm thick) in thick or soft-kernel slices peak well
        // under the edge, and their 3 x 3 mean stays under faint bone's.
        // Behind the canal's centre a voxel is also bone at half its
        // in-plane 5 x 5 maximum, where that maximum is bone-dense. Facet
        // joint spaces that this closes are split again by the flood, which
        // meets at their lower density.
        {
          const std::size_t K = std::clamp(std::min(D - 1, k / f[2]), K0, K1);
          const Vec3 a = anteriorAt(tangentAt(K)), left = cross(tangentAt(K), a);
          const double z = ct.indexToLps({0, 0, double(k)}).z;
          std::vector<uint8_t> thin(w * h, 0);
          for (std::size_t j = 2; j + 2 < h; ++j)
            for (std::size_t i = 2; i + 2 < w; ++i) {
              const std::size_t n = j * w + i;
              if (m[n] || ct.hu[base + n] <= lowHu) continue;
              Vec3 q = ct.indexToLps({double(i), double(j), double(k)});
              q.z = z;
              // Laterally no further than the articular processes: beyond
              // them a rib meets the transverse process at a joint that this
              // rule closes, and the vertebra's flood takes the rib (seen on
              // the prone phantom's T9 at 22 mm beyond the canal's radius).
              const Vec3 rel = q - centre[K];
              if (dot(rel, a) > 0 || std::abs(dot(rel, left)) > radius[K] + 16 || norm(rel) > 70)
                continue;
              int16_t hi = ct.hu[base + n];
              for (std::size_t y = j - 2; y <= j + 2; ++y)
                for (std::size_t x = i - 2; x <= i + 2; ++x)
                  hi = std::max(hi, ct.hu[base + y * w + x]);
              thin[n] = hi > 0.8 * edge && ct.hu[base + n] >= 0.5 * (40.0 + hi);
            }
          for (std::size_t n = 0; n < w * h; ++n)
            m[n] |= thin[n];
        }
        std::vector<uint8_t> inHole(w * h, 0);
        for (const auto& comp : holes(m, w, h)) {
          double hu = 0;
          for (std::size_t p : comp) {
            hu += ct.hu[base + p];
            inHole[p] = 1;
          }
          // Cancellous bone is a thick hole; a joint space between two
          // cortices is a thin one and must stay open.
          std::size_t interior = 0;
          for (std::size_t p : comp) {
            const std::size_t x = p % w, y = p / w;
            interior += x > 0 && x + 1 < w && y > 0 && y + 1 < h && inHole[p - 1] &&
                        inHole[p + 1] && inHole[p - w] && inHole[p + w];
          }
          for (std::size_t p : comp)
            inHole[p] = 0;
          if (hu / double(comp.size()) > 100 &&
              double(comp.size()) * ct.spacingMm.x * ct.spacingMm.y < 2500 &&
              double(interior) >= 0.3 * double(comp.size()))
            for (std::size_t p : comp)
              m[p] = 1;
        }
        std::copy(m.begin(), m.end(), bone.begin() + std::ptrdiff_t(base));
      },
      [&](double fr, std::string_view) {
        return !progress || progress(0.4 + 0.2 * fr, "segment: bone mask");
      });

  // --- 4. Markers in the bodies, then a priority flood through bone.
  Volume labels = ct;
  std::fill(labels.hu.begin(), labels.hu.end(), int16_t{0});
  std::vector<uint8_t> allowed(ct.voxelCount(), 0);
  auto coarseK = [&](std::size_t k) { return std::min(D - 1, k / f[2]); };
  // The body's front per slice, measured from the canal forward along the
  // midline: the last bone before 3 mm without any. Markers stay behind it
  // and the flood within 10 mm of it (osteophytes), so the aorta's
  // calcified wall in front of a thoracic body never seeds or joins it.
  std::vector<double> bodyFront(d, 1e9);
  for (std::size_t k = 0; k < d; ++k) {
    const std::size_t K = std::clamp(coarseK(k), K0, K1);
    const Vec3 a = anteriorAt(tangentAt(K));
    const double z = ct.indexToLps({0, 0, double(k)}).z;
    double lastBone = -1;
    for (double r = radius[K] + 1; r < radius[K] + 70; r += 0.5) {
      Vec3 q = centre[K] + r * a;
      q.z = z;
      const Vec3 idx = ct.lpsToIndex(q);
      if (!ct.containsIndex(idx)) break;
      if (bone[ct.offset(std::size_t(std::lround(idx.x)), std::size_t(std::lround(idx.y)), k)])
        lastBone = r;
      else if (lastBone > radius[K] + 10 && r - lastBone >= 3) {
        bodyFront[k] = lastBone;
        break;
      }
    }
  }
  {
    // A slice through a disc or an endplate gap measures nothing useful:
    // the median over +-8 mm.
    std::vector<double> sm(bodyFront);
    const long half = std::max(1L, std::lround(8.0 / ct.spacingMm.z));
    for (long k = 0; k < long(d); ++k) {
      std::vector<double> win;
      for (long t = std::max(0L, k - half); t <= std::min(long(d) - 1, k + half); ++t)
        if (bodyFront[std::size_t(t)] < 1e8) win.push_back(bodyFront[std::size_t(t)]);
      if (win.size() >= 3) {
        std::nth_element(win.begin(), win.begin() + long(win.size() / 2), win.end());
        sm[std::size_t(k)] = win[win.size() / 2];
      } else {
        sm[std::size_t(k)] = 1e9;
      }
    }
    bodyFront = sm;
  }
  for (std::size_t k = 0; k < d; ++k) {
    // Beyond the canal's ends (the sacrum's tip, say) the nearest end's
    // frame is used, up to 60 mm away.
    const std::size_t K = std::clamp(coarseK(k), K0, K1);
    if (std::abs(double(coarseK(k)) - double(K)) * c.spacingMm.z > 60) continue;
    const Vec3 t = tangentAt(K), a = anteriorAt(t), l = cross(t, a);
    const double front = bodyFront[k];
    for (std::size_t j = 0; j < h; ++j)
      for (std::size_t i = 0; i < w; ++i) {
        const std::size_t o3 = ct.offset(i, j, k);
        if (!bone[o3]) continue;
        const Vec3 p = ct.indexToLps({double(i), double(j), double(k)});
        const Vec3 rel = p - centre[K];
        const double ant = dot(rel, a), lat = dot(rel, l);
        if (std::abs(lat) > o.ribSearchMm || ant > std::min(radius[K] + 60, front + 10) ||
            ant < -85)
          continue;
        allowed[o3] = 1;
        if (ant > radius[K] + 3 && ant < std::min(radius[K] + 45, front - 3) && std::abs(lat) < 9) {
          // Markers only in the middle half of each body: a disc plane a few
          // mm off must not seed a vertebra with its neighbour's label. And
          // within 9 mm of the midline: a rib's head beside a thoracic body
          // 25-30 mm wide starts 12-15 mm out, and a marker there floods the
          // rib as vertebra.
          const int s = segmentOf(p, 0.0);
          if (s >= 0 && distanceToBounds(p, std::size_t(s)) >
                            std::max(2.5, 0.25 * segmentLength(std::size_t(s))))
            labels.hu[o3] = static_cast<int16_t>(s + 1);
        } else if (ant < -radius[K] - 1 && ant > -radius[K] - 12 && std::abs(lat) < 4) {
          // Markers in the lamina right behind the canal, at the middle of
          // each segment along the canal: a vertebra's arch meets its body
          // only through the pedicles, which a scan's edge may cut (the
          // top vertebra of a short scan), and a neighbour's flood would
          // otherwise take the arch through the facet joints. Positions are
          // along the canal, not along the tilted disc planes, which behind
          // the canal may lie several mm off.
          const auto [s, margin, length] = canalSegmentOf(p);
          if (s >= 0 && margin > std::max(3.0, 0.3 * length))
            labels.hu[o3] = static_cast<int16_t>(s + 1);
        }
      }
  }
  reportProgress(progress, 0.7, "segment: flooding vertebrae");
  // Bone in front of the canal (the bodies) lying more than this beyond a
  // segment's disc planes is not that segment's: where an osteophyte bridges
  // a disc, or partial volume closes it, the flood would otherwise run up
  // the cortex into the next body (30 mm on a real thoracolumbar scan).
  // Posterior elements are left free: a thoracic spinous process or an
  // inferior articular process reaches a whole level down.
  const double kBeyondDiscMm = 5.0;
  // Per slice, the depth in front of the canal is linear in (i, j): the
  // flood asks it for every voxel it takes.
  struct SliceFrame {
    double atOrigin = 0, perI = 0, perJ = 0; // depth in front of the canal, mm
    double radius = 0;
  };
  std::vector<SliceFrame> sliceFrame(d);
  for (std::size_t k = 0; k < d; ++k) {
    const std::size_t K = std::clamp(coarseK(k), K0, K1);
    const Vec3 a = anteriorAt(tangentAt(K)), o0 = ct.indexToLps({0, 0, double(k)});
    sliceFrame[k] = {dot(o0 - centre[K], a), dot(ct.indexToLps({1, 0, double(k)}) - o0, a),
                     dot(ct.indexToLps({0, 1, double(k)}) - o0, a), radius[K]};
  }
  auto depthInFront = [&](std::size_t i, std::size_t j, std::size_t k) {
    const SliceFrame& sf = sliceFrame[k];
    return sf.atOrigin + sf.perI * double(i) + sf.perJ * double(j);
  };
  auto inBody = [&](std::size_t i, std::size_t j, std::size_t k, Vec3* lps) {
    if (depthInFront(i, j, k) <= sliceFrame[k].radius + 2) return false;
    if (lps) *lps = ct.indexToLps({double(i), double(j), double(k)});
    return true;
  };
  auto mayTake = [&](std::size_t p, int16_t lab) {
    Vec3 q;
    if (!inBody(p % w, (p / w) % h, p / (w * h), &q)) return true;
    return distanceToBounds(q, std::size_t(lab - 1)) > -kBeyondDiscMm;
  };
  {
    using Item = std::pair<int16_t, std::size_t>;
    std::priority_queue<Item> queue;
    auto pushNeighbours = [&](std::size_t p) {
      const std::size_t i = p % w, j = (p / w) % h, k = p / (w * h);
      const std::size_t nb[6] = {i > 0 ? p - 1 : p,     i + 1 < w ? p + 1 : p,
                                 j > 0 ? p - w : p,     j + 1 < h ? p + w : p,
                                 k > 0 ? p - w * h : p, k + 1 < d ? p + w * h : p};
      for (std::size_t q : nb)
        if (q != p && allowed[q] && labels.hu[q] == 0) queue.push({ct.hu[q], q});
    };
    std::vector<int16_t> from(ct.voxelCount(), 0);
    for (std::size_t p = 0; p < labels.hu.size(); ++p)
      if (labels.hu[p] > 0) pushNeighbours(p);
    // Each queued voxel takes the label of a labelled neighbour; processing
    // the densest bone first lets fronts meet at low-density gaps.
    while (!queue.empty()) {
      const std::size_t p = queue.top().second;
      queue.pop();
      if (labels.hu[p] != 0) continue;
      const std::size_t i = p % w, j = (p / w) % h, k = p / (w * h);
      const std::size_t nb[6] = {i > 0 ? p - 1 : p,     i + 1 < w ? p + 1 : p,
                                 j > 0 ? p - w : p,     j + 1 < h ? p + w : p,
                                 k > 0 ? p - w * h : p, k + 1 < d ? p + w * h : p};
      int16_t lab = 0;
      for (std::size_t q : nb)
        if (q != p && labels.hu[q] > 0 && labels.hu[q] != lab && mayTake(p, labels.hu[q]))
          lab = labels.hu[q];
      if (lab == 0) continue;
      labels.hu[p] = lab;
      pushNeighbours(p);
    }
  }
  // Ribs: bone just beyond the vertebrae's lateral reach, near the canal's
  // depth, per segment (none of it is labelled: it lies beyond the flood's
  // reach).
  std::vector<std::size_t> ribVoxels(segments, 0);
  for (std::size_t k = 0; k < d; ++k) {
    const std::size_t K = coarseK(k);
    if (K < K0 || K > K1) continue;
    const Vec3 t = tangentAt(K), a = anteriorAt(t), l = cross(t, a);
    for (std::size_t j = 0; j < h; ++j)
      for (std::size_t i = 0; i < w; ++i) {
        if (ct.hu[ct.offset(i, j, k)] <= edge) continue;
        const Vec3 p = ct.indexToLps({double(i), double(j), double(k)});
        const double lat = std::abs(dot(p - centre[K], l)), ant = dot(p - centre[K], a);
        if (lat > o.ribSearchMm && lat < o.ribSearchMm + 30 && ant > -30 && ant < 25)
          if (const int s = segmentOf(p, 0.0); s >= 0) ribVoxels[std::size_t(s)]++;
      }
  }
  const double voxelMl = ct.spacingMm.x * ct.spacingMm.y * ct.spacingMm.z / 1000.0;
  // The thoracic run: from the most cranial segment down while ribs
  // continue (the top one may be a sliver cut by the scan's edge). Lateral
  // bone below the run is the ilium or a long transverse process.
  std::vector<bool> inRibRun(segments, false);
  for (std::size_t s = segments; s-- > 0;) {
    if (double(ribVoxels[s]) * voxelMl > 0.4)
      inRibRun[s] = true;
    else if (s + 1 < segments)
      break;
  }

  // Pieces of a process that the flood could not reach: on thick slices or
  // 1 mm pixels the cortex of a transverse process dips under the edge at
  // its corners, cutting its outer half off (L1-L5 at 2-3 mm slices on the
  // phantom). A separate piece of bone joins the one vertebra whose bone
  // lies within 2 mm of it when it is small (under 2 ml), lies lateral to
  // and no further forward than the canal, and stays within the vertebra's
  // lateral reach. Not beside ribs: a rib's tubercle and neck, cut off from
  // its shaft by a thin section, look just like such a piece. The ilium is
  // large and reaches beyond, so it does not join; a piece near two
  // vertebrae (an articular process across its joint) stays out.
  {
    std::vector<uint8_t> seen(ct.voxelCount(), 0);
    std::vector<std::size_t> comp, stack;
    const long gapI = std::max(1L, std::lround(2.0 / ct.spacingMm.x));
    const long gapJ = std::max(1L, std::lround(2.0 / ct.spacingMm.y));
    const long gapK = std::max(1L, std::lround(2.0 / ct.spacingMm.z));
    const double voxelMm3 = ct.spacingMm.x * ct.spacingMm.y * ct.spacingMm.z;
    for (std::size_t start = 0; start < ct.voxelCount(); ++start) {
      if (!bone[start] || labels.hu[start] != 0 || seen[start]) continue;
      comp.clear();
      bool keep = true;
      stack.push_back(start);
      seen[start] = 1;
      while (!stack.empty()) {
        const std::size_t p = stack.back();
        stack.pop_back();
        comp.push_back(p);
        const std::size_t i = p % w, j = (p / w) % h, k = p / (w * h);
        if (keep) {
          const std::size_t K = coarseK(k);
          if (K < K0 || K > K1 || double(comp.size()) * voxelMm3 > 2000) {
            keep = false;
          } else {
            const Vec3 t = tangentAt(K), a = anteriorAt(t);
            const Vec3 rel = ct.indexToLps({double(i), double(j), double(k)}) - centre[K];
            const double ant = dot(rel, a), lat = std::abs(dot(rel, cross(t, a)));
            keep = lat > radius[K] && lat < o.ribSearchMm && ant < radius[K] && ant > -85;
          }
        }
        const std::size_t nb[6] = {i > 0 ? p - 1 : p,     i + 1 < w ? p + 1 : p,
                                   j > 0 ? p - w : p,     j + 1 < h ? p + w : p,
                                   k > 0 ? p - w * h : p, k + 1 < d ? p + w * h : p};
        for (std::size_t q : nb)
          if (q != p && bone[q] && labels.hu[q] == 0 && !seen[q]) {
            seen[q] = 1;
            stack.push_back(q);
          }
      }
      if (!keep) continue;
      int16_t near = 0;
      bool twoNear = false;
      for (std::size_t p : comp) {
        const long i = long(p % w), j = long((p / w) % h), k = long(p / (w * h));
        for (long z = std::max(0L, k - gapK); z <= std::min(long(d) - 1, k + gapK); ++z)
          for (long y = std::max(0L, j - gapJ); y <= std::min(long(h) - 1, j + gapJ); ++y)
            for (long x = std::max(0L, i - gapI); x <= std::min(long(w) - 1, i + gapI); ++x) {
              const int16_t l =
                  labels.hu[ct.offset(std::size_t(x), std::size_t(y), std::size_t(z))];
              if (l <= 0) continue;
              if (near != 0 && l != near) twoNear = true;
              near = l;
            }
        if (twoNear) break;
      }
      if (near == 0 || twoNear || inRibRun[std::size_t(near - 1)]) continue;
      for (std::size_t p : comp)
        labels.hu[p] = near;
    }
  }
  // Cancellous bone that the edge threshold left out: per slice and
  // vertebra, the mask is closed (bridging a speckled cortex) and its holes
  // filled, except the hole around the canal's core.
  parallelFor(d, o.threads, [&](std::size_t k) {
    const std::size_t base = k * w * h;
    const std::size_t K = std::clamp(coarseK(k), K0, K1);
    const Vec3 core = centre[K];
    const double coreR = 0.6 * radius[K];
    std::map<int16_t, std::size_t> present;
    for (std::size_t n = 0; n < w * h; ++n)
      if (labels.hu[base + n] > 0) present[labels.hu[base + n]]++;
    const int r = std::max(1, int(std::lround(1.5 / ct.spacingMm.x)));
    for (const auto& [lab, count] : present) {
      if (count < 20) continue;
      std::vector<uint8_t> m(w * h);
      for (std::size_t n = 0; n < w * h; ++n)
        m[n] = labels.hu[base + n] == lab;
      std::vector<uint8_t> closed = closeSquare(m, w, h, r);
      for (const auto& comp : holes(closed, w, h)) {
        if (double(comp.size()) * ct.spacingMm.x * ct.spacingMm.y > 2500) continue;
        // Blood or soft tissue ringed by bone-dense wall (a calcified aorta
        // against the body), or a disc ringed by its calcified annulus and
        // endplate rim (70-110 HU), is not marrow.
        double mean = 0;
        for (std::size_t p : comp)
          mean += ct.hu[base + p];
        if (mean < 110.0 * double(comp.size())) continue;
        // A hole may reach the canal (through the basivertebral foramen, say):
        // the canal itself stays open, the bone around it is filled.
        for (std::size_t p : comp) {
          const Vec3 q = ct.indexToLps({double(p % w), double(p / w), double(k)});
          if (std::hypot(q.x - core.x, q.y - core.y) > coreR + 0.4 * radius[K] + 1.0) closed[p] = 1;
        }
      }
      for (std::size_t n = 0; n < w * h; ++n)
        if (closed[n] && labels.hu[base + n] == 0 && ct.hu[base + n] > 0) labels.hu[base + n] = lab;
    }
  });
  // Where the cortex does not close in a slice (thin or partial-volumed on
  // real scans), cancellous voxels still lie between walls of one vertebra:
  // a bone-dense voxel whose in-plane rays meet the same vertebra within
  // 20 mm in at least three of four directions belongs to it.
  const double kFattyMarrowHu = 0, kMarrowFromDiscMm = 6;
  parallelFor(d, o.threads, [&](std::size_t k) {
    const std::size_t base = k * w * h;
    const long reach = std::lround(20.0 / ct.spacingMm.x);
    std::vector<std::pair<std::size_t, int16_t>> add;
    for (std::size_t j = 0; j < h; ++j)
      for (std::size_t i = 0; i < w; ++i) {
        const std::size_t p = base + j * w + i;
        if (labels.hu[p] != 0 || ct.hu[p] < kFattyMarrowHu || ct.hu[p] > edge) continue;
        if (i == 0 || j == 0 || i + 1 == w || j + 1 == h) continue;
        // Fatty marrow (an older patient's bodies, 0-110 HU) is as dense as
        // a disc: it counts only deep in a body, away from the disc planes,
        // and walled in on all four sides.
        Vec3 q;
        int need = 3;
        if (ct.hu[p] < 110) {
          // Soft tissue in front of the body is most of the scan: only the
          // body's own depth is searched.
          if (depthInFront(i, j, k) >= bodyFront[k] || !inBody(i, j, k, &q) ||
              segmentOf(q, kMarrowFromDiscMm) < 0)
            continue;
          need = 4;
        } else if (ct.hu[p - 1] < 100 || ct.hu[p + 1] < 100 || ct.hu[p - w] < 100 ||
                   ct.hu[p + w] < 100) {
          // The partial-volume rim just outside a cortex touches soft
          // tissue; cancellous bone inside does not.
          continue;
        }
        std::map<int16_t, int> hits;
        const int dirs[4][2] = {{1, 0}, {-1, 0}, {0, 1}, {0, -1}};
        for (const auto& dd : dirs)
          for (long t = 1; t <= reach; ++t) {
            const long x = long(i) + dd[0] * t, y = long(j) + dd[1] * t;
            if (x < 0 || y < 0 || x >= long(w) || y >= long(h)) break;
            const std::size_t q = base + std::size_t(y) * w + std::size_t(x);
            const int16_t l = labels.hu[q];
            if (l > 0 && l < spine_label::kSpinalCanal) {
              hits[l]++;
              break;
            }
            if (ct.hu[q] > edge) break; // another bone (a rib) is in the way
          }
        for (const auto& [l, c] : hits)
          if (c >= need) add.push_back({p, l});
      }
    for (const auto& [p, l] : add)
      labels.hu[p] = l;
  });
  reportProgress(progress, 0.85, "segment: naming levels");

  // --- 5. Per-segment facts: size, extent along the canal, ribs.
  struct Seg {
    std::size_t voxels = 0;
    double lowArc = 1e9, highArc = -1e9;
    std::size_t ribVoxels = 0;
    Vec3 sum;
    Vec3 bodySum; // voxels in front of the canal: the body
    std::size_t bodyVoxels = 0;
    // |lateral| of the body proper, 5 mm in front of the canal (clear of the
    // pedicles' roots and a cervical body's uncinate processes), 0.5 mm bins.
    std::vector<std::size_t> bodyHalfWidth = std::vector<std::size_t>(128);
    std::size_t widthVoxels = 0;
    double canalRadiusSum = 0;
    std::size_t canalSamples = 0;
    // Width of the body: twice the pct-th percentile of its voxels' distance
    // from the canal's midline.
    double bodyWidthMm(std::size_t pct) const {
      std::size_t seen = 0;
      for (std::size_t b = 0; b < bodyHalfWidth.size(); ++b)
        if ((seen += bodyHalfWidth[b]) >= widthVoxels * pct / 100) return double(b + 1);
      return 64;
    }
    double canalDiameterMm() const {
      return canalSamples ? 2 * canalRadiusSum / double(canalSamples) : 0;
    }
  };
  std::vector<Seg> seg(segments);
  for (std::size_t k = 0; k < d; ++k) {
    const std::size_t K = coarseK(k);
    for (std::size_t j = 0; j < h; ++j)
      for (std::size_t i = 0; i < w; ++i) {
        const std::size_t o3 = ct.offset(i, j, k);
        const int lab = labels.hu[o3];
        if (lab > 0) {
          Seg& s = seg[std::size_t(lab - 1)];
          ++s.voxels;
          const Vec3 p = ct.indexToLps({double(i), double(j), double(k)});
          s.sum = s.sum + p;
          const std::size_t Kc = std::clamp(K, K0, K1);
          const Vec3 ac = anteriorAt(tangentAt(Kc));
          if (dot(p - centre[Kc], ac) > radius[Kc] + 1) {
            s.bodySum = s.bodySum + p;
            ++s.bodyVoxels;
            if (dot(p - centre[Kc], ac) > radius[Kc] + 5) {
              const double lat = std::abs(dot(p - centre[Kc], cross(tangentAt(Kc), ac)));
              ++s.bodyHalfWidth[std::min<std::size_t>(127, std::size_t(lat * 2))];
              ++s.widthVoxels;
            }
          }
        }
      }
  }
  for (std::size_t s = 0; s < segments; ++s)
    seg[s].ribVoxels = ribVoxels[s];
  // Segment extents along the canal.
  for (std::size_t K = K0; K <= K1; ++K) {
    const int s = segmentOf(centre[K] + (radius[K] + 15) * anteriorAt(tangentAt(K)), 0.0);
    if (s < 0) continue;
    seg[std::size_t(s)].lowArc = std::min(seg[std::size_t(s)].lowArc, arc[K]);
    seg[std::size_t(s)].highArc = std::max(seg[std::size_t(s)].highArc, arc[K]);
    seg[std::size_t(s)].canalRadiusSum += radius[K];
    ++seg[std::size_t(s)].canalSamples;
  }
  // Drop empty segments (no bone flooded).
  std::vector<std::size_t> kept;
  for (std::size_t s = 0; s < segments; ++s)
    if (seg[s].voxels * voxelMl > 2.0) kept.push_back(s);
  if (kept.empty()) throw NoSpineFound("no spine found: no vertebral bone along the canal");

  // --- 6. Naming (kept is caudal to cranial).
  const std::size_t n = kept.size();
  const Seg& lowest = seg[kept[0]];
  const bool lowestTouchesBottom = lowest.lowArc <= arc[K0] + 1;
  const bool sacrum = n >= 2 && lowestTouchesBottom && lowest.highArc - lowest.lowArc > 30 &&
                      double(lowest.voxels) > 1.3 * double(seg[kept[1]].voxels);
  // Rib bone beside each vertebra, as seen (over 0.4 ml); `ribs` keeps
  // what the count below accepts of it.
  std::vector<bool> ribsSeen(n);
  for (std::size_t m = 0; m < n; ++m)
    ribsSeen[m] = double(seg[kept[m]].ribVoxels) * voxelMl > 0.4;
  std::vector<bool> ribs = ribsSeen;
  // The thoracic run: from the most cranial vertebra down, while ribs continue.
  std::optional<std::size_t> lastRib;
  // A sliver of vertebra cut by the scan's top edge may show no rib: the run
  // then starts just below it.
  std::size_t top = n - 1;
  const bool topCut = seg[kept[n - 1]].highArc >= arc[K1] - 1.0;
  if (!ribs[top] && topCut && top > 0 && ribs[top - 1]) {
    ribs[top] = true; // counted with the run: a rib-bearing level cut by the edge
    --top;
  }
  if (ribs[top]) {
    std::size_t m = top;
    while (m > 0 && ribs[m - 1])
      --m;
    lastRib = m;
  }
  // Lateral bone below the thoracic run is the ilium or a transverse
  // process, not a rib.
  for (std::size_t m = 0; m < n; ++m)
    if (!lastRib || m < *lastRib) ribs[m] = false;
  std::vector<int> name(n, 0);
  std::ostringstream ev;
  bool certain = false;
  std::vector<std::vector<std::string>> alternatives(n);
  auto countUpFromSacrum = [&](std::vector<int>& nm) {
    nm[0] = spine_label::kSacrum;
    int v = 24; // L5
    for (std::size_t m = 1; m < n; ++m)
      nm[m] = v--;
  };
  auto countFromLastRib = [&](std::vector<int>& nm, std::size_t lr) {
    for (std::size_t m = 0; m < n; ++m) {
      const long off = long(m) - long(lr); // positive: cranial of the last rib-bearing vertebra
      nm[m] = 19 - int(off);
    }
  };
  // Cervical vertebrae: bodies narrower than the canal is wide. C3-C7
  // bodies are 15-20 mm wide under a canal ~23 mm wide and 14 mm deep; T1
  // and below are 25 mm and more over a rounder, smaller canal (Panjabi
  // 1991). Measured as the 90th percentile width of the bone in front of
  // the canal (about 0.8 of the full width): under 20 mm and under 1.25
  // canal diameters. Vertebrae cut by the scan's edge are not judged.
  std::vector<bool> cervical(n);
  for (std::size_t m = 0; m < n; ++m) {
    const Seg& sg = seg[kept[m]];
    const bool cut = (m == 0 && lowestTouchesBottom) || sg.highArc >= arc[K1] - 1.0;
    const double w = sg.bodyWidthMm(90);
    cervical[m] = !cut && sg.bodyVoxels > 200 && w < 20 && w < 1.25 * sg.canalDiameterMm();
  }
  // The cervical run: whole cervical-type vertebrae from the top down (a cut
  // top vertebra joins it), over a vertebra that is not: that one is T1.
  std::optional<std::size_t> lowestCervical;
  {
    std::size_t m = n - 1;
    if (!cervical[m] && topCut && m > 0) --m;
    std::size_t run = 0;
    while (cervical[m]) {
      ++run;
      lowestCervical = m;
      if (m == 0) break;
      --m;
    }
    if (run < 2 || *lowestCervical == 0 || n - *lowestCervical > 7) lowestCervical.reset();
  }
  if (lowestCervical) {
    const std::size_t c7 = *lowestCervical;
    for (std::size_t m = 0; m < n; ++m)
      name[m] = m >= c7 ? 7 - int(m - c7) : 7 + int(c7 - m);
    const bool t1Ribs = ribsSeen[c7 - 1];
    certain = t1Ribs;
    for (std::size_t m = 0; m < n; ++m)
      if (!certain) alternatives[m] = {verseLevelName(name[m] + 1), verseLevelName(name[m] - 1)};
    for (std::size_t m = 0; m < n; ++m)
      ribs[m] = m < c7 && ribsSeen[m];
    ev << "cervical vertebrae from their narrow bodies (narrower than the canal is wide): the "
          "lowest taken as C7, the wider one below as T1"
       << (t1Ribs ? ", which bears ribs"
                  : "; no ribs seen on T1 to confirm: a C7-T1 count can be off by one, confirm "
                    "by counting down from C2");
  } else if (sacrum && lastRib) {
    countUpFromSacrum(name);
    const int fromSacrum = name[*lastRib];
    if (fromSacrum == 19) {
      // The usual anatomy, and the most likely reading; but 13 rib pairs
      // over 5 lumbar vertebrae, or 11 over 5, look the same unless the
      // count can start at C2, which this scan does not show.
      certain = false;
      alternatives[*lastRib] = {"T13 (13 rib pairs, count from C2 to settle)"};
      for (std::size_t m = *lastRib + 1; m < n; ++m)
        alternatives[m] = {verseLevelName(name[m] + 1) + " (if 13 rib pairs)"};
      ev << "sacrum and the last rib-bearing vertebra agree (T12 over 5 lumbar vertebrae, the "
            "usual anatomy); "
            "13 or 11 rib pairs cannot be excluded without the cervicothoracic junction in view";
    } else if (fromSacrum == 20) {
      // Ribs on what the sacral count calls L1: a 13th rib-bearing vertebra.
      name[*lastRib] = spine_label::kT13;
      for (std::size_t m = *lastRib + 1; m < n; ++m)
        name[m] = 19 - int(m - *lastRib - 1);
      alternatives[*lastRib] = {"L1 with lumbar ribs"};
      ev << "counted from the sacrum, the last rib-bearing vertebra is L1: named T13 (13 rib "
            "pairs); it could be L1 with lumbar ribs";
    } else if (fromSacrum == 18) {
      // Six mobile lumbar vertebrae below the 12th ribs.
      name[1] = 25; // L6
      for (std::size_t m = 2; m < n; ++m)
        name[m] = 24 - int(m - 2);
      alternatives[1] = {"S1 lumbarised", "L5 with 11 rib pairs above"};
      ev << "counted from the sacrum, the last rib-bearing vertebra is T11: named an L6 (6 lumbar "
            "vertebrae); it could be 11 rib pairs or a lumbarised S1";
    } else {
      ev << "sacrum and ribs disagree by more than one level; named from the sacrum";
    }
  } else if (sacrum) {
    countUpFromSacrum(name);
    ev << "counted up from the sacrum; no ribs in view to confirm (a transitional vertebra cannot "
          "be excluded)";
  } else if (lastRib) {
    countFromLastRib(name, *lastRib);
    ev << "named from the ribs: the lowest rib-bearing vertebra in view taken as T12";
    if (*lastRib == 0)
      ev << ", but the scan ends below it, so it may not be the last rib-bearing one";
    // Rib bone under the threshold beside the vertebra below: a short 12th
    // rib, or the shaft of the rib above running down past it (noise of
    // 20 HU on the real T11-T12 CT moved 0.35 ml between the two).
    else if (const double below = double(seg[kept[*lastRib - 1]].ribVoxels) * voxelMl; below > 0.1)
      ev << "; the vertebra below it shows " << std::lround(below * 100) / 100.0
         << " ml of bone where ribs lie (a rib-bearing one shows over 0.4 ml): if that is a short "
            "12th rib, every name here is one level higher (T12 becomes T11)";
    for (std::size_t m = 0; m < n; ++m)
      alternatives[m] = {verseLevelName(name[m] + 1), verseLevelName(name[m] - 1)};
  } else {
    // Nothing to count from: provisional lumbar names, clearly uncertain.
    for (std::size_t m = 0; m < n; ++m)
      name[m] = 24 - int(m);
    ev << "no sacrum and no ribs in view: names are provisional (lowest taken as L5); set them by "
          "hand";
  }

  // --- 7. Relabel to VerSe, canal label, landmarks.
  std::vector<int16_t> map(segments + 1, 0);
  for (std::size_t m = 0; m < n; ++m)
    map[kept[m] + 1] = static_cast<int16_t>(name[m]);
  for (auto& v : labels.hu)
    if (v > 0) v = map[std::size_t(v)];
  for (std::size_t k = 0; k < d; ++k) {
    const std::size_t K = coarseK(k);
    if (K < K0 || K > K1) continue;
    const Vec3 t = tangentAt(K);
    for (std::size_t j = 0; j < h; ++j)
      for (std::size_t i = 0; i < w; ++i) {
        const std::size_t o3 = ct.offset(i, j, k);
        // CSF and epidural fat only: osteoporotic cancellous bone can be as
        // low as ~100 HU and must not be taken for canal.
        if (labels.hu[o3] != 0 || ct.hu[o3] > 60) continue;
        Vec3 rel = ct.indexToLps({double(i), double(j), double(k)}) - centre[K];
        rel = rel - dot(rel, t) * t;
        if (norm(rel) < radius[K]) labels.hu[o3] = spine_label::kSpinalCanal;
      }
  }

  SpineModel model;
  model.namingEvidence = ev.str();
  model.namingCertain = certain;
  {
    std::ostringstream be;
    be << "bone edge " << std::lround(edge) << " HU (half-way from soft tissue to the cortex's "
       << std::lround(cortex) << " HU), faint bone from " << std::lround(lowHu)
       << " HU (cancellous median " << std::lround(cancellousMedianHu) << " HU)";
    model.boneEvidence = be.str();
  }
  for (std::size_t K = K1 + 1; K-- > K0;) {
    model.canalCentrelineLps.push_back(centre[K]);
    model.canalRadiusMm.push_back(radius[K]);
  }
  for (std::size_t mm = n; mm-- > 0;) {
    const Seg& s = seg[kept[mm]];
    VertebraModel v;
    v.label = name[mm];
    v.level = verseLevelName(v.label);
    v.namingCertain = certain;
    v.alternatives = alternatives[mm];
    v.ribs = ribs[mm];
    v.volumeMl = double(s.voxels) * voxelMl;
    // The body's centroid, from the bone in front of the canal: the whole
    // vertebra's lies several mm behind it, and far off in a vertebra cut
    // by the scan's edge, whose arch may be all that is in view.
    v.bodyCentroid =
        s.bodyVoxels * 4 > s.voxels && s.bodyVoxels > 500 // a quarter of it, at least
            ? Landmark{(1.0 / double(s.bodyVoxels)) * s.bodySum, 0.8,
                       "centroid of the vertebra's bone in front of the canal"}
            : Landmark{(1.0 / double(s.voxels)) * s.sum, 0.5,
                       "centroid of the vertebra's voxels (little of its body in view)"};
    const std::size_t segIndex = kept[mm];
    v.partial = (segIndex == 0 && !sacrum) || segIndex + 1 == segments;
    if (segIndex > 0) {
      const Plane& below = planes[segIndex - 1];
      v.inferiorEndplate = {below.point, 0.7, "bone-density dip of the disc below"};
      v.endplateNormalLps = below.normal;
    }
    if (segIndex < planes.size()) {
      const Plane& above = planes[segIndex];
      v.superiorEndplate = {above.point, 0.7, "bone-density dip of the disc above"};
      v.endplateNormalLps = above.normal;
    }
    model.vertebrae.push_back(v);
  }
  // --- 8. Landmarks of the posterior elements, in each voxel's canal frame
  // (anterior a, left l): pedicles beside the canal, transverse-process
  // tips as the most lateral bone, lamina and spinous tip behind it.
  {
    struct Acc {
      Vec3 pedSum[2];
      std::size_t pedN[2] = {0, 0};
      double tipLat[2] = {0, 0};
      Vec3 tip[2];
      Vec3 lamSum;
      std::size_t lamN = 0;
      double spAnt = 1e9;
      Vec3 sp;
      double lamLowZ = 1e9, lamHighZ = -1e9;
      Vec3 lamLow, lamHigh;
    };
    std::map<int16_t, Acc> acc;
    for (std::size_t k = 0; k < d; ++k) {
      const std::size_t K = std::clamp(coarseK(k), K0, K1);
      const Vec3 t = tangentAt(K), a = anteriorAt(t), l = cross(t, a);
      const double r = radius[K];
      for (std::size_t j = 0; j < h; ++j)
        for (std::size_t i = 0; i < w; ++i) {
          const int16_t lab = labels.hu[ct.offset(i, j, k)];
          if (lab < 1 || lab > 28 || lab == spine_label::kSacrum) continue;
          const Vec3 p = ct.indexToLps({double(i), double(j), double(k)});
          const Vec3 rel = p - centre[K];
          const double ant = dot(rel, a), lat = dot(rel, l);
          Acc& A = acc[lab];
          for (int side = 0; side < 2; ++side) {
            const double sl = side == 0 ? lat : -lat; // 0: left, 1: right
            if (sl > r && sl < r + 14 && std::abs(ant) < 0.8 * r) {
              A.pedSum[side] = A.pedSum[side] + p;
              A.pedN[side]++;
            }
            if (sl > A.tipLat[side] && ant > -r - 25 && ant < 0.5 * r) {
              A.tipLat[side] = sl;
              A.tip[side] = p;
            }
          }
          if (ant < -r && std::abs(lat) < r + 4) {
            A.lamSum = A.lamSum + p;
            A.lamN++;
          }
          if (std::abs(lat) < 8 && ant < A.spAnt) {
            A.spAnt = ant;
            A.sp = p;
          }
          // The laminae right behind the canal (not the spinous processes, which
          // slope down far behind it): the window lies between them.
          if (ant < -r && ant > -r - 8 && std::abs(lat) < 6) {
            const double z = dot(p, t);
            if (z < A.lamLowZ) {
              A.lamLowZ = z;
              A.lamLow = p;
            }
            if (z > A.lamHighZ) {
              A.lamHighZ = z;
              A.lamHigh = p;
            }
          }
        }
    }
    for (std::size_t m = 0; m < model.vertebrae.size(); ++m) {
      VertebraModel& v = model.vertebrae[m];
      auto it = acc.find(static_cast<int16_t>(v.label));
      if (it == acc.end()) continue;
      const Acc& A = it->second;
      if (A.pedN[0] > 20)
        v.pedicleLeft =
            Landmark{(1.0 / double(A.pedN[0])) * A.pedSum[0], 0.6, "bone beside the canal, left"};
      if (A.pedN[1] > 20)
        v.pedicleRight =
            Landmark{(1.0 / double(A.pedN[1])) * A.pedSum[1], 0.6, "bone beside the canal, right"};
      if (A.tipLat[0] > 0) v.transverseTipLeft = Landmark{A.tip[0], 0.5, "most lateral bone, left"};
      if (A.tipLat[1] > 0)
        v.transverseTipRight = Landmark{A.tip[1], 0.5, "most lateral bone, right"};
      if (A.lamN > 20)
        v.lamina = Landmark{(1.0 / double(A.lamN)) * A.lamSum, 0.6, "bone behind the canal"};
      if (A.spAnt < 1e8) v.spinousTip = Landmark{A.sp, 0.6, "most posterior midline bone"};
      if (m + 1 < model.vertebrae.size()) {
        auto below = acc.find(static_cast<int16_t>(model.vertebrae[m + 1].label));
        if (below != acc.end() && A.lamLowZ < 1e8 && below->second.lamHighZ > -1e8)
          v.interlaminarWindowBelow =
              Landmark{0.5 * (A.lamLow + below->second.lamHigh), 0.5,
                       "between this lamina's lowest and the next one's highest midline bone"};
      }
    }
  }
  model.labels = std::move(labels);
  reportProgress(progress, 0.95, "segment: articular processes and nerve grooves");
  measurePosteriorElements(model);
  labelNeuralForamina(ct, model);
  reportProgress(progress, 1.0, "segment: done");
  return model;
}
} // namespace

SpineModel segmentSpine(const Volume& ct, const SegmentationOptions& o,
                        const ProgressCallback& progress) {
  if (ct.empty()) throw NoSpineFound("empty volume");
  if (std::abs(ct.directionLps.column(2).z) < 0.9) {
    // Sagittal, coronal or oblique slices: the steps work on axial ones, so
    // the CT is resampled onto an axial grid as fine as its own (the finest
    // in-plane spacing across, the head-foot axis's spacing along), and
    // the labels come back to the caller's grid.
    std::size_t along = 0;
    for (std::size_t c = 1; c < 3; ++c)
      if (std::abs(ct.directionLps.column(int(c)).z) >
          std::abs(ct.directionLps.column(int(along)).z))
        along = c;
    double pixel = 1e9;
    for (std::size_t c = 0; c < 3; ++c)
      if (c != along) pixel = std::min(pixel, ct.spacingMm[int(c)]);
    pixel = std::max(0.4, pixel);
    double slice = std::max(0.4, ct.spacingMm[int(along)]);
    // No more voxels than a 512 x 512 x 600 axial scan: a fine sagittal
    // stack over a wide field would otherwise need gigabytes.
    const double extentMm3 = double(ct.size[0]) * ct.spacingMm.x * double(ct.size[1]) *
                             ct.spacingMm.y * double(ct.size[2]) * ct.spacingMm.z;
    const double kMaxVoxels = 512.0 * 512.0 * 600.0;
    if (const double scale = std::cbrt(extentMm3 / (pixel * pixel * slice) / kMaxVoxels);
        scale > 1) {
      pixel *= scale;
      slice *= scale;
    }
    const Volume axial = resampleToAxial(ct, pixel, slice);
    SpineModel model = segmentFeetFirstSlices(axial, o, progress);
    model.labels = labelsOnGrid(model.labels, ct);
    return model;
  }
  if (ct.directionLps.column(2).z > 0) return segmentFeetFirstSlices(ct, o, progress);
  // Slices stored head first: the same body with its slices in the other
  // order, and the labels put back on the caller's grid.
  SpineModel model = segmentFeetFirstSlices(reverseSlices(ct), o, progress);
  model.labels = reverseSlices(model.labels);
  return model;
}

void renameLevels(SpineModel& model, std::size_t index, const std::string& level) {
  if (index >= model.vertebrae.size())
    throw std::out_of_range("no vertebra " + std::to_string(index));
  const int anchor = verseLabelOf(level);
  if (anchor == 0) throw std::invalid_argument("unknown level " + level);
  if (model.vertebrae[index].label == spine_label::kSacrum || anchor == spine_label::kSacrum)
    throw std::invalid_argument("the sacrum keeps its name: rename a mobile vertebra instead");
  // The mobile levels in order, cranial to caudal: a T13 only when the user
  // names one (13 rib pairs); an L6 whenever the count runs past L5 above
  // the sacrum (6 lumbar vertebrae).
  std::vector<int> order;
  for (int v = 1; v <= 19; ++v)
    order.push_back(v);
  if (anchor == spine_label::kT13) order.push_back(spine_label::kT13);
  for (int v = 20; v <= 24; ++v)
    order.push_back(v);
  order.push_back(25);
  const long at = long(std::find(order.begin(), order.end(), anchor) - order.begin());
  // Vertebrae are cranial to caudal; the sacrum, if any, stays the sacrum.
  std::map<int16_t, int16_t> remap;
  std::vector<int> newLabels(model.vertebrae.size());
  for (std::size_t m = 0; m < model.vertebrae.size(); ++m) {
    if (model.vertebrae[m].label == spine_label::kSacrum) {
      newLabels[m] = spine_label::kSacrum;
      continue;
    }
    const long pos = at + long(m) - long(index);
    if (pos < 0 || pos >= long(order.size()))
      throw std::invalid_argument("naming vertebra " + std::to_string(index + 1) + " " + level +
                                  " leaves vertebra " + std::to_string(m + 1) +
                                  " without a level name");
    newLabels[m] = order[std::size_t(pos)];
  }
  for (std::size_t m = 0; m < model.vertebrae.size(); ++m) {
    VertebraModel& v = model.vertebrae[m];
    remap[static_cast<int16_t>(v.label)] = static_cast<int16_t>(newLabels[m]);
    v.label = newLabels[m];
    v.level = verseLevelName(newLabels[m]);
    v.namingCertain = true;
    v.alternatives.clear();
  }
  for (auto& x : model.labels.hu) {
    auto it = remap.find(x);
    if (it != remap.end()) x = it->second;
  }
  model.namingEvidence = "set by the user: vertebra " + std::to_string(index + 1) + " is " + level;
  model.namingCertain = true;
}

} // namespace fluoroplan
