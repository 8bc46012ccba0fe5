#include "planning/path_check.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "imaging/core/spine_levels.h"

namespace fluoroplan {

namespace {
bool isDanger(int16_t l) {
  return l == spine_label::kExitingRoot ||
         (l >= spine_label::kLung && l <= spine_label::kVertebralArtery);
}
std::string mm(double v) {
  std::ostringstream s;
  s.setf(std::ios::fixed);
  s.precision(1);
  s << v << " mm";
  return s.str();
}
} // namespace

std::string structureName(int16_t l) {
  if (spine_label::isVertebra(l)) return "bone of the " + verseLevelName(l);
  switch (l) {
  case spine_label::kSpinalCanal:
    return "spinal canal";
  case spine_label::kNeuralForamen:
    return "neural foramen";
  case spine_label::kExitingRoot:
    return "exiting nerve root";
  case spine_label::kLung:
    return "lung/pleura";
  case spine_label::kKidney:
    return "kidney";
  case spine_label::kAorta:
    return "aorta";
  case spine_label::kVenaCava:
    return "vena cava";
  case spine_label::kVertebralArtery:
    return "vertebral artery";
  default:
    return "label " + std::to_string(l);
  }
}

PathScene::PathScene(const Volume& ct, const Volume& labels, const std::vector<Vec3>& around)
    : ct_(ct), labels_(labels), outsideSlices_(ct.size[2]) {
  std::array<std::size_t, 3> lo{labels.size[0], labels.size[1], labels.size[2]}, hi{0, 0, 0};
  // Clearances matter near the spine: 50 mm around the targets; farther
  // out a path is far from canal, foramen and bone anyway.
  for (const Vec3& p : around)
    for (double dx : {-50.0, 50.0})
      for (double dy : {-50.0, 50.0})
        for (double dz : {-50.0, 50.0}) {
          const Vec3 idx = labels.lpsToIndex(p + Vec3{dx, dy, dz});
          for (int c = 0; c < 3; ++c) {
            const double v = std::clamp(idx[c], 0.0, double(labels.size[std::size_t(c)] - 1));
            lo[c] = std::min(lo[c], std::size_t(std::floor(v)));
            hi[c] = std::max(hi[c], std::size_t(std::ceil(v)));
          }
        }
  if (around.empty()) return;
  canal_ = DistanceMap(labels, lo, hi, [](int16_t l) { return l == spine_label::kSpinalCanal; });
  foramen_ = DistanceMap(labels, lo, hi, [](int16_t l) {
    return l == spine_label::kNeuralForamen || l == spine_label::kExitingRoot;
  });
  bone_ = DistanceMap(labels, lo, hi, [](int16_t l) { return spine_label::isVertebra(l); });
  // Danger structures are labelled only in reference maps (tests, truth):
  // no distance map when there are none.
  const bool anyDanger = std::any_of(labels.hu.begin(), labels.hu.end(), [](int16_t l) {
    return l >= spine_label::kLung && l <= spine_label::kVertebralArtery;
  });
  if (anyDanger)
    danger_ = DistanceMap(labels, lo, hi, [](int16_t l) {
      return l >= spine_label::kLung && l <= spine_label::kVertebralArtery;
    });
}

const std::vector<uint8_t>& PathScene::outsideSlice(std::size_t k) const {
  std::lock_guard lock(outsideMutex_);
  std::vector<uint8_t>& o = outsideSlices_[k];
  if (!o.empty()) return o;
  // Flood from the slice's border through voxels below -400 HU
  // (4-connected). From every edge: the air between the back and the table
  // is reached from the sides. (Known limit: a patient wider than the field
  // of view, whose lungs touch its sides, would have them taken for
  // outside; the paraspinal-compartment rule keeps paths away from them.)
  const std::size_t w = ct_.size[0], h = ct_.size[1];
  o.assign(w * h, 0);
  std::vector<std::size_t> stack;
  auto push = [&](std::size_t i, std::size_t j) {
    const std::size_t idx = i + w * j;
    if (o[idx] || ct_.hu[ct_.offset(i, j, k)] >= -400) return;
    o[idx] = 1;
    stack.push_back(idx);
  };
  for (std::size_t i = 0; i < w; ++i) {
    push(i, 0);
    push(i, h - 1);
  }
  for (std::size_t j = 0; j < h; ++j) {
    push(0, j);
    push(w - 1, j);
  }
  while (!stack.empty()) {
    const std::size_t idx = stack.back();
    stack.pop_back();
    const std::size_t i = idx % w, j = idx / w;
    if (i > 0) push(i - 1, j);
    if (i + 1 < w) push(i + 1, j);
    if (j > 0) push(i, j - 1);
    if (j + 1 < h) push(i, j + 1);
  }
  return o;
}

bool PathScene::outsideAt(Vec3 lps) const {
  const Vec3 idx = ct_.lpsToIndex(lps);
  if (!ct_.containsIndex(idx)) return true;
  const auto i = std::size_t(std::lround(idx.x)), j = std::size_t(std::lround(idx.y)),
             k = std::size_t(std::lround(idx.z));
  return outsideSlice(k)[i + ct_.size[0] * j] != 0;
}

int16_t PathScene::labelAt(Vec3 lps) const {
  const Vec3 idx = labels_.lpsToIndex(lps);
  if (!labels_.containsIndex(idx)) return 0;
  return labels_.at(std::size_t(std::lround(idx.x)), std::size_t(std::lround(idx.y)),
                    std::size_t(std::lround(idx.z)));
}

int16_t PathScene::huAt(Vec3 lps) const {
  const Vec3 idx = ct_.lpsToIndex(lps);
  if (!ct_.containsIndex(idx)) return -1000;
  return ct_.at(std::size_t(std::lround(idx.x)), std::size_t(std::lround(idx.y)),
                std::size_t(std::lround(idx.z)));
}

std::optional<Vec3> PathScene::skinAlong(Vec3 target, Vec3 out) const {
  // The skin: the last point before air that belongs to the outside.
  Vec3 lastBody = target;
  for (double t = 0; t < 250; t += 0.25) {
    const Vec3 p = target + t * out;
    // Leaving the scan before the skin: what lies beyond is unknown, so
    // there is no path to offer (never take the scan's edge for skin).
    if (!ct_.containsIndex(ct_.lpsToIndex(p))) return std::nullopt;
    if (outsideAt(p)) return t > 0 ? std::optional<Vec3>(lastBody) : std::nullopt;
    lastBody = p;
  }
  return std::nullopt;
}

PathCheck PathScene::check(Vec3 entry, Vec3 target, const PathRules& rules) const {
  PathCheck c;
  c.lengthMm = norm(target - entry);
  const Vec3 dir = c.lengthMm > 0 ? (1.0 / c.lengthMm) * (target - entry) : Vec3{};
  std::vector<std::string> seen;
  auto once = [&](const std::string& what, double atMm) {
    if (std::find(seen.begin(), seen.end(), what) != seen.end()) return;
    seen.push_back(what);
    c.violations.push_back("passes through the " + what + " " + mm(atMm) + " before the target");
  };
  for (double s = 0; s <= c.lengthMm; s += 0.5) {
    const Vec3 p = entry + s * dir;
    const double toTarget = c.lengthMm - s;
    const int16_t l = labelAt(p);
    if (spine_label::isVertebra(l) && toTarget > rules.boneAllowanceMm)
      once(structureName(l), toTarget);
    if (l == spine_label::kSpinalCanal && toTarget > rules.canalAllowanceMm)
      once("spinal canal", toTarget);
    if (l == spine_label::kNeuralForamen || isDanger(l)) once(structureName(l), toTarget);
    // Air inside the body (not reachable from outside) is lung or bowel.
    if (huAt(p) < -400 && !outsideAt(p)) once("air inside the body (lung or bowel)", toTarget);
    if (toTarget > rules.boneAllowanceMm)
      c.boneClearanceMm = std::min(c.boneClearanceMm, bone_.atLps(p));
    if (toTarget > rules.canalAllowanceMm)
      c.canalClearanceMm = std::min(c.canalClearanceMm, canal_.atLps(p));
    c.foramenClearanceMm = std::min(c.foramenClearanceMm, foramen_.atLps(p));
    c.dangerClearanceMm = std::min(c.dangerClearanceMm, danger_.atLps(p));
  }
  if (c.lengthMm > rules.needleLengthMm - rules.handleMarginMm)
    c.violations.push_back("needs " + mm(c.lengthMm) + " of needle; the " +
                           mm(rules.needleLengthMm) + " needle leaves less than " +
                           mm(rules.handleMarginMm) + " outside the skin");
  c.safe = c.violations.empty();
  return c;
}

} // namespace fluoroplan
