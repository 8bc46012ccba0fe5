#include "imaging/projection/frame_level_count.h"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace fluoroplan {

namespace {

using Px = std::array<double, 2>;

Px operator+(Px a, Px b) {
  return {a[0] + b[0], a[1] + b[1]};
}
Px operator-(Px a, Px b) {
  return {a[0] - b[0], a[1] - b[1]};
}
Px operator*(double k, Px a) {
  return {k * a[0], k * a[1]};
}
double length(Px a) {
  return std::hypot(a[0], a[1]);
}

// A polyline in pixels, walked by arc length (extended straight past its
// ends).
class Axis {
public:
  explicit Axis(std::vector<Px> points) : p_(std::move(points)), s_(p_.size(), 0) {
    for (std::size_t i = 1; i < p_.size(); ++i)
      s_[i] = s_[i - 1] + length(p_[i] - p_[i - 1]);
  }
  double arcAt(std::size_t i) const { return s_[i]; }
  // Position and unit tangent at arc length s.
  std::pair<Px, Px> at(double s) const {
    std::size_t i = 1;
    while (i + 1 < p_.size() && s > s_[i])
      ++i;
    const Px d = p_[i] - p_[i - 1];
    const double len = std::max(length(d), 1e-9);
    const Px t = (1 / len) * d;
    return {p_[i - 1] + (s - s_[i - 1]) * t, t};
  }

private:
  std::vector<Px> p_;
  std::vector<double> s_;
};

// The frame's mean across the spine at arc length s: NaN where less than
// half the band lies in the open field.
double bandMean(const RegistrationImage& f, const Axis& axis, double s, double halfWidth) {
  const auto [p, t] = axis.at(s);
  const Px n{-t[1], t[0]};
  double sum = 0;
  int in = 0, all = 0;
  for (double o = -halfWidth; o <= halfWidth; o += 1, ++all) {
    const Px q = p + o * n;
    const long c = std::lround(q[0]), r = std::lround(q[1]);
    if (c < 0 || r < 0 || c >= long(f.columns) || r >= long(f.rows)) continue;
    const std::size_t i = std::size_t(r) * f.columns + std::size_t(c);
    if (!f.mask[i]) continue;
    sum += f.value[i];
    ++in;
  }
  return 2 * in >= all ? sum / in : std::nan("");
}

// What an alignment shows at a place: the CT's disc, its solid sacrum, or
// nothing known (beyond the CT).
enum class Shows { disc, solid, unknown };

} // namespace

FrameLevelCount countLevelsOnFrame(const RegistrationImage& frame, const CArmGeometry& pose,
                                   const CtLevelNames& names, const FrameLevelCountOptions& o) {
  FrameLevelCount out;
  std::vector<const NamedVertebra*> mobile;
  bool sacrum = false;
  for (const auto& v : names.vertebrae)
    if (v.level == "sacrum")
      sacrum = true;
    else
      mobile.push_back(&v);
  if (mobile.size() < 2) {
    out.summary = "not counted: the CT holds fewer than two mobile vertebrae";
    return out;
  }
  std::vector<Px> body;
  for (const NamedVertebra* v : mobile)
    body.push_back(pose.project(v->bodyLps));
  // The CT's discs at the pose: half-way between neighbouring bodies; the
  // last above the sacrum half a spacing below the last body (the sacrum's
  // centre lies far lower).
  std::vector<DiscPlace> discs;
  for (std::size_t i = 0; i + 1 < body.size(); ++i)
    discs.push_back({mobile[i]->level + "-" + mobile[i + 1]->level, 0.5 * (body[i] + body[i + 1])});
  if (sacrum)
    discs.push_back(
        {mobile.back()->level + "-S1", body.back() + 0.5 * (body.back() - body[body.size() - 2])});
  const long n = long(discs.size());
  // One place beyond each end, a spacing on.
  const Px top = discs.size() >= 2 ? discs[1].px - discs[0].px : body[1] - body[0];
  const Px bottom = discs.size() >= 2 ? discs[n - 1].px - discs[n - 2].px : body[1] - body[0];
  out.places.push_back({"", discs.front().px - top});
  out.places.insert(out.places.end(), discs.begin(), discs.end());
  out.places.push_back({"", discs.back().px + bottom});
  // The profile's axis runs through the places, a further spacing past
  // each end so that the windows there lie on it.
  std::vector<Px> line{out.places.front().px - top};
  for (const DiscPlace& p : out.places)
    line.push_back(p.px);
  line.push_back(out.places.back().px + bottom);
  const Axis axis(line);

  // Each place's contrast: the bodies either side (from 0.35 to 0.65 of
  // the spacing away) against the band's least absorbing stretch within
  // 0.2 of it. The lower side counts: one bright side (the end of the
  // bone) is not a disc.
  for (std::size_t k = 0; k < out.places.size(); ++k) {
    DiscPlace& p = out.places[k];
    const double s0 = axis.arcAt(k + 1);
    const double h = 0.5 * (axis.arcAt(k + 2) - axis.arcAt(k));
    const double halfWidth = o.bandHalfWidth * h;
    auto windowMean = [&](double from, double to, bool lowest) {
      double acc = lowest ? 1e300 : 0;
      int count = 0, missing = 0;
      for (double s = from; s <= to; s += 0.5) {
        const double m = bandMean(frame, axis, s, halfWidth);
        if (std::isnan(m)) {
          ++missing;
          continue;
        }
        acc = lowest ? std::min(acc, m) : acc + m;
        ++count;
      }
      // Most of the window must lie in the field.
      if (count == 0 || missing * 4 > count + missing) return std::nan("");
      return lowest ? acc : acc / count;
    };
    const double above = windowMean(s0 - 0.65 * h, s0 - 0.35 * h, false);
    const double below = windowMean(s0 + 0.35 * h, s0 + 0.65 * h, false);
    const double band = windowMean(s0 - 0.2 * h, s0 + 0.2 * h, true);
    p.inField = !std::isnan(above) && !std::isnan(below) && !std::isnan(band);
    if (p.inField) p.contrast = std::min(above, below) - band;
  }

  // What each alignment shows at place k (k = 0 is the place above the
  // CT's first disc): alignment m draws the CT's disc k - 1 + m there.
  auto shows = [&](long k, int m) {
    const long q = k - 1 + m;
    if (q >= 0 && q < n) return Shows::disc;
    if (q >= n && sacrum) return Shows::solid;
    return Shows::unknown;
  };
  // The yardstick: the places where every alignment has a disc.
  std::vector<double> typical;
  for (long k = 0; k < long(out.places.size()); ++k)
    if (out.places[k].inField && shows(k, -1) == Shows::disc && shows(k, 0) == Shows::disc &&
        shows(k, 1) == Shows::disc)
      typical.push_back(out.places[k].contrast);
  std::ostringstream why;
  if (typical.empty()) {
    why << "not counted: no disc space that every alignment shares lies in the field";
    out.summary = why.str();
    return out;
  }
  std::nth_element(typical.begin(), typical.begin() + long(typical.size() / 2), typical.end());
  const double yardstick = typical[typical.size() / 2];
  if (!(yardstick > 0)) {
    why << "not counted: the frame shows no disc spaces where the CT's discs fall";
    out.summary = why.str();
    return out;
  }
  out.counted = true;
  for (DiscPlace& p : out.places) {
    p.relativeContrast = p.contrast / yardstick;
    p.seen = p.inField && p.relativeContrast >= o.seenFraction;
    out.discsSeen += p.seen;
  }
  for (int m = -1; m <= 1; ++m)
    for (long k = 0; k < long(out.places.size()); ++k)
      if (out.places[k].seen && shows(k, m) == Shows::solid)
        ++out.contradictions[std::size_t(m + 1)];
  const auto& c = out.contradictions;
  if (c[1] > 0) {
    if (c[0] < c[1] && c[0] <= c[2])
      out.favouredShift = c[0] < c[2] ? -1 : 0; // both shifts clear: no side named
    if (c[2] < c[1] && c[2] < c[0]) out.favouredShift = 1;
  }

  why << out.discsSeen << " disc space" << (out.discsSeen == 1 ? "" : "s")
      << " counted on the frame (";
  bool first = true;
  for (const DiscPlace& p : out.places)
    if (p.seen) {
      why << (first ? "" : ", ") << (p.name.empty() ? "beyond the CT's discs" : p.name);
      first = false;
    }
  why << " at this pose)";
  if (out.favouredShift != 0)
    why << "; a disc shows where the CT at this pose has its sacrum: the count fits the CT one "
           "level "
        << (out.favouredShift < 0 ? "cranial" : "caudal");
  else if (c[1] > 0)
    why << "; a disc shows where the CT at this pose has its sacrum";
  else if (out.ruledOut(1))
    why << "; one level caudal is ruled out (it puts the sacrum where a disc shows)";
  else
    why << "; the count does not tell this pose from a level off (no disc shows where the CT "
           "has its sacrum one level caudal)";
  out.summary = why.str();
  return out;
}

} // namespace fluoroplan
