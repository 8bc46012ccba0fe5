#include "dicom_samples/xray_simulator.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <random>

#include "imaging/core/parallel.h"
#include "imaging/core/reslice.h"

namespace fluoroplan::samples {

namespace {
constexpr double kDeg = std::numbers::pi / 180.0;

// Linear attenuation (1/mm) at a few energies of a filtered ~75 kVp beam.
// Mass attenuation from NIST XCOM: water 0.3756/0.2683/0.2269/0.2059 cm2/g
// at 30/40/50/60 keV; cortical bone (1.92 g/cm3) 1.331/0.6655/0.4242/0.3148;
// iron (7.87 g/cm3) 8.18/3.63/1.96/1.21.
struct Bin {
  double keV, weight, water, bone, steel;
};
constexpr Bin kSpectrum[] = {
    {30, 0.12, 0.03756, 0.2556, 6.44},
    {40, 0.30, 0.02683, 0.1278, 2.86},
    {50, 0.33, 0.02269, 0.0814, 1.54},
    {60, 0.25, 0.02059, 0.0604, 0.95},
};

// Water/bone decomposition of a HU value: bone fraction rises from 0 at
// 100 HU to 1 at 1900 HU; below that, water-equivalent density 1 + HU/1000.
inline void decompose(double hu, double& water, double& bone) {
  if (hu <= 100) {
    water = std::max(0.0, 1.0 + hu / 1000.0);
    bone = 0;
  } else {
    bone = std::min(1.0, (hu - 100) / 1800.0);
    water = 1.0 - bone;
  }
}

void gaussianBlur(std::vector<float>& img, uint32_t w, uint32_t h, double sigma) {
  if (sigma <= 0.05) return;
  const int r = std::max(1, int(std::ceil(3 * sigma)));
  std::vector<float> k(2 * r + 1);
  float sum = 0;
  for (int x = -r; x <= r; ++x)
    sum += k[x + r] = float(std::exp(-0.5 * x * x / (sigma * sigma)));
  for (auto& v : k)
    v /= sum;
  std::vector<float> tmp(img.size());
  for (uint32_t y = 0; y < h; ++y)
    for (uint32_t x = 0; x < w; ++x) {
      float acc = 0;
      for (int t = -r; t <= r; ++t)
        acc += k[t + r] * img[y * w + std::clamp<int>(int(x) + t, 0, int(w) - 1)];
      tmp[y * w + x] = acc;
    }
  for (uint32_t y = 0; y < h; ++y)
    for (uint32_t x = 0; x < w; ++x) {
      float acc = 0;
      for (int t = -r; t <= r; ++t)
        acc += k[t + r] * tmp[std::clamp<int>(int(y) + t, 0, int(h) - 1) * w + x];
      img[y * w + x] = acc;
    }
}

} // namespace

Vec3 CArmPose::detectorDirection() const {
  const double a = primaryDeg * kDeg, b = secondaryDeg * kDeg;
  return {std::sin(a) * std::cos(b), -std::cos(a) * std::cos(b), std::sin(b)};
}
Vec3 CArmPose::columnDirection() const {
  const double a = primaryDeg * kDeg;
  return {std::cos(a), std::sin(a), 0};
}
Vec3 CArmPose::rowDirection() const {
  return cross(columnDirection(), detectorDirection());
}
Vec3 CArmPose::sourceLps() const {
  return isocenterLps - sourceToIsocenterMm * detectorDirection();
}

Vec3 projectIdeal(const CArmPose& pose, const Detector& det, Vec3 p) {
  const Vec3 d = pose.detectorDirection(), u = pose.columnDirection(), v = pose.rowDirection();
  const Vec3 s = pose.sourceLps();
  const Vec3 sp = p - s;
  const double depth = dot(sp, d);
  const double scale = pose.sourceToDetectorMm / depth;
  return {det.principalColumn + scale * dot(sp, u) / det.pixelMm,
          det.principalRow + scale * dot(sp, v) / det.pixelMm, depth};
}

XRaySimulator::XRaySimulator(const Volume& ct, const CArmPose& pose, const Detector& det,
                             unsigned threads, const ProgressCallback& progress)
    : pose_(pose), det_(det), threads_(threads) {
  const std::size_t npx = std::size_t(det.columns) * det.rows;
  waterMm_.assign(npx, 0.f);
  boneMm_.assign(npx, 0.f);
  const Vec3 d = pose.detectorDirection(), u = pose.columnDirection(), v = pose.rowDirection();
  const Vec3 src = pose.sourceLps();
  const Vec3 detCentre = src + pose.sourceToDetectorMm * d;
  // March each ray in 1 mm steps through the volume's bounding box.
  const double step = 1.0;
  Vec3 lo{1e9, 1e9, 1e9}, hi{-1e9, -1e9, -1e9};
  for (int c = 0; c < 8; ++c) {
    const Vec3 p =
        ct.indexToLps({c & 1 ? double(ct.size[0]) - 1 : 0, c & 2 ? double(ct.size[1]) - 1 : 0,
                       c & 4 ? double(ct.size[2]) - 1 : 0});
    for (int a = 0; a < 3; ++a) {
      lo[a] = std::min(lo[a], p[a]);
      hi[a] = std::max(hi[a], p[a]);
    }
  }
  parallelFor(
      det.rows, threads,
      [&](std::size_t r) {
        for (uint32_t c = 0; c < det.columns; ++c) {
          const Vec3 px = detCentre + ((c - det.principalColumn) * det.pixelMm) * u +
                          ((double(r) - det.principalRow) * det.pixelMm) * v;
          const Vec3 dir = normalized(px - src);
          // Slab intersection with the volume's box.
          double t0 = 0, t1 = norm(px - src);
          for (int a = 0; a < 3; ++a) {
            if (std::abs(dir[a]) < 1e-12) {
              if (src[a] < lo[a] || src[a] > hi[a]) t1 = -1;
              continue;
            }
            double ta = (lo[a] - src[a]) / dir[a], tb = (hi[a] - src[a]) / dir[a];
            if (ta > tb) std::swap(ta, tb);
            t0 = std::max(t0, ta);
            t1 = std::min(t1, tb);
          }
          double water = 0, bone = 0;
          for (double t = t0 + step / 2; t < t1; t += step) {
            const double hu = sampleTrilinear(ct, ct.lpsToIndex(src + t * dir), -1000);
            double w, b;
            decompose(hu, w, b);
            water += w * step;
            bone += b * step;
          }
          waterMm_[r * det.columns + c] = float(water);
          boneMm_[r * det.columns + c] = float(bone);
        }
      },
      progress, "simulating C-arm view");
}

std::vector<uint16_t> XRaySimulator::render(const std::vector<Needle>& needles,
                                            const Exposure& ex) const {
  const uint32_t w = det_.columns, h = det_.rows;
  const std::size_t npx = std::size_t(w) * h;
  const Vec3 d = pose_.detectorDirection(), u = pose_.columnDirection(), v = pose_.rowDirection();
  const Vec3 src = pose_.sourceLps();
  const Vec3 detCentre = src + pose_.sourceToDetectorMm * d;
  // kVp shifts the spectrum: a crude hardening factor on all attenuations.
  const double kvScale = std::pow(75.0 / ex.kvp, 0.5);
  std::vector<float> primary(npx);
  parallelFor(h, threads_, [&](std::size_t r) {
    for (uint32_t c = 0; c < w; ++c) {
      const std::size_t i = r * w + c;
      const Vec3 px = detCentre + ((c - det_.principalColumn) * det_.pixelMm) * u +
                      ((double(r) - det_.principalRow) * det_.pixelMm) * v;
      const Vec3 dir = normalized(px - src);
      double steel = 0;
      for (const Needle& n : needles) {
        // Chord of the ray through the needle's cylinder (analytic).
        const Vec3 axis = n.tipLps - n.hubLps;
        const double len = norm(axis);
        if (len <= 0) continue;
        const Vec3 e = (1.0 / len) * axis;
        const Vec3 cr = cross(dir, e);
        const double sinA = norm(cr);
        if (sinA < 0.02) continue;
        const Vec3 nrm = (1.0 / sinA) * cr;
        const double dist = std::abs(dot(n.hubLps - src, nrm));
        const double rad = n.diameterMm / 2;
        if (dist >= rad) continue;
        // Position along the needle of the closest approach.
        const Vec3 w0 = src - n.hubLps;
        const double b = dot(dir, e), dd = dot(dir, w0), ee = dot(e, w0);
        const double s = (ee - b * dd) / (1 - b * b);
        if (s < 0 || s > len) continue;
        steel += 2 * std::sqrt(rad * rad - dist * dist) / sinA;
      }
      double signal = 0, open = 0;
      for (const Bin& bin : kSpectrum) {
        const double att =
            kvScale * (bin.water * waterMm_[i] + bin.bone * boneMm_[i] + bin.steel * steel);
        signal += bin.weight * bin.keV * std::exp(-att);
        open += bin.weight * bin.keV;
      }
      // A blade's shadow: the blade sits near the source, so its edge is
      // blurred by the focal spot with the rest below.
      const bool blade = (det_.bladeLeft >= 0 && c < det_.bladeLeft) ||
                         (det_.bladeRight >= 0 && c > det_.bladeRight) ||
                         (det_.bladeTop >= 0 && double(r) < det_.bladeTop) ||
                         (det_.bladeBottom >= 0 && double(r) > det_.bladeBottom);
      primary[i] = float(signal / open * (blade ? det_.bladeTransmission : 1.0));
    }
  });
  // Focal-spot blur: the spot's size magnified onto the detector at the
  // patient's depth (~ SID/SOD - 1).
  const double magnification = pose_.sourceToDetectorMm / pose_.sourceToIsocenterMm;
  gaussianBlur(primary, w, h, det_.focalSpotMm * (magnification - 1) / det_.pixelMm + 0.4);
  // Scatter: a broad low-pass copy of the primary, scatter-to-primary ~0.6.
  std::vector<float> scatter = primary;
  gaussianBlur(scatter, w, h, 25.0);
  std::mt19937 g(static_cast<uint32_t>(ex.noiseSeed));
  const double R = det_.fieldRadiusPx;
  const double cx = (w - 1) / 2.0, cy = (h - 1) / 2.0;
  // Detector signal through the image intensifier: pincushion distortion
  // (the output pixel at radius r' shows the ideal image at radius r, with
  // r' = r (1 + k (r/R)^2)) and vignetting toward the rim.
  std::vector<double> detected(npx, -1.0);
  std::vector<double> inField;
  for (uint32_t r = 0; r < h; ++r)
    for (uint32_t c = 0; c < w; ++c) {
      const double ox = c - cx, oy = r - cy;
      const double rOut = std::sqrt(ox * ox + oy * oy);
      if (rOut > R) continue; // outside the circular field: black
      double rIn = rOut;
      for (int it = 0; it < 5; ++it)
        rIn = rOut / (1 + det_.pincushionK * (rIn / R) * (rIn / R));
      const double sc = rOut > 0 ? rIn / rOut : 1.0;
      const int ix = std::clamp(int(std::lround(cx + ox * sc)), 0, int(w) - 1);
      const int iy = std::clamp(int(std::lround(cy + oy * sc)), 0, int(h) - 1);
      const std::size_t i = std::size_t(iy) * w + std::size_t(ix);
      const double s = (primary[i] + 0.6 * scatter[i]) * (1.0 - 0.25 * (rOut / R) * (rOut / R));
      detected[std::size_t(r) * w + c] = s;
      inField.push_back(s);
    }
  if (inField.empty()) return std::vector<uint16_t>(npx, 0);
  // Automatic brightness control: the C-arm sets its output so the median of
  // the field receives ~1500 quanta per pixel (more mAs, less noise).
  std::nth_element(inField.begin(), inField.begin() + inField.size() / 2, inField.end());
  const double median = std::max(inField[inField.size() / 2], 1e-12);
  const double quanta = 1500.0 * std::max(ex.mAs, 1e-3) / 0.3 / median;
  std::normal_distribution<double> noise(0.0, 1.0);
  std::vector<uint16_t> out(npx, 0);
  for (std::size_t i = 0; i < npx; ++i) {
    if (detected[i] < 0) continue;
    const double mean = detected[i] * quanta;
    const double counts = std::max(1.0, mean + std::sqrt(std::max(1.0, mean)) * noise(g));
    // Log display centred on the median: bright where the beam gets through.
    const double value =
        1023.0 * std::clamp(0.5 + std::log(counts / (median * quanta)) / 3.0, 0.0, 1.0);
    out[i] = static_cast<uint16_t>(std::lround(value));
  }
  return out;
}

} // namespace fluoroplan::samples
