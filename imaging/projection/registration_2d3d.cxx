#include "imaging/projection/registration_2d3d.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>

namespace fluoroplan {

namespace {

using Params =
    std::array<double, 6>; // iso offset along u, v, d (mm); primary, secondary, in-plane (deg)

struct Level {
  unsigned factor = 1;
  RegistrationImage image;
};

// Block average by `f`; a block is compared only if all its pixels are.
RegistrationImage shrink(const RegistrationImage& in, unsigned f) {
  if (f <= 1) return in;
  RegistrationImage out;
  out.columns = in.columns / f;
  out.rows = in.rows / f;
  out.value.assign(std::size_t(out.columns) * out.rows, 0.f);
  out.mask.assign(out.value.size(), 1);
  for (unsigned r = 0; r < out.rows; ++r)
    for (unsigned c = 0; c < out.columns; ++c) {
      double s = 0;
      bool all = true;
      for (unsigned y = 0; y < f; ++y)
        for (unsigned x = 0; x < f; ++x) {
          const std::size_t i = std::size_t(r * f + y) * in.columns + (c * f + x);
          s += in.value[i];
          all = all && in.mask[i];
        }
      out.value[std::size_t(r) * out.columns + c] = float(s / (f * f));
      out.mask[std::size_t(r) * out.columns + c] = all;
    }
  return out;
}

// 3 x 3 box blur (twice): widens the correlation's basin for the coarse
// search, so a grid point a few mm off the truth still scores near the top.
std::vector<float> blurred(const std::vector<float>& v, unsigned w, unsigned h) {
  std::vector<float> a(v), b(v.size());
  for (int pass = 0; pass < 2; ++pass) {
    for (unsigned r = 0; r < h; ++r)
      for (unsigned c = 0; c < w; ++c) {
        double s = 0;
        int n = 0;
        for (int dr = -1; dr <= 1; ++dr)
          for (int dc = -1; dc <= 1; ++dc) {
            const int rr = int(r) + dr, cc = int(c) + dc;
            if (rr < 0 || cc < 0 || rr >= int(h) || cc >= int(w)) continue;
            s += a[std::size_t(rr) * w + std::size_t(cc)];
            ++n;
          }
        b[std::size_t(r) * w + c] = float(s / n);
      }
    std::swap(a, b);
  }
  return a;
}

CArmGeometry atLevel(const CArmGeometry& g, unsigned f) {
  CArmGeometry out = g;
  out.columns = g.columns / f;
  out.rows = g.rows / f;
  out.pixelMm = g.pixelMm * f;
  out.principalColumn = (g.principalColumn + 0.5) / f - 0.5;
  out.principalRow = (g.principalRow + 0.5) / f - 0.5;
  return out;
}

CArmGeometry posed(const CArmGeometry& start, const Params& p) {
  CArmGeometry g = start;
  g.isocentreLps = start.isocentreLps + p[0] * start.columnDirection() +
                   p[1] * start.rowDirection() + p[2] * start.detectorDirection();
  g.primaryDeg += p[3];
  g.secondaryDeg += p[4];
  g.inPlaneDeg += p[5];
  return g;
}

} // namespace

double gradientCorrelation(const std::vector<float>& a, const std::vector<float>& b,
                           const std::vector<uint8_t>& mask, unsigned w, unsigned h) {
  double total = 0;
  for (int axis = 0; axis < 2; ++axis) {
    double sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
    std::size_t n = 0;
    const std::size_t step = axis == 0 ? 1 : w;
    for (unsigned r = 1; r + 1 < h; ++r)
      for (unsigned c = 1; c + 1 < w; ++c) {
        const std::size_t i = std::size_t(r) * w + c;
        if (!mask[i] || !mask[i - step] || !mask[i + step]) continue;
        const double ga = double(a[i + step]) - a[i - step], gb = double(b[i + step]) - b[i - step];
        sa += ga;
        sb += gb;
        saa += ga * ga;
        sbb += gb * gb;
        sab += ga * gb;
        ++n;
      }
    if (n < 16) return -1;
    const double cov = sab - sa * sb / double(n), va = saa - sa * sa / double(n),
                 vb = sbb - sb * sb / double(n);
    if (va <= 1e-12 || vb <= 1e-12) return -1; // a flat image matches nothing
    total += cov / std::sqrt(va * vb);
  }
  return total / 2;
}

RegistrationImage registrationImageFromFrame(const std::vector<float>& samples, unsigned w,
                                             unsigned h, double marginPx) {
  RegistrationImage img{w, h, std::vector<float>(samples.size()),
                        std::vector<uint8_t>(samples.size(), 0)};
  // The field: pixels brighter than a tenth of the image's 99th percentile
  // (outside it the intensifier shows black), then the rim left out.
  std::vector<float> sorted(samples);
  std::nth_element(sorted.begin(), sorted.begin() + long(0.99 * double(sorted.size() - 1)),
                   sorted.end());
  const float top = sorted[std::size_t(0.99 * double(sorted.size() - 1))];
  const float lo = *std::min_element(samples.begin(), samples.end());
  const float cut = lo + 0.1f * (top - lo);
  std::vector<uint8_t> field(samples.size());
  for (std::size_t i = 0; i < samples.size(); ++i) {
    field[i] = samples[i] > cut;
    img.value[i] = -samples[i]; // bright = transmitted; the DRR is absorbed
  }
  const int m = int(std::ceil(marginPx));
  // Erode the field by the margin (a square, cheap, and conservative).
  std::vector<int> rowRun(samples.size(), 0);
  for (unsigned r = 0; r < h; ++r) {
    int run = 0;
    for (unsigned c = 0; c < w; ++c) {
      const std::size_t i = std::size_t(r) * w + c;
      run = field[i] ? run + 1 : 0;
      rowRun[i] = run;
    }
  }
  for (unsigned r = unsigned(m); r + unsigned(m) < h; ++r)
    for (unsigned c = unsigned(2 * m); c < w; ++c) {
      bool inside = true;
      for (int y = -m; y <= m && inside; ++y)
        inside = rowRun[std::size_t(int(r) + y) * w + c] > 2 * m;
      if (inside) img.mask[std::size_t(r) * w + (c - unsigned(m))] = 1;
    }
  return img;
}

Registration2D3D::Registration2D3D(const Volume& ct) : coarse_(ct, 2.0) {}

RegistrationResult Registration2D3D::run(const RegistrationImage& frame, const CArmGeometry& start,
                                         bool searchTranslation, const RegistrationOptions& o,
                                         const ProgressCallback& progress) const {
  RegistrationResult res;
  if (frame.columns != start.columns || frame.rows != start.rows) {
    res.reason = "the frame's size does not match its geometry";
    return res;
  }
  // Two levels: a blurred 1/8 image for the translation search, and the
  // 1/4 image (128 pixels for a 512 frame, about 1.2 mm at the isocentre)
  // for everything else: with the DRR's 2 mm voxels a finer image did not
  // register closer on the sample frames (0.59 vs 0.58 mm) and took 2.6x
  // as long.
  const Level coarse{4, shrink(frame, 4)};
  Level search{8, shrink(frame, 8)};
  search.image.value = blurred(search.image.value, search.image.columns, search.image.rows);
  DrrOptions drrOptions;
  drrOptions.threads = o.threads;
  auto score = [&](const Level& L, const Params& p) {
    const Drr d = coarse_.render(atLevel(posed(start, p), L.factor), drrOptions);
    ++res.drrsRendered;
    if (L.factor >= 8)
      return gradientCorrelation(blurred(d.lineIntegral, L.image.columns, L.image.rows),
                                 L.image.value, L.image.mask, L.image.columns, L.image.rows);
    return gradientCorrelation(d.lineIntegral, L.image.value, L.image.mask, L.image.columns,
                               L.image.rows);
  };
  // Coordinate descent with halving steps.
  auto refine = [&](const Level& L, Params p, double stepMm, double stepDeg, double minStepMm) {
    double best = score(L, p);
    double steps[6] = {stepMm, stepMm, stepMm, stepDeg, stepDeg, stepDeg};
    for (int sweep = 0; sweep < 40 && steps[0] >= minStepMm; ++sweep) {
      bool improved = false;
      for (int k = 0; k < 6; ++k)
        for (double sign : {+1.0, -1.0}) {
          Params q = p;
          q[std::size_t(k)] += sign * steps[k];
          const double s = score(L, q);
          if (s > best + 1e-6) {
            best = s;
            p = q;
            improved = true;
            break;
          }
        }
      if (!improved)
        for (double& s : steps)
          s /= 2;
    }
    return std::pair<Params, double>{p, best};
  };

  std::vector<Params> candidates;
  if (searchTranslation) {
    // Coarse search across the beam (and along it, which changes only the
    // magnification): the three best starts go on to refinement.
    std::vector<std::pair<double, Params>> grid;
    // Depth changes only the magnification: the grid leaves it to the
    // refinement unless asked to search it.
    // The grid's axes: the patient's head-foot axis as the image shows it,
    // and the one across it.
    const double step = 4, depthStep = 15;
    const Vec3 u = start.columnDirection(), v = start.rowDirection(),
               dd = start.detectorDirection();
    Vec3 along = Vec3{0, 0, 1} - dot(Vec3{0, 0, 1}, dd) * dd;
    if (norm(along) < 0.3) along = v; // looking along the spine: any axis
    along = normalized(along);
    const Vec3 across = cross(dd, along);
    const int nu = int(o.searchMm / step),
              nv = int(std::max(o.searchMm, o.searchAlongSpineMm) / step),
              nd = int(o.searchDepthMm / depthStep);
    const std::size_t total = std::size_t((2 * nu + 1) * (2 * nv + 1) * (2 * nd + 1));
    std::size_t done = 0;
    for (int a = -nu; a <= nu; ++a)
      for (int b = -nv; b <= nv; ++b)
        for (int c = -nd; c <= nd; ++c) {
          const Vec3 shift = (a * step) * across + (b * step) * along;
          const Params p{dot(shift, u), dot(shift, v), c * depthStep, 0, 0, 0};
          grid.push_back({score(search, p), p});
          if (++done % 128 == 0)
            reportProgress(progress, 0.5 * double(done) / double(total),
                           "registration: searching the translation");
        }
    std::sort(grid.begin(), grid.end(),
              [](const auto& x, const auto& y) { return x.first > y.first; });
    // The six best places at least 16 mm apart (neighbouring grid points
    // belong to one optimum).
    for (const auto& [s, p] : grid) {
      bool apart = true;
      for (const auto& c : candidates)
        apart = apart && std::hypot(p[0] - c[0], p[1] - c[1]) >= 16;
      if (apart) candidates.push_back(p);
      if (candidates.size() == 6) break;
    }
  } else {
    candidates.push_back(Params{});
  }
  Params best{};
  double bestScore = -2;
  std::vector<std::pair<Params, double>> optima;
  for (const Params& c : candidates) {
    auto [p, s] = refine(coarse, c, 4.0, 2.0, 1.0);
    optima.push_back({p, s});
    if (s > bestScore) {
      bestScore = s;
      best = p;
    }
  }
  // A second place, 15 mm or more away, that matches nearly as well: one
  // view cannot tell which level this is.
  std::optional<double> rival;
  for (const auto& [p, s] : optima)
    if (std::hypot(p[0] - best[0], p[1] - best[1]) >= 15 &&
        s >= bestScore - o.ambiguityMargin * std::abs(bestScore))
      rival = s;
  reportProgress(progress, 0.6, "registration: refining");
  std::tie(best, bestScore) = refine(coarse, best, 1.0, 0.5, 0.25);

  // Error estimate: restarts from perturbed poses.
  reportProgress(progress, 0.8, "registration: checking how sure");
  const CArmGeometry found = posed(start, best);
  const Vec3 probe = found.isocentreLps;
  const auto probePx = found.project(probe);
  double inPlanePx = 0, depth = 0;
  int failedRestarts = 0;
  const double toIsoMm = found.pixelMm * found.sourceToIsocentreMm / found.sourceToDetectorMm;
  for (int k = 0; k < o.restarts; ++k) {
    // Deterministic perturbations: 5 mm across, 5 mm deep, 2 deg, in turn.
    const double sgn = (k % 2 == 0) ? 1.0 : -1.0;
    Params q = best;
    q[std::size_t(k % 2)] += 5 * sgn;
    q[2] += 5 * sgn;
    q[3 + std::size_t(k % 3)] += 2 * sgn;
    // To 0.5 mm: the estimate does not claim better than that.
    auto [p, s] = refine(coarse, q, 2.0, 1.0, 0.5);
    if (s < bestScore - 0.02) {
      // Stuck in a worse optimum: a failed restart, not a second answer.
      ++failedRestarts;
      continue;
    }
    if (s > bestScore + 1e-4) {
      // A better optimum: take it (the spread is still measured around the first).
      best = p;
      bestScore = s;
    }
    const CArmGeometry g = posed(start, p);
    const auto px = g.project(probe);
    inPlanePx = std::max(inPlanePx, std::hypot(px[0] - probePx[0], px[1] - probePx[1]));
    depth = std::max(depth,
                     std::abs(dot(g.isocentreLps - found.isocentreLps, found.detectorDirection())));
  }
  res.geometry = posed(start, best);
  res.correlation = bestScore;
  // Restarts that all land on one pose say only that the optimum is
  // sharp; the estimate never claims better than the refinement's last
  // step and the 2 mm DRR grid allow: 0.5 mm in plane, 1 mm in depth.
  res.inPlaneErrorMm = std::max(0.5, inPlanePx * toIsoMm);
  res.alongBeamErrorMm = std::max(1.0, depth);
  std::ostringstream why;
  if (bestScore < o.minCorrelation) {
    why << "the frame does not match the CT (gradient correlation " << bestScore << ", below "
        << o.minCorrelation << "): wrong region, or a blank frame";
  } else if (rival) {
    why << "ambiguous: another place 15 mm or more away matches almost as well (gradient "
           "correlation "
        << *rival << " vs " << bestScore
        << "), e.g. a neighbouring vertebra; give landmarks or a second view";
  } else if (failedRestarts > o.restarts / 2) {
    why << "not sure: " << failedRestarts << " of " << o.restarts
        << " restarts from poses 5 mm and 2 deg away ended elsewhere";
  } else if (res.inPlaneErrorMm > o.maxInPlaneErrorMm) {
    why << "not sure enough: restarts disagree by " << res.inPlaneErrorMm
        << " mm at the isocentre (limit " << o.maxInPlaneErrorMm << " mm)";
  } else {
    res.accepted = true;
    why << "gradient correlation " << bestScore << "; restarts agree within " << res.inPlaneErrorMm
        << " mm in the image plane, " << res.alongBeamErrorMm << " mm along the beam";
  }
  res.reason = why.str();
  reportProgress(progress, 1.0, "registration: done");
  return res;
}

} // namespace fluoroplan
