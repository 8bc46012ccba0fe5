#include "imaging/dicom/slice_stack.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numbers>
#include <sstream>

namespace fluoroplan {

namespace {
std::string mm(double v) {
  std::ostringstream s;
  s.precision(3);
  s << std::fixed << v;
  std::string r = s.str();
  while (r.size() > 1 && r.back() == '0')
    r.pop_back();
  if (r.back() == '.') r.pop_back();
  return r;
}
} // namespace

SliceStack analyseSliceStack(const std::vector<DicomHeader>& slices,
                             const SliceStackTolerances& tol) {
  SliceStack s;
  const std::string series =
      slices.empty() ? std::string() : "series " + slices.front().seriesInstanceUid;
  auto fail = [&](const std::string& file, const std::string& msg) {
    s.problems.push_back({Severity::Error, file, msg});
  };

  // 1. Slices need position, orientation and spacing.
  std::vector<std::size_t> candidates;
  for (std::size_t i = 0; i < slices.size(); ++i) {
    const DicomHeader& h = slices[i];
    if (!h.imagePositionLps || !h.imageOrientationLps)
      fail(h.path, "slice without Image Position/Orientation (Patient): left out of the volume");
    else if (!h.pixelSpacingMm)
      fail(h.path, "slice without Pixel Spacing (0028,0030): left out of the volume");
    else if (!h.hasPixelData)
      fail(h.path, "slice without Pixel Data: left out of the volume");
    else
      candidates.push_back(i);
  }
  if (candidates.empty()) {
    fail(series, "no slice has the geometry needed to build a volume");
    return s;
  }

  // 2. Keep the largest group of slices that agree in size, orientation and
  // pixel spacing; the others (scouts, reformats) are named and left out.
  auto sameGeometry = [&](std::size_t a, std::size_t b) {
    const DicomHeader &ha = slices[a], &hb = slices[b];
    if (ha.rows != hb.rows || ha.columns != hb.columns) return false;
    const auto &oa = *ha.imageOrientationLps, &ob = *hb.imageOrientationLps;
    if (dot(normalized(oa[0]), normalized(ob[0])) < tol.parallelCos) return false;
    if (dot(normalized(oa[1]), normalized(ob[1])) < tol.parallelCos) return false;
    const auto &pa = *ha.pixelSpacingMm, &pb = *hb.pixelSpacingMm;
    return std::abs(pa[0] - pb[0]) < 1e-3 * pa[0] && std::abs(pa[1] - pb[1]) < 1e-3 * pa[1];
  };
  std::vector<std::vector<std::size_t>> groups;
  for (std::size_t i : candidates) {
    auto g = std::find_if(groups.begin(), groups.end(),
                          [&](const auto& grp) { return sameGeometry(grp.front(), i); });
    if (g == groups.end())
      groups.push_back({i});
    else
      g->push_back(i);
  }
  std::stable_sort(groups.begin(), groups.end(),
                   [](const auto& a, const auto& b) { return a.size() > b.size(); });
  const std::vector<std::size_t>& kept = groups.front();
  for (std::size_t g = 1; g < groups.size(); ++g) {
    for (std::size_t i : groups[g]) {
      const DicomHeader& h = slices[i];
      std::ostringstream why;
      why << "slice differs from the other " << kept.size() << " slices of its series in size, "
          << "orientation or pixel spacing (" << h.columns << "x" << h.rows << ", not parallel or "
          << "not the same grid): left out of the volume";
      fail(h.path, why.str());
    }
  }

  const DicomHeader& ref = slices[kept.front()];
  s.rows = ref.rows;
  s.columns = ref.columns;
  s.rowDirection = normalized((*ref.imageOrientationLps)[0]);
  s.columnDirection = normalized((*ref.imageOrientationLps)[1]);
  if (std::abs(dot(s.rowDirection, s.columnDirection)) > 1e-3) {
    fail(ref.path, "Image Orientation (Patient) row and column directions are not perpendicular");
    return s;
  }
  s.normal = normalized(cross(s.rowDirection, s.columnDirection));
  // Pixel Spacing is (between rows, between columns): i runs along the row.
  s.spacingMm[0] = (*ref.pixelSpacingMm)[1];
  s.spacingMm[1] = (*ref.pixelSpacingMm)[0];

  // 3. Sort along the normal; drop duplicated positions.
  std::vector<std::pair<double, std::size_t>> pos;
  for (std::size_t i : kept)
    pos.push_back({dot(*slices[i].imagePositionLps, s.normal), i});
  std::stable_sort(pos.begin(), pos.end(), [&](const auto& a, const auto& b) {
    if (a.first != b.first) return a.first < b.first;
    return slices[a.second].instanceNumber < slices[b.second].instanceNumber;
  });
  std::vector<std::pair<double, std::size_t>> unique;
  for (const auto& p : pos) {
    if (!unique.empty() && std::abs(p.first - unique.back().first) < tol.duplicateMm) {
      const DicomHeader& h = slices[p.second];
      fail(h.path, "duplicate slice position " + mm(p.first) + " mm along the normal (same as " +
                       slices[unique.back().second].path + "): left out of the volume");
      continue;
    }
    unique.push_back(p);
  }
  for (const auto& p : unique)
    s.order.push_back(p.second);
  s.originLps = *slices[s.order.front()].imagePositionLps;

  if (s.order.size() == 1) {
    // A single slice: a one-voxel-thick volume; its thickness is unknown.
    s.spacingMm[2] =
        ref.sliceThicknessMm.value_or(1.0) > 0 ? ref.sliceThicknessMm.value_or(1.0) : 1.0;
    s.problems.push_back({Severity::Warning, series, "series has a single slice: no 3D volume"});
    s.usable = true;
    return s;
  }

  // 4. Spacing from positions, gaps and unevenness.
  std::vector<double> steps;
  for (std::size_t k = 1; k < unique.size(); ++k)
    steps.push_back(unique[k].first - unique[k - 1].first);
  std::vector<double> sorted = steps;
  std::nth_element(sorted.begin(), sorted.begin() + sorted.size() / 2, sorted.end());
  const double median = sorted[sorted.size() / 2];
  const double allowed = std::max(tol.duplicateMm, tol.spacingRelative * median);
  bool even = true;
  for (std::size_t k = 0; k < steps.size(); ++k) {
    if (std::abs(steps[k] - median) <= allowed) continue;
    even = false;
    SliceGap g{k,        unique[k].first, unique[k + 1].first,
               steps[k], median,          static_cast<int>(std::lround(steps[k] / median)) - 1};
    s.gaps.push_back(g);
    std::ostringstream why;
    if (steps[k] > median) {
      why << "gap of " << mm(steps[k]) << " mm between slices " << k + 1 << " and " << k + 2
          << " (at " << mm(g.fromMm) << " and " << mm(g.toMm) << " mm along the normal), expected "
          << mm(median) << " mm";
      if (g.missingSlices > 0) why << ": about " << g.missingSlices << " slice(s) missing";
    } else {
      why << "uneven slice spacing: " << mm(steps[k]) << " mm between slices " << k + 1 << " and "
          << k + 2 << " (at " << mm(g.fromMm) << " and " << mm(g.toMm) << " mm), expected "
          << mm(median) << " mm";
    }
    fail(slices[unique[k + 1].second].path, why.str());
  }
  s.spacingMm[2] = (unique.back().first - unique.front().first) / double(unique.size() - 1);

  // 5. Gantry tilt: the stack is sheared when the first pixels drift in-plane.
  const Vec3 displacement = *slices[s.order.back()].imagePositionLps - s.originLps;
  const double along = dot(displacement, s.normal);
  const double across = norm(displacement - along * s.normal);
  s.gantryTiltDeg = std::atan2(across, std::abs(along)) * 180.0 / std::numbers::pi;
  bool tilted = s.gantryTiltDeg > tol.tiltDegrees;
  if (tilted) {
    std::ostringstream why;
    why << "gantry tilt: slices are sheared by " << mm(s.gantryTiltDeg) << " degrees";
    if (ref.gantryTiltDeg) why << " (Gantry/Detector Tilt " << mm(*ref.gantryTiltDeg) << ")";
    why << "; a tilted stack is not a regular grid and is not loaded";
    fail(series, why.str());
  }
  if (!even) {
    fail(series, "slice spacing is not regular (" + std::to_string(s.gaps.size()) +
                     " gap(s) or uneven step(s)); the volume is not built rather than drawn with "
                     "wrong geometry");
  }
  s.usable = even && !tilted;
  return s;
}

} // namespace fluoroplan
