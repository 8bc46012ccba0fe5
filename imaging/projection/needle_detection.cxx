#include "imaging/projection/needle_detection.h"

#include <algorithm>
#include <cmath>

#include "imaging/core/geometry.h"

namespace fluoroplan {

namespace {

constexpr double kPi = 3.14159265358979323846;

// Box mean over (2 r + 1)^2 pixels, by running sums (the edges average
// what they have).
std::vector<float> boxMean(const std::vector<float>& v, unsigned w, unsigned h, int r) {
  std::vector<double> rows(v.size());
  for (unsigned y = 0; y < h; ++y) {
    double s = 0;
    int n = 0;
    std::vector<double> prefix(w + 1, 0);
    for (unsigned x = 0; x < w; ++x)
      prefix[x + 1] = prefix[x] + v[std::size_t(y) * w + x];
    for (unsigned x = 0; x < w; ++x) {
      const int a = std::max(0, int(x) - r), b = std::min(int(w) - 1, int(x) + r);
      s = prefix[std::size_t(b) + 1] - prefix[std::size_t(a)];
      n = b - a + 1;
      rows[std::size_t(y) * w + x] = s / n;
    }
  }
  std::vector<float> out(v.size());
  for (unsigned x = 0; x < w; ++x) {
    std::vector<double> prefix(h + 1, 0);
    for (unsigned y = 0; y < h; ++y)
      prefix[y + 1] = prefix[y] + rows[std::size_t(y) * w + x];
    for (unsigned y = 0; y < h; ++y) {
      const int a = std::max(0, int(y) - r), b = std::min(int(h) - 1, int(y) + r);
      out[std::size_t(y) * w + x] =
          float((prefix[std::size_t(b) + 1] - prefix[std::size_t(a)]) / (b - a + 1));
    }
  }
  return out;
}

double median(std::vector<float> v) {
  if (v.empty()) return 0;
  const auto mid = v.begin() + long(v.size() / 2);
  std::nth_element(v.begin(), mid, v.end());
  return *mid;
}

float sampleAt(const std::vector<float>& v, unsigned w, unsigned h, double x, double y) {
  if (x < 0 || y < 0 || x > double(w) - 1.001 || y > double(h) - 1.001) return 0.f;
  const auto ix = std::size_t(x), iy = std::size_t(y);
  const float fx = float(x - double(ix)), fy = float(y - double(iy));
  const float* q = v.data() + iy * w + ix;
  const float top = q[0] + fx * (q[1] - q[0]), bottom = q[w] + fx * (q[w + 1] - q[w]);
  return top + fy * (bottom - top);
}

// The weighted centroid of some pixels and the direction (radians, from the
// column axis toward the row axis) of their major axis.
struct PixelAxis {
  double weight = 0, cx = 0, cy = 0, angle = 0;
};
template <class Weight>
PixelAxis principalAxis(const std::vector<uint32_t>& pixels, unsigned w, Weight&& weightOf) {
  double sw = 0, sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
  for (uint32_t i : pixels) {
    const double wt = weightOf(i), x = double(i % w), y = double(i / w);
    sw += wt;
    sx += wt * x;
    sy += wt * y;
    sxx += wt * x * x;
    syy += wt * y * y;
    sxy += wt * x * y;
  }
  PixelAxis a;
  if (sw <= 0) return a;
  a.weight = sw;
  a.cx = sx / sw;
  a.cy = sy / sw;
  a.angle = 0.5 * std::atan2(2 * (sxy / sw - a.cx * a.cy),
                             (sxx / sw - a.cx * a.cx) - (syy / sw - a.cy * a.cy));
  return a;
}

} // namespace

std::vector<float> needleResidual(const std::vector<float>& frame, const std::vector<uint8_t>& mask,
                                  const std::vector<float>& drr, unsigned w, unsigned h) {
  std::vector<float> out(frame.size(), 0.f);
  std::vector<std::size_t> inside;
  for (std::size_t i = 0; i < frame.size(); ++i)
    if (mask[i]) inside.push_back(i);
  if (inside.size() < 256) return out;
  // The frame as a monotone function of the DRR: the median frame value in
  // each of 48 bins of equal count along the DRR (medians, so the needles
  // themselves do not pull the map), linear between the bins' centres.
  // (DRR, frame) pairs side by side: sorting them in place is several
  // times faster than sorting indices that point into both.
  std::vector<std::pair<float, float>> byDrr;
  byDrr.reserve(inside.size());
  for (std::size_t i : inside)
    byDrr.push_back({drr[i], frame[i]});
  std::sort(byDrr.begin(), byDrr.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  constexpr std::size_t kBins = 48;
  std::vector<double> atDrr, frameValue;
  for (std::size_t b = 0; b < kBins; ++b) {
    const std::size_t i0 = b * byDrr.size() / kBins, i1 = (b + 1) * byDrr.size() / kBins;
    if (i1 <= i0) continue;
    std::vector<float> f, d;
    for (std::size_t i = i0; i < i1; ++i) {
      d.push_back(byDrr[i].first);
      f.push_back(byDrr[i].second);
    }
    const double dm = median(d);
    if (!atDrr.empty() && dm <= atDrr.back()) continue;
    atDrr.push_back(dm);
    frameValue.push_back(median(f));
  }
  std::vector<float> residual(frame.size(), 0.f);
  for (std::size_t i : inside) {
    const double x = drr[i];
    const auto it = std::upper_bound(atDrr.begin(), atDrr.end(), x);
    double predicted;
    if (it == atDrr.begin())
      predicted = frameValue.front();
    else if (it == atDrr.end())
      predicted = frameValue.back();
    else {
      const std::size_t k = std::size_t(it - atDrr.begin());
      const double t = (x - atDrr[k - 1]) / (atDrr[k] - atDrr[k - 1]);
      predicted = frameValue[k - 1] + t * (frameValue[k] - frameValue[k - 1]);
    }
    residual[i] = float(frame[i] - predicted);
  }
  // Needles are a few pixels wide: what the residual holds on a larger
  // scale (the DRR's coarser voxels, scatter) is taken off by a 9 x 9 mean.
  const std::vector<float> local = boxMean(residual, w, h, 4);
  std::vector<float> highPass;
  highPass.reserve(inside.size());
  for (std::size_t i : inside) {
    out[i] = residual[i] - local[i];
    highPass.push_back(out[i]);
  }
  // Robust noise: 1.4826 times the median absolute deviation.
  const double mid = median(highPass);
  for (float& x : highPass)
    x = float(std::abs(x - mid));
  const double sigma = std::max(1e-9, 1.4826 * median(highPass));
  for (std::size_t i : inside)
    out[i] = float((out[i] - mid) / sigma);
  return out;
}

std::vector<DetectedNeedle> detectNeedles(const std::vector<float>& frame,
                                          const std::vector<uint8_t>& mask,
                                          const std::vector<float>& drr, const CArmGeometry& g,
                                          const std::vector<std::array<double, 2>>& targetsPx,
                                          const NeedleDetectionOptions& o) {
  const unsigned w = g.columns, h = g.rows;
  std::vector<DetectedNeedle> found;
  if (frame.size() != std::size_t(w) * h || drr.size() != frame.size() ||
      mask.size() != frame.size())
    return found;
  const std::vector<float> r = needleResidual(frame, mask, drr, w, h);
  const double pxPerMm = g.sourceToDetectorMm / (g.sourceToIsocentreMm * g.pixelMm);
  const double minLength = o.minLengthMm * pxPerMm, maxGap = o.maxGapMm * pxPerMm;
  // Votes: pixels clearly above the noise, weighted by how far (capped, so
  // one bright blob does not outvote a line).
  constexpr double kVote = 2.5;
  std::vector<uint32_t> votes;
  for (std::size_t i = 0; i < r.size(); ++i)
    if (r[i] > kVote) votes.push_back(uint32_t(i));
  constexpr int kAngles = 360; // 0.5 degree steps over 180
  const double diag = std::hypot(double(w), double(h));
  const int nRho = int(2 * diag) + 1;
  std::vector<double> cosT(kAngles), sinT(kAngles);
  for (int a = 0; a < kAngles; ++a) {
    cosT[std::size_t(a)] = std::cos(a * kPi / kAngles);
    sinT[std::size_t(a)] = std::sin(a * kPi / kAngles);
  }
  const double c0 = (w - 1) / 2.0, r0 = (h - 1) / 2.0;
  // A segment a-b as a needle: its tip the end nearer a planned target,
  // else nearer the image centre.
  auto withTip = [&](const std::array<double, 2>& a, const std::array<double, 2>& b,
                     double contrast) {
    auto nearest = [&](const std::array<double, 2>& p) {
      double d = std::hypot(p[0] - g.principalColumn, p[1] - g.principalRow);
      if (!targetsPx.empty()) {
        d = 1e18;
        for (const auto& q : targetsPx)
          d = std::min(d, std::hypot(p[0] - q[0], p[1] - q[1]));
      }
      return d;
    };
    const bool aIsTip = nearest(a) <= nearest(b);
    DetectedNeedle n;
    n.tipPx = aIsTip ? a : b;
    n.shaftEndPx = aIsTip ? b : a;
    n.lengthPx = std::hypot(a[0] - b[0], a[1] - b[1]);
    n.contrast = contrast;
    return n;
  };
  // used: a needle's pixels; tried: on a line the Hough gave that was no
  // needle (they vote no more, but may still be a dot).
  std::vector<uint8_t> used(r.size(), 0), tried(r.size(), 0);
  // The residual with the needles found so far taken out: a later line
  // must not follow one of them again.
  std::vector<float> rest = r;
  // The accumulator is filled once and a pixel's votes taken back when it
  // is retired (not refilled for each line): integer weights (1/64) so
  // that taking back is exact.
  std::vector<int32_t> acc(std::size_t(kAngles) * std::size_t(nRho), 0);
  auto vote = [&](uint32_t i, int sign) {
    const double x = double(i % w) - c0, y = double(i / w) - r0;
    const int32_t weight = sign * int32_t(std::lround(64 * std::min(r[i], 8.f)));
    for (int a = 0; a < kAngles; ++a) {
      const int rho = int(std::lround(x * cosT[std::size_t(a)] + y * sinT[std::size_t(a)] + diag));
      acc[std::size_t(a) * std::size_t(nRho) + std::size_t(rho)] += weight;
    }
  };
  for (uint32_t i : votes)
    vote(i, 1);
  auto retireVote = [&](uint32_t i, std::vector<uint8_t>& flag) {
    if (!used[i] && !tried[i]) vote(i, -1);
    flag[i] = 1;
  };
  for (int attempt = 0; attempt < 24 && found.size() < o.maxNeedles; ++attempt) {
    const auto best = std::max_element(acc.begin(), acc.end());
    if (*best <= 0) break;
    const std::size_t at = std::size_t(best - acc.begin());
    const double theta = double(at / std::size_t(nRho)) * kPi / kAngles;
    const double rho = double(at % std::size_t(nRho)) - diag;
    // The line's points: p(t) = foot + t dir, with normal (cos, sin).
    double nx = std::cos(theta), ny = std::sin(theta);
    double fx = c0 + rho * nx, fy = r0 + rho * ny;
    // Refine the line by a principal-axis fit to the vote pixels near it.
    for (int pass = 0; pass < 2; ++pass) {
      std::vector<uint32_t> near;
      for (uint32_t i : votes)
        if (!used[i] && !tried[i] &&
            std::abs((double(i % w) - fx) * nx + (double(i / w) - fy) * ny) <= 2.5)
          near.push_back(i);
      const PixelAxis axis =
          principalAxis(near, w, [&](uint32_t i) { return std::min(r[i], 8.f); });
      if (axis.weight <= 0) break;
      nx = -std::sin(axis.angle);
      ny = std::cos(axis.angle);
      fx = axis.cx;
      fy = axis.cy;
    }
    const double dx = -ny, dy = nx;
    // Follow the line: the strongest residual across its width, step by
    // step, and the longest run that does not fade for more than maxGap.
    const int span = int(diag);
    std::vector<float> profile(std::size_t(2 * span + 1), 0.f);
    for (int t = -span; t <= span; ++t) {
      float m = 0.f;
      for (double off = -o.halfWidthPx; off <= o.halfWidthPx + 1e-9; off += o.halfWidthPx / 2)
        m = std::max(m, sampleAt(rest, w, h, fx + t * dx + off * nx, fy + t * dy + off * ny));
      profile[std::size_t(t + span)] = m;
    }
    int bestStart = -1, bestEnd = -1, start = -1, lastOn = -1;
    auto close = [&]() {
      if (start >= 0 && lastOn - start > bestEnd - bestStart) {
        bestStart = start;
        bestEnd = lastOn;
      }
    };
    for (int t = 0; t < int(profile.size()); ++t) {
      if (profile[std::size_t(t)] <= kVote) continue;
      if (start >= 0 && t - lastOn > maxGap) {
        close();
        start = -1;
      }
      if (start < 0) start = t;
      lastOn = t;
    }
    close();
    // Whatever this line was, its pixels vote no more.
    auto retire = [&](int from, int to, std::vector<uint8_t>& flag) {
      for (uint32_t i : votes) {
        const double x = double(i % w) - fx, y = double(i / w) - fy;
        const double along = x * dx + y * dy + span, across = std::abs(x * nx + y * ny);
        if (across <= 3.0 && along >= from - 3 && along <= to + 3) retireVote(i, flag);
      }
    };
    if (bestStart < 0) {
      retire(0, int(profile.size()), tried);
      continue;
    }
    std::vector<float> on;
    for (int t = bestStart; t <= bestEnd; ++t)
      if (profile[std::size_t(t)] > kVote) on.push_back(profile[std::size_t(t)]);
    double contrast = 0;
    for (float x : on)
      contrast += x;
    contrast = on.empty() ? 0 : contrast / double(on.size());
    // The ends: where the line falls under half its typical strength (a
    // gap may be bridged inside, not past an end).
    const double half = 0.5 * median(on);
    while (bestStart < bestEnd && profile[std::size_t(bestStart)] < half)
      ++bestStart;
    while (bestEnd > bestStart && profile[std::size_t(bestEnd)] < half)
      --bestEnd;
    const double length = bestEnd - bestStart;
    // A short line is a needle only when as bright as a dot (nearly end-on).
    const bool needle = length >= minLength ? contrast >= o.minContrast
                                            : length > 0 && contrast >= o.minDotContrast;
    if (!needle) {
      // The whole line: its votes made the peak, and must not make it again.
      retire(0, int(profile.size()), tried);
      continue;
    }
    retire(bestStart, bestEnd, used);
    retire(0, int(profile.size()), tried);
    {
      // Clear the needle's band (every pixel, not only the votes) from the rest.
      const double x0 = fx + (bestStart - span) * dx, y0 = fy + (bestStart - span) * dy,
                   x1 = fx + (bestEnd - span) * dx, y1 = fy + (bestEnd - span) * dy;
      const int cx0 = std::max(0, int(std::min(x0, x1)) - 4),
                cx1 = std::min(int(w) - 1, int(std::max(x0, x1)) + 4),
                cy0 = std::max(0, int(std::min(y0, y1)) - 4),
                cy1 = std::min(int(h) - 1, int(std::max(y0, y1)) + 4);
      for (int y = cy0; y <= cy1; ++y)
        for (int x = cx0; x <= cx1; ++x) {
          const double px = x - fx, py = y - fy;
          const double along = px * dx + py * dy + span, across = std::abs(px * nx + py * ny);
          if (across <= 3.0 && along >= bestStart - 3 && along <= bestEnd + 3)
            rest[std::size_t(y) * w + std::size_t(x)] = 0.f;
        }
    }
    auto pointAt = [&](int t) {
      return std::array<double, 2>{fx + (t - span) * dx, fy + (t - span) * dy};
    };
    DetectedNeedle n = withTip(pointAt(bestStart), pointAt(bestEnd), contrast);
    // The tip end once more, stricter: a bone edge in line with the needle
    // leaves a weaker trail past the tip. Step back while the profile,
    // averaged over 5 samples, is under 0.6 of the needle's median.
    const bool startIsTip = n.tipPx == pointAt(bestStart);
    const double strict = 0.6 * median(on);
    auto smoothed = [&](int t) {
      double s = 0;
      int k = 0;
      for (int q = std::max(0, t - 2); q <= std::min(int(profile.size()) - 1, t + 2); ++q, ++k)
        s += profile[std::size_t(q)];
      return s / std::max(k, 1);
    };
    int tip = startIsTip ? bestStart : bestEnd;
    const int inward = startIsTip ? 1 : -1, shaft = startIsTip ? bestEnd : bestStart;
    while (tip != shaft && std::abs(tip - shaft) > minLength / 2 && smoothed(tip) < strict)
      tip += inward;
    n.tipPx = pointAt(tip);
    n.lengthPx = std::abs(tip - shaft);
    found.push_back(n);
  }
  // Needles seen end-on: compact bright spots among the votes left.
  std::vector<int> label(r.size(), -1);
  for (uint32_t seed : votes) {
    if (used[seed] || label[seed] >= 0 || found.size() >= o.maxNeedles) continue;
    if (r[seed] <= kVote) continue;
    std::vector<uint32_t> spot{seed}, stack{seed};
    label[seed] = int(seed);
    while (!stack.empty()) {
      const uint32_t i = stack.back();
      stack.pop_back();
      const int x = int(i % w), y = int(i / w);
      for (int dy = -1; dy <= 1; ++dy)
        for (int dx = -1; dx <= 1; ++dx) {
          const int xx = x + dx, yy = y + dy;
          if (xx < 0 || yy < 0 || xx >= int(w) || yy >= int(h)) continue;
          const uint32_t j = uint32_t(yy) * w + uint32_t(xx);
          if (label[j] >= 0 || used[j] || r[j] <= kVote) continue;
          label[j] = int(seed);
          spot.push_back(j);
          stack.push_back(j);
        }
    }
    if (spot.size() < 4) continue;
    float peak = 0.f;
    for (uint32_t i : spot)
      peak = std::max(peak, r[i]);
    // Its long axis, and the spot's ends along it.
    const PixelAxis axis = principalAxis(spot, w, [&](uint32_t i) { return r[i]; });
    const double cx = axis.cx, cy = axis.cy, sw = axis.weight;
    const double ux = std::cos(axis.angle), uy = std::sin(axis.angle);
    double lo = 0, hi = 0, extent = 0;
    for (uint32_t i : spot) {
      const double x = double(i % w) - cx, y = double(i / w) - cy;
      lo = std::min(lo, x * ux + y * uy);
      hi = std::max(hi, x * ux + y * uy);
      extent = std::max(extent, 2 * std::hypot(x, y));
    }
    const double contrast = sw / double(spot.size());
    if (peak < o.minDotContrast || contrast < o.minContrast || extent > 2 * minLength) continue;
    // What is left of a needle already found (its end, beyond the band
    // cleared) is not another needle.
    bool partOfOne = false;
    for (const DetectedNeedle& n : found)
      partOfOne =
          partOfOne || distanceToSegment(Vec3{cx, cy, 0}, Vec3{n.tipPx[0], n.tipPx[1], 0},
                                         Vec3{n.shaftEndPx[0], n.shaftEndPx[1], 0}) < minLength;
    if (partOfOne) continue;
    found.push_back(withTip({cx + lo * ux, cy + lo * uy}, {cx + hi * ux, cy + hi * uy}, contrast));
  }
  return found;
}

std::size_t maskNeedles(std::vector<uint8_t>& mask, unsigned w, unsigned h,
                        const std::vector<DetectedNeedle>& needles, double radiusPx) {
  std::size_t taken = 0;
  for (const DetectedNeedle& n : needles) {
    const Vec3 a{n.tipPx[0], n.tipPx[1], 0}, b{n.shaftEndPx[0], n.shaftEndPx[1], 0};
    const int x0 = std::max(0, int(std::floor(std::min(a.x, b.x) - radiusPx))),
              x1 = std::min(int(w) - 1, int(std::ceil(std::max(a.x, b.x) + radiusPx))),
              y0 = std::max(0, int(std::floor(std::min(a.y, b.y) - radiusPx))),
              y1 = std::min(int(h) - 1, int(std::ceil(std::max(a.y, b.y) + radiusPx)));
    for (int y = y0; y <= y1; ++y)
      for (int x = x0; x <= x1; ++x) {
        uint8_t& m = mask[std::size_t(y) * w + std::size_t(x)];
        if (m && distanceToSegment(Vec3{double(x), double(y), 0}, a, b) <= radiusPx) {
          m = 0;
          ++taken;
        }
      }
  }
  return taken;
}

} // namespace fluoroplan
