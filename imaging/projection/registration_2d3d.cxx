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
  const DrrRenderer* renderer = nullptr;
  bool blur = false;                             // the DRR is blurred as the frame was
  std::vector<uint32_t> alongColumns, alongRows; // the pixels compared
  std::vector<float> frameGradients;             // normalisedGradients of the frame
  // The DRR pixels the comparison reads: the compared pixels, their
  // neighbours, and the 2-3 pixels an in-plane Jacobian column's shift or
  // turn reaches; empty: all (the blurred level reads every pixel).
  std::vector<uint8_t> renderMask;
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

// The pixels whose central gradient along an axis is compared: inside the
// image's border and masked in on both sides.
std::vector<uint32_t> gradientPixels(const std::vector<uint8_t>& mask, unsigned w, unsigned h,
                                     std::size_t step) {
  std::vector<uint32_t> out;
  for (unsigned r = 1; r + 1 < h; ++r)
    for (unsigned c = 1; c + 1 < w; ++c) {
      const std::size_t i = std::size_t(r) * w + c;
      if (mask[i] && mask[i - step] && mask[i + step]) out.push_back(uint32_t(i));
    }
  return out;
}

// An image's column and row gradients over the compared pixels, each made
// zero-mean and unit-length. For two such vectors a and b, |a - b|^2 is
// 2 (1 - NCC) per axis, so 1 - |a - b|^2 / 4 is their gradient correlation,
// and least squares on the difference maximises it. Empty when an axis is
// flat (a blank image matches nothing).
std::vector<float> normalisedGradients(const std::vector<float>& img, unsigned w,
                                       const std::vector<uint32_t>& alongColumns,
                                       const std::vector<uint32_t>& alongRows) {
  std::vector<float> out(alongColumns.size() + alongRows.size());
  std::size_t at = 0;
  for (int axis = 0; axis < 2; ++axis) {
    const auto& pixels = axis == 0 ? alongColumns : alongRows;
    const std::size_t step = axis == 0 ? 1 : w;
    if (pixels.size() < 16) return {};
    double sum = 0;
    for (std::size_t k = 0; k < pixels.size(); ++k) {
      const std::size_t i = pixels[k];
      const float g = img[i + step] - img[i - step];
      out[at + k] = g;
      sum += g;
    }
    const double mean = sum / double(pixels.size());
    double ss = 0;
    for (std::size_t k = 0; k < pixels.size(); ++k) {
      const double g = out[at + k] - mean;
      ss += g * g;
    }
    if (ss <= 1e-12) return {};
    const double scale = 1 / std::sqrt(ss);
    for (std::size_t k = 0; k < pixels.size(); ++k)
      out[at + k] = float((out[at + k] - mean) * scale);
    at += pixels.size();
  }
  return out;
}

// The image at (x, y) by bilinear interpolation, a point outside taking
// the nearest edge's value.
float bilinearClamped(const std::vector<float>& img, unsigned w, unsigned h, double x, double y) {
  x = std::clamp(x, 0.0, double(w) - 1.001);
  y = std::clamp(y, 0.0, double(h) - 1.001);
  const auto ix = std::size_t(x), iy = std::size_t(y);
  const float fx = float(x - double(ix)), fy = float(y - double(iy));
  const float* q = img.data() + iy * w + ix;
  const float top = q[0] + fx * (q[1] - q[0]), bottom = q[w] + fx * (q[w + 1] - q[w]);
  return top + fy * (bottom - top);
}

// The mask grown by `reach` pixels each way (a square).
std::vector<uint8_t> dilated(const std::vector<uint8_t>& m, unsigned w, unsigned h, int reach) {
  std::vector<uint8_t> out(m.size(), 0);
  for (unsigned r = 0; r < h; ++r)
    for (unsigned c = 0; c < w; ++c) {
      if (!m[std::size_t(r) * w + c]) continue;
      for (int dr = -reach; dr <= reach; ++dr)
        for (int dc = -reach; dc <= reach; ++dc) {
          const int rr = int(r) + dr, cc = int(c) + dc;
          if (rr >= 0 && cc >= 0 && rr < int(h) && cc < int(w))
            out[std::size_t(rr) * w + std::size_t(cc)] = 1;
        }
    }
  return out;
}

// The image as the C-arm would see it after its isocentre moved by
// (`shiftColumns`, `shiftRows`) pixels and the detector turned by
// `turnDeg` about the beam at (`c0`, `r0`) (CArmGeometry::inPlaneDeg's
// sense), by bilinear resampling; pixels from outside copy the edge.
// Parallax across the depth is ignored: it serves as a Jacobian, not as a DRR.
std::vector<float> movedInPlane(const std::vector<float>& img, unsigned w, unsigned h,
                                double shiftColumns, double shiftRows, double turnDeg, double c0,
                                double r0) {
  std::vector<float> out(img.size());
  const double t = turnDeg * M_PI / 180, ct = std::cos(t), st = std::sin(t);
  for (unsigned r = 0; r < h; ++r)
    for (unsigned c = 0; c < w; ++c) {
      const double a = double(c) - c0, b = double(r) - r0;
      out[std::size_t(r) * w + c] = bilinearClamped(img, w, h, c0 + a * ct - b * st + shiftColumns,
                                                    r0 + a * st + b * ct + shiftRows);
    }
  return out;
}

double squaredDistance(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double d = double(a[i]) - b[i];
    s += d * d;
  }
  return s;
}

// Solves the 6 x 6 system A x = b by Gaussian elimination with partial
// pivoting; false when A is singular.
bool solve6(std::array<std::array<double, 6>, 6> a, std::array<double, 6> b,
            std::array<double, 6>& x) {
  for (int c = 0; c < 6; ++c) {
    int pivot = c;
    for (int r = c + 1; r < 6; ++r)
      if (std::abs(a[r][c]) > std::abs(a[pivot][c])) pivot = r;
    if (std::abs(a[pivot][c]) < 1e-15) return false;
    std::swap(a[c], a[pivot]);
    std::swap(b[c], b[pivot]);
    for (int r = c + 1; r < 6; ++r) {
      const double f = a[r][c] / a[c][c];
      for (int k = c; k < 6; ++k)
        a[r][k] -= f * a[c][k];
      b[r] -= f * b[c];
    }
  }
  for (int c = 5; c >= 0; --c) {
    double s = b[c];
    for (int k = c + 1; k < 6; ++k)
      s -= a[c][k] * x[k];
    x[c] = s / a[c][c];
  }
  return true;
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

Level makeLevel(unsigned factor, RegistrationImage image, const DrrRenderer& renderer, bool blur) {
  Level L{factor, std::move(image), &renderer, blur, {}, {}, {}, {}};
  const unsigned w = L.image.columns, h = L.image.rows;
  if (blur) L.image.value = blurred(L.image.value, w, h);
  L.alongColumns = gradientPixels(L.image.mask, w, h, 1);
  L.alongRows = gradientPixels(L.image.mask, w, h, w);
  L.frameGradients = normalisedGradients(L.image.value, w, L.alongColumns, L.alongRows);
  if (!blur) {
    constexpr int kReach = 4; // 1 for the gradient, up to ~2 for a Jacobian's shift, 1 spare
    std::vector<uint8_t> compared(std::size_t(w) * h, 0);
    for (const auto* pixels : {&L.alongColumns, &L.alongRows})
      for (const uint32_t i : *pixels)
        compared[i] = 1;
    L.renderMask = dilated(compared, w, h, kReach);
  }
  return L;
}

// A pose's normalised DRR gradients (one view's, or several views' end to
// end), the DRR as compared, and the mean gradient correlation with the
// frame(s) (-1 when an image is flat).
struct Eval {
  Params p{};
  std::vector<float> image;
  std::vector<float> gradients;
  double score = -1;
};

struct LmSettings {
  std::array<double, 6> h{};   // forward-difference steps
  std::array<double, 6> cap{}; // largest step per iteration; 0 holds the parameter
  double tolMm = 0.1;          // stop when a step is under this (a tenth in degrees)
  double tolScore = 1e-5;      // or the correlation gains less
  int maxIterations = 25;
};

// Levenberg-Marquardt on the difference of normalised gradients: least
// squares on it maximises the gradient correlation. The Jacobian is by
// forward differences: `column(k, cur)` may give parameter k's moved
// gradients without a DRR (an empty vector: render one with `evaluate`).
// Parameters 0-2 are mm, 3-5 degrees. Steps are capped (a trust region) and
// taken only when the correlation rises.
template <class Evaluate, class Column>
Eval maximiseCorrelation(Eval cur, const std::vector<float>& target, const LmSettings& s,
                         Evaluate&& evaluate, Column&& column) {
  if (cur.score <= -1) return cur;
  double lambda = 1e-3;
  const std::size_t n = cur.gradients.size();
  std::vector<std::array<float, 6>> J(n);
  for (int it = 0; it < s.maxIterations; ++it) {
    for (std::size_t k = 0; k < 6; ++k) {
      if (s.cap[k] == 0) {
        for (auto& row : J)
          row[k] = 0.f;
        continue;
      }
      std::vector<float> moved = column(k, cur);
      if (moved.empty()) {
        Params q = cur.p;
        q[k] += s.h[k];
        moved = evaluate(q).gradients;
      }
      for (std::size_t i = 0; i < n; ++i)
        J[i][k] = moved.empty() ? 0.f : float((moved[i] - cur.gradients[i]) / s.h[k]);
    }
    std::array<std::array<double, 6>, 6> A{};
    std::array<double, 6> b{};
    for (std::size_t i = 0; i < n; ++i) {
      const double r = double(target[i]) - cur.gradients[i];
      for (std::size_t k = 0; k < 6; ++k) {
        b[k] += J[i][k] * r;
        for (std::size_t l = k; l < 6; ++l)
          A[k][l] += double(J[i][k]) * J[i][l];
      }
    }
    for (std::size_t k = 0; k < 6; ++k)
      for (std::size_t l = 0; l < k; ++l)
        A[k][l] = A[l][k];
    bool accepted = false;
    const double before = cur.score;
    std::array<double, 6> step{};
    for (int attempt = 0; attempt < 6 && !accepted; ++attempt, lambda *= 10) {
      auto damped = A;
      for (std::size_t k = 0; k < 6; ++k)
        damped[k][k] += lambda * A[k][k] + (s.cap[k] == 0 ? 1.0 : 1e-9);
      if (!solve6(damped, b, step)) continue;
      // Keep the step's direction within the caps.
      double shrinkBy = 1;
      for (std::size_t k = 0; k < 6; ++k)
        if (s.cap[k] > 0) shrinkBy = std::max(shrinkBy, std::abs(step[k]) / s.cap[k]);
      Params q = cur.p;
      for (std::size_t k = 0; k < 6; ++k) {
        step[k] /= shrinkBy;
        q[k] += step[k];
      }
      Eval e = evaluate(q);
      if (e.score > cur.score + 1e-7) {
        cur = std::move(e);
        accepted = true;
        lambda = std::max(1e-6, lambda / 100); // undoes this attempt's *10, and eases
      }
    }
    if (!accepted) break;
    const double moved = std::max({std::abs(step[0]), std::abs(step[1]), std::abs(step[2]) / 4});
    const double turned = std::max({std::abs(step[3]), std::abs(step[4]), std::abs(step[5])});
    if (moved < s.tolMm && turned < s.tolMm / 10) break;
    if (cur.score - before < s.tolScore) break; // flat: no further gain worth a Jacobian
  }
  return cur;
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

namespace {
// The value at index k of `v` sorted (v is reordered).
float nthValue(std::vector<float>& v, std::size_t k) {
  std::nth_element(v.begin(), v.begin() + long(k), v.end());
  return v[k];
}

// The intensifier's field: pixels brighter than a tenth of the way from the
// image's darkest value to its 99th percentile (outside it shows black).
float fieldThreshold(const std::vector<float>& samples) {
  std::vector<float> v(samples);
  const float top = nthValue(v, std::size_t(0.99 * double(v.size() - 1)));
  const float lo = *std::min_element(samples.begin(), samples.end());
  return lo + 0.1f * (top - lo);
}
} // namespace

CollimatorEdges findCollimatorEdges(const std::vector<float>& samples, unsigned w, unsigned h) {
  CollimatorEdges out;
  if (w < 16 || h < 16 || samples.size() != std::size_t(w) * h) return out;
  // The field (as registrationImageFromFrame finds it) and its value range.
  const float cut = fieldThreshold(samples);
  std::vector<float> in;
  for (float v : samples)
    if (v > cut) in.push_back(v);
  if (in.size() < 256) return out;
  const double step =
      0.2 * (nthValue(in, in.size() * 95 / 100) - nthValue(in, in.size() * 5 / 100));
  if (step <= 0) return out;
  auto at = [&](long c, long r) { return samples[std::size_t(r) * w + std::size_t(c)]; };
  auto open = [&](long c, long r) { return at(c, r) > cut; };
  // For an edge running along `len` lines, at position p across them: the
  // fraction of lines (both sides in the field) where the value steps up
  // by `step` from p - 2 to p + 2 in direction `dir`. The best position in
  // the outer 40% on that side counts when most lines (60%) agree and
  // enough of them (a fifth of the image) cross the field there.
  auto find = [&](bool alongRows, int dir) -> std::optional<double> {
    const long n = alongRows ? long(w) : long(h), len = alongRows ? long(h) : long(w);
    double bestFrac = 0;
    long best = -1;
    for (long k = 2; k < n * 2 / 5; ++k) {
      const long p = dir > 0 ? k : n - 1 - k;
      long lines = 0, steps = 0;
      for (long q = 0; q < len; ++q) {
        const long a = p - 2 * dir, b = p + 2 * dir;
        const bool both = alongRows ? open(a, q) && open(b, q) : open(q, a) && open(q, b);
        if (!both) continue;
        ++lines;
        const double d = alongRows ? at(b, q) - at(a, q) : at(q, b) - at(q, a);
        steps += d > step;
      }
      if (lines < len / 5) continue;
      const double frac = double(steps) / double(lines);
      if (frac > bestFrac) {
        bestFrac = frac;
        best = p;
      }
    }
    if (best < 0 || bestFrac < 0.6) return std::nullopt;
    return double(best);
  };
  out.left = find(true, 1);
  out.right = find(true, -1);
  out.top = find(false, 1);
  out.bottom = find(false, -1);
  return out;
}

RegistrationImage registrationImageFromFrame(const std::vector<float>& samples, unsigned w,
                                             unsigned h, double marginPx) {
  RegistrationImage img{w, h, std::vector<float>(samples.size()),
                        std::vector<uint8_t>(samples.size(), 0)};
  // The field (fieldThreshold), then the rim left out.
  const float cut = fieldThreshold(samples);
  std::vector<uint8_t> field(samples.size());
  for (std::size_t i = 0; i < samples.size(); ++i) {
    field[i] = samples[i] > cut;
    img.value[i] = -samples[i]; // bright = transmitted; the DRR is absorbed
  }
  // The blades' shadows leave the field (the erosion below then keeps the
  // margin off their edges too).
  const CollimatorEdges blades = findCollimatorEdges(samples, w, h);
  for (unsigned r = 0; r < h; ++r)
    for (unsigned c = 0; c < w; ++c)
      if ((blades.left && c < *blades.left) || (blades.right && c > *blades.right) ||
          (blades.top && r < *blades.top) || (blades.bottom && r > *blades.bottom))
        field[std::size_t(r) * w + c] = 0;
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

std::size_t maskOutsideCollimator(RegistrationImage& image, const CArmPositioner& p,
                                  const IntensifierDistortion& distortion, double marginPx) {
  const bool rect = p.collimatorShape.find("RECTANGULAR") != std::string::npos;
  const bool circle = p.collimatorShape.find("CIRCULAR") != std::string::npos &&
                      p.collimatorCircleCentre && p.collimatorCircleRadius;
  const auto& poly = p.collimatorPolygon;
  const bool polygon = p.collimatorShape.find("POLYGONAL") != std::string::npos && poly.size() >= 3;
  if (!rect && !circle && !polygon) return 0;
  // Inside the polygon (crossings of a ray along the columns) and at least
  // the margin from each of its edges.
  auto insidePolygon = [&](double row, double col) {
    bool inside = false;
    double nearest = 1e300;
    for (std::size_t i = 0, j = poly.size() - 1; i < poly.size(); j = i++) {
      const double ri = poly[i][0], ci = poly[i][1], rj = poly[j][0], cj = poly[j][1];
      if ((ri > row) != (rj > row) && col < ci + (row - ri) * (cj - ci) / (rj - ri))
        inside = !inside;
      const double er = rj - ri, ec = cj - ci, len2 = er * er + ec * ec;
      const double t =
          len2 > 0 ? std::clamp(((row - ri) * er + (col - ci) * ec) / len2, 0.0, 1.0) : 0.0;
      nearest = std::min(nearest, std::hypot(row - (ri + t * er), col - (ci + t * ec)));
    }
    return inside && nearest >= marginPx;
  };
  std::size_t dropped = 0;
  for (unsigned r = 0; r < image.rows; ++r)
    for (unsigned c = 0; c < image.columns; ++c) {
      uint8_t& m = image.mask[std::size_t(r) * image.columns + c];
      if (!m) continue;
      // The stored pixel this ideal one shows, numbered from 1 as DICOM's edges are.
      const auto s = distortion.k != 0 ? distortion.distort(c, r)
                                       : std::array<double, 2>{double(c), double(r)};
      const double col = s[0] + 1, row = s[1] + 1;
      bool open = true;
      if (rect) {
        if (p.collimatorLeftColumn) open = open && col >= *p.collimatorLeftColumn + marginPx;
        if (p.collimatorRightColumn) open = open && col <= *p.collimatorRightColumn - marginPx;
        if (p.collimatorUpperRow) open = open && row >= *p.collimatorUpperRow + marginPx;
        if (p.collimatorLowerRow) open = open && row <= *p.collimatorLowerRow - marginPx;
      }
      if (circle)
        open = open && std::hypot(row - (*p.collimatorCircleCentre)[0],
                                  col - (*p.collimatorCircleCentre)[1]) <=
                           *p.collimatorCircleRadius - marginPx;
      if (polygon) open = open && insidePolygon(row, col);
      if (!open) {
        m = 0;
        ++dropped;
      }
    }
  return dropped;
}

std::vector<uint8_t> levelWindow(const RegistrationImage& frame, const CArmGeometry& g,
                                 const std::vector<Vec3>& boneLps, double marginMm) {
  // The bone's own footprint, each point widened to a disc of `marginMm`:
  // a bounding box would take in much of the neighbouring levels (their
  // articular processes reach into it) and pull the pose toward theirs.
  std::vector<uint8_t> m(frame.mask.size(), 0);
  const double pxMm = g.pixelMmAtIsocentre();
  const long r = std::max(1L, std::lround(marginMm / pxMm));
  for (const Vec3& p : boneLps) {
    const auto px = g.project(p);
    const long c = std::lround(px[0]), row = std::lround(px[1]);
    for (long dr = -r; dr <= r; ++dr)
      for (long dc = -r; dc <= r; ++dc) {
        if (dr * dr + dc * dc > r * r) continue;
        const long x = c + dc, y = row + dr;
        if (x < 0 || y < 0 || x >= long(frame.columns) || y >= long(frame.rows)) continue;
        const std::size_t n = std::size_t(y) * frame.columns + std::size_t(x);
        m[n] = frame.mask[n];
      }
  }
  return m;
}

RegistrationResult Registration2D3D::runLevel(const RegistrationImage& frame,
                                              const RegistrationResult& global,
                                              const std::vector<Vec3>& levelBoneLps,
                                              double marginMm,
                                              const RegistrationOptions& options) const {
  RegistrationImage window = frame;
  window.mask = levelWindow(frame, global.geometry, levelBoneLps, marginMm);
  // At the 1/4 image the refinement compares with, a window under about
  // 40 x 40 pixels (a vertebra mostly outside the field) says too little.
  const auto inside = std::count(window.mask.begin(), window.mask.end(), uint8_t{1});
  if (inside < 16 * 1600) {
    RegistrationResult r = global;
    r.accepted = false;
    r.reason = "too little of the level lies in the frame's field to register it alone";
    r.drrsRendered = 0;
    return r;
  }
  RegistrationResult r = run(window, global.geometry, false, options);
  if (r.accepted) r.reason = "this level alone: " + r.reason;
  return r;
}

CArmGeometry startFromLandmarks(const CArmGeometry& dicom, const std::vector<LandmarkPair>& pairs,
                                double* rmsPx) {
  // Gauss-Newton over (shift along u, shift along v, turn), the Jacobian by
  // central differences; 2 unknowns with one pair.
  const std::size_t n = pairs.size() >= 2 ? 3 : 2;
  std::array<double, 3> p{0, 0, 0};
  auto geometryAt = [&](const std::array<double, 3>& q) {
    CArmGeometry g = dicom;
    g.isocentreLps =
        dicom.isocentreLps + q[0] * dicom.columnDirection() + q[1] * dicom.rowDirection();
    g.inPlaneDeg = dicom.inPlaneDeg + q[2];
    return g;
  };
  auto residuals = [&](const std::array<double, 3>& q) {
    const CArmGeometry g = geometryAt(q);
    std::vector<double> r;
    for (const LandmarkPair& l : pairs) {
      const auto px = g.project(l.ctLps);
      r.push_back(px[0] - l.framePx[0]);
      r.push_back(px[1] - l.framePx[1]);
    }
    return r;
  };
  for (int it = 0; it < 20 && !pairs.empty(); ++it) {
    const std::vector<double> r0 = residuals(p);
    std::array<std::vector<double>, 3> J;
    for (std::size_t k = 0; k < n; ++k) {
      auto a = p, b = p;
      const double h = k < 2 ? 0.1 : 0.05;
      a[k] += h;
      b[k] -= h;
      const auto ra = residuals(a), rb = residuals(b);
      J[k].resize(r0.size());
      for (std::size_t i = 0; i < r0.size(); ++i)
        J[k][i] = (ra[i] - rb[i]) / (2 * h);
    }
    std::array<std::array<double, 6>, 6> A{};
    std::array<double, 6> b{}, step{};
    for (std::size_t k = 0; k < 6; ++k)
      A[k][k] = 1; // the unknowns not solved for stay 0
    for (std::size_t k = 0; k < n; ++k) {
      for (std::size_t l = 0; l < n; ++l) {
        A[k][l] = 0;
        for (std::size_t i = 0; i < r0.size(); ++i)
          A[k][l] += J[k][i] * J[l][i];
      }
      for (std::size_t i = 0; i < r0.size(); ++i)
        b[k] -= J[k][i] * r0[i];
    }
    if (!solve6(A, b, step)) break;
    for (std::size_t k = 0; k < n; ++k)
      p[k] += step[k];
    if (std::abs(step[0]) + std::abs(step[1]) < 1e-4 && std::abs(step[2]) < 1e-5) break;
  }
  if (rmsPx) {
    const auto r = residuals(p);
    double s = 0;
    for (double x : r)
      s += x * x;
    *rmsPx = r.empty() ? 0 : std::sqrt(s / double(pairs.size()));
  }
  return geometryAt(p);
}

Registration2D3D::Registration2D3D(const Volume& ct) : coarse_(ct, 2.0), fine_(ct, 1.2) {}

Drr Registration2D3D::drrAt(const CArmGeometry& g, const std::vector<uint8_t>* pixelMask,
                            unsigned threads, unsigned shrink) const {
  DrrOptions o;
  o.threads = threads;
  const bool masked = pixelMask && pixelMask->size() == std::size_t(g.columns) * g.rows;
  if (shrink <= 1 || g.columns < 4 * shrink || g.rows < 4 * shrink) {
    o.pixelMask = masked ? pixelMask : nullptr;
    return fine_.render(g, o);
  }
  const unsigned f = shrink;
  const CArmGeometry small = atLevel(g, f);
  const unsigned w = small.columns, h = small.rows;
  // A small pixel is rendered when a full pixel within one small pixel of
  // it is wanted (the interpolation reads its neighbours).
  std::vector<uint8_t> smallMask;
  if (masked) {
    std::vector<uint8_t> any(std::size_t(w) * h, 0);
    for (unsigned r = 0; r < g.rows; ++r)
      for (unsigned c = 0; c < g.columns; ++c)
        if ((*pixelMask)[std::size_t(r) * g.columns + c] && c / f < w && r / f < h)
          any[std::size_t(r / f) * w + c / f] = 1;
    smallMask = dilated(any, w, h, 1);
    o.pixelMask = &smallMask;
  }
  const Drr d = fine_.render(small, o);
  Drr out{g.columns, g.rows, std::vector<float>(std::size_t(g.columns) * g.rows, 0.f)};
  // Full pixel c lies at small pixel (c + 0.5) / f - 0.5 (atLevel).
  for (unsigned r = 0; r < g.rows; ++r)
    for (unsigned c = 0; c < g.columns; ++c)
      if (!masked || (*pixelMask)[std::size_t(r) * g.columns + c])
        out.lineIntegral[std::size_t(r) * g.columns + c] =
            bilinearClamped(d.lineIntegral, w, h, (c + 0.5) / f - 0.5, (r + 0.5) / f - 0.5);
  return out;
}

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
  const Level coarse = makeLevel(4, shrink(frame, 4), coarse_, false);
  const Level search = makeLevel(8, shrink(frame, 8), coarse_, true);
  // The 1/4 image once more against the 1 mm DRR: the 2 mm grid's own
  // optimum lay 0.41 mm from the truth on the sample's AP frame, the 1 mm
  // one 0.04 mm.
  const Level fine = makeLevel(4, coarse.image, fine_, false);
  DrrOptions drrOptions;
  drrOptions.threads = o.threads;
  auto evaluate = [&](const Level& L, const Params& p) {
    Eval e;
    e.p = p;
    DrrOptions masked = drrOptions;
    if (!L.renderMask.empty()) masked.pixelMask = &L.renderMask;
    const Drr d = L.renderer->render(atLevel(posed(start, p), L.factor), masked);
    ++res.drrsRendered;
    if (L.frameGradients.empty()) return e;
    e.image = L.blur ? blurred(d.lineIntegral, L.image.columns, L.image.rows) : d.lineIntegral;
    e.gradients = normalisedGradients(e.image, L.image.columns, L.alongColumns, L.alongRows);
    if (!e.gradients.empty()) e.score = 1 - squaredDistance(e.gradients, L.frameGradients) / 4;
    return e;
  };
  auto score = [&](const Level& L, const Params& p) { return evaluate(L, p).score; };
  // Levenberg-Marquardt (maximiseCorrelation). Moving the isocentre across
  // the beam and turning about it move the image in its plane, so those
  // three Jacobian columns come from the current DRR resampled, and only
  // depth and the two C-arm angles cost a DRR each: 4 DRRs an iteration,
  // where the coordinate descent this replaced needed about 60 for the
  // same pose (1013 DRRs from 10 mm / 5 degrees off on the sample's AP
  // frame). The blurred search level leaves depth alone (it barely changes
  // a 64-pixel image).
  auto refine = [&](const Level& L, const Params& from, double tolMm, double tolScore,
                    int maxIterations = 25) {
    // The pixel's size at the isocentre sets the difference steps and caps.
    const CArmGeometry g = atLevel(start, L.factor);
    const double pxMm = g.pixelMmAtIsocentre();
    const LmSettings lm{{0.5 * pxMm, 0.5 * pxMm, 4 * pxMm, 0.25, 0.25, 0.25},
                        {3 * pxMm, 3 * pxMm, L.blur ? 0.0 : 10.0, 2, 2, 2},
                        tolMm,
                        tolScore,
                        maxIterations};
    const unsigned w = L.image.columns, h = L.image.rows;
    auto inPlane = [&](std::size_t k, const Eval& cur) -> std::vector<float> {
      if (k != 0 && k != 1 && k != 5) return {};
      // The isocentre h mm along u shows the anatomy h / pxMm pixels back
      // along the columns (rows for v).
      const double sc = k == 0 ? lm.h[0] / pxMm : 0, sr = k == 1 ? lm.h[1] / pxMm : 0;
      return normalisedGradients(movedInPlane(cur.image, w, h, sc, sr, k == 5 ? lm.h[5] : 0,
                                              g.principalColumn, g.principalRow),
                                 w, L.alongColumns, L.alongRows);
    };
    const Eval e = maximiseCorrelation(
        evaluate(L, from), L.frameGradients, lm, [&](const Params& p) { return evaluate(L, p); },
        inPlane);
    return std::pair<Params, double>{e.p, e.score};
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
    if (o.tracking) {
      const auto [p, s] = refine(fine, Params{}, 0.1, 1e-5);
      const CArmGeometry g = posed(start, p);
      const auto a = start.project(start.isocentreLps), b = g.project(start.isocentreLps);
      const double correctionMm = std::hypot(a[0] - b[0], a[1] - b[1]) * start.pixelMmAtIsocentre();
      const double turnedDeg = std::max({std::abs(p[3]), std::abs(p[4]), std::abs(p[5])});
      if (s >= o.minCorrelation && s >= o.tracking->correlation - o.trackingCorrelationDrop &&
          correctionMm <= o.trackingMaxCorrectionMm && turnedDeg <= o.trackingMaxCorrectionDeg) {
        res.geometry = g;
        res.correlation = s;
        res.inPlaneErrorMm = o.tracking->inPlaneErrorMm;
        res.alongBeamErrorMm = o.tracking->alongBeamErrorMm;
        res.accepted = res.inPlaneErrorMm <= o.maxInPlaneErrorMm;
        std::ostringstream why;
        why << "tracked: gradient correlation " << s << " (previous frame "
            << o.tracking->correlation << "), corrected " << correctionMm << " mm and " << turnedDeg
            << " deg from the previous pose; the previous frame's error estimate carried over";
        res.reason = why.str();
        reportProgress(progress, 1.0, "registration: done");
        return res;
      }
    }
    candidates.push_back(Params{});
  }
  Params best{};
  double bestScore = -2;
  std::vector<std::pair<Params, double>> optima;
  for (const Params& c : candidates) {
    // The blurred 1/8 image first: its wider basin takes a start several
    // mm off; then the 1/4 image.
    auto [p, s] = refine(coarse, refine(search, c, 0.5, 1e-4).first, 0.1, 1e-5);
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

  // Error estimate: restarts from perturbed poses.
  reportProgress(progress, 0.8, "registration: checking how sure");
  const CArmGeometry found = posed(start, best);
  const Vec3 probe = found.isocentreLps;
  const auto probePx = found.project(probe);
  double inPlanePx = 0, depth = 0;
  int failedRestarts = 0;
  const double toIsoMm = found.pixelMmAtIsocentre();
  for (int k = 0; k < o.restarts; ++k) {
    // Deterministic perturbations: 5 mm across, 5 mm deep, 2 deg, in turn.
    const double sgn = (k % 2 == 0) ? 1.0 : -1.0;
    Params q = best;
    q[std::size_t(k % 2)] += 5 * sgn;
    q[2] += 5 * sgn;
    q[3 + std::size_t(k % 3)] += 2 * sgn;
    // Looser: the estimate does not claim better than 0.5 mm.
    auto [p, s] = refine(coarse, refine(search, q, 0.5, 1e-4).first, 0.25, 1e-4, 6);
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
  std::tie(best, bestScore) = refine(fine, best, 0.05, 1e-5);
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
        << o.minCorrelation << "): wrong region, or a blank frame"
        << (searchTranslation ? ""
                              : ", or a start too far off for refinement alone (from 10-15 mm "
                                "and 5 degrees it may not converge; a search reaches +-80 mm)");
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

TwoViewResult Registration2D3D::runTwoViews(const RegistrationImage& frameA,
                                            const CArmGeometry& dicomA, const RegistrationResult& a,
                                            const RegistrationImage& frameB,
                                            const CArmGeometry& dicomB, const RegistrationResult& b,
                                            const RegistrationOptions& o) const {
  TwoViewResult out;
  out.a = a;
  out.b = b;
  if (!a.accepted || !b.accepted) {
    out.reason = "each view must first register on its own";
    return out;
  }
  out.beamAngleDeg = angleDegrees(a.geometry.detectorDirection(), b.geometry.detectorDirection());
  const double apart = std::min(out.beamAngleDeg, 180 - out.beamAngleDeg);
  if (apart < 20) {
    std::ostringstream why;
    why << "the two beams are only " << apart
        << " degrees apart: the second view adds little depth (20 degrees needed)";
    out.reason = why.str();
    return out;
  }
  // The start: the patient turned as view A found it, and the isocentre
  // where both views' in-plane findings meet (least squares over the two
  // beams' lines).
  auto frameOf = [](const CArmGeometry& g) {
    return Mat3::fromColumns(g.columnDirection(), g.rowDirection(), g.detectorDirection());
  };
  const Mat3 turn0 = frameOf(a.geometry) * frameOf(dicomA).transposed();
  Mat3 sum;
  sum.m.fill(0);
  Vec3 rhs;
  for (const CArmGeometry* g : {&a.geometry, &b.geometry}) {
    const Vec3 d = g->detectorDirection();
    Mat3 p;
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 3; ++c)
        p(r, c) = (r == c ? 1.0 : 0.0) - d[r] * d[c];
    for (int i = 0; i < 9; ++i)
      sum.m[std::size_t(i)] += p.m[std::size_t(i)];
    rhs = rhs + p * g->isocentreLps;
  }
  const Vec3 iso0 = inverse(sum) * rhs;
  // Parameters: the isocentre's shift (LPS mm) and the patient's further
  // turn (a rotation vector, degrees), shared by both views.
  const std::array<const CArmGeometry*, 2> dicom{&dicomA, &dicomB};
  auto posesAt = [&](const Params& p) {
    std::array<CArmGeometry, 2> g;
    const Mat3 turn = rotationDeg({p[3], p[4], p[5]}) * turn0;
    for (std::size_t k = 0; k < 2; ++k) {
      CArmGeometry base = *dicom[k];
      base.isocentreLps = iso0 + Vec3{p[0], p[1], p[2]};
      g[k] = turnedAboutIsocentre(base, turn);
    }
    return g;
  };
  const std::array<RegistrationImage, 2> frames{shrink(frameA, 4), shrink(frameB, 4)};
  DrrOptions drrOptions;
  drrOptions.threads = o.threads;
  auto fitAgainst = [&](const DrrRenderer& renderer, const Params& from, double tolMm) {
    const std::array<Level, 2> L{makeLevel(4, frames[0], renderer, false),
                                 makeLevel(4, frames[1], renderer, false)};
    std::vector<float> target = L[0].frameGradients;
    target.insert(target.end(), L[1].frameGradients.begin(), L[1].frameGradients.end());
    auto evaluate = [&](const Params& p) {
      Eval e;
      e.p = p;
      const auto g = posesAt(p);
      for (std::size_t k = 0; k < 2; ++k) {
        DrrOptions masked = drrOptions;
        masked.pixelMask = &L[k].renderMask;
        const Drr d = renderer.render(atLevel(g[k], 4), masked);
        ++out.drrsRendered;
        const auto n = normalisedGradients(d.lineIntegral, L[k].image.columns, L[k].alongColumns,
                                           L[k].alongRows);
        if (n.empty() || L[k].frameGradients.empty()) return Eval{p, {}, {}, -1};
        e.gradients.insert(e.gradients.end(), n.begin(), n.end());
      }
      e.score = 1 - squaredDistance(e.gradients, target) / 8; // the mean over both views
      return e;
    };
    const double pxMm = 4 * a.geometry.pixelMmAtIsocentre();
    const LmSettings lm{{0.5 * pxMm, 0.5 * pxMm, 0.5 * pxMm, 0.25, 0.25, 0.25},
                        {3 * pxMm, 3 * pxMm, 3 * pxMm, 2, 2, 2},
                        tolMm,
                        1e-5,
                        25};
    const Eval e =
        maximiseCorrelation(evaluate(from), target, lm, evaluate,
                            [](std::size_t, const Eval&) { return std::vector<float>{}; });
    // Each view's own correlation at the joint pose, from its part of the
    // gradients the last evaluation already holds.
    std::array<double, 2> each{-1, -1};
    if (!e.gradients.empty()) {
      std::size_t from0 = 0;
      for (std::size_t k = 0; k < 2; ++k) {
        const std::size_t n = L[k].frameGradients.size();
        double d2 = 0;
        for (std::size_t i = from0; i < from0 + n; ++i) {
          const double d = double(e.gradients[i]) - target[i];
          d2 += d * d;
        }
        each[k] = 1 - d2 / 4;
        from0 += n;
      }
    }
    return std::pair<Params, std::array<double, 2>>{e.p, each};
  };
  const Params p = fitAgainst(coarse_, Params{}, 0.1).first;
  const auto [best, each] = fitAgainst(fine_, p, 0.05);
  const auto g = posesAt(best);
  const double sine = std::sin(apart * 3.14159265358979323846 / 180);
  out.a.geometry = g[0];
  out.b.geometry = g[1];
  out.a.correlation = each[0];
  out.b.correlation = each[1];
  out.a.alongBeamErrorMm = std::max(0.5, b.inPlaneErrorMm / sine);
  out.b.alongBeamErrorMm = std::max(0.5, a.inPlaneErrorMm / sine);
  std::ostringstream why;
  const double drop = o.twoViewCorrelationDrop;
  if (each[0] < a.correlation - drop || each[1] < b.correlation - drop) {
    why << "the two views disagree: one pose of the patient matches them at gradient correlation "
        << each[0] << " and " << each[1] << ", each alone " << a.correlation << " and "
        << b.correlation << " (did the patient or the table move between them?)";
    out.a.accepted = out.b.accepted = false;
  } else {
    out.accepted = true;
    why << "two views " << out.beamAngleDeg << " degrees apart, one pose: gradient correlation "
        << each[0] << " and " << each[1] << "; depth now within " << out.a.alongBeamErrorMm
        << " and " << out.b.alongBeamErrorMm << " mm";
  }
  out.reason = why.str();
  out.a.reason = out.b.reason = out.reason;
  return out;
}

} // namespace fluoroplan
