#include "planning/plan.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>

#include "imaging/core/parallel.h"

namespace fluoroplan {

namespace {
constexpr double kDeg = 3.14159265358979323846 / 180.0;

const VertebraModel* findLevel(const SpineModel& spine, const std::string& level) {
  for (const auto& v : spine.vertebrae)
    if (v.level == level) return &v;
  return nullptr;
}

const VertebraModel& nearestVertebra(const SpineModel& spine, Vec3 p) {
  const VertebraModel* best = &spine.vertebrae.front();
  for (const auto& v : spine.vertebrae)
    if (norm(v.bodyCentroid.lps - p) < norm(best->bodyCentroid.lps - p)) best = &v;
  return *best;
}

// Length of the active tip [tip, tip + length * out] within `tol` of the
// nerve's course a-b (sampled every 0.25 mm).
double coverage(Vec3 tip, Vec3 out, double length, Vec3 a, Vec3 b, double tol) {
  double on = 0;
  for (double s = 0.125; s < length; s += 0.25)
    if (distanceToSegment(tip + s * out, a, b) <= tol) on += 0.25;
  return on;
}

std::string fixed1(double v) {
  std::ostringstream s;
  s.setf(std::ios::fixed);
  s.precision(1);
  s << v;
  return s.str();
}

// Where a doctor marks the skin: cm from the midline and from the nearest
// spinous process, along the patient's axes at that level.
std::string skinMark(const SpineModel& spine, Vec3 entry) {
  const VertebraModel* ref = nullptr;
  double best = 1e9;
  for (const auto& v : spine.vertebrae) {
    if (!v.spinousTip) continue;
    const double d = std::abs(dot(entry - v.spinousTip->lps, v.axes.cranial));
    if (d < best) {
      best = d;
      ref = &v;
    }
  }
  if (!ref) return "";
  const Vec3 rel = entry - ref->spinousTip->lps;
  const double lat = dot(rel, ref->axes.left), cc = dot(rel, ref->axes.cranial);
  std::ostringstream s;
  s << fixed1(std::abs(lat) / 10) << " cm " << (lat >= 0 ? "left" : "right") << " of the midline, "
    << fixed1(std::abs(cc) / 10) << " cm " << (cc >= 0 ? "above" : "below") << " the tip of the "
    << ref->level << " spinous process";
  return s.str();
}

double angleBetweenLines(Vec3 a, Vec3 b) {
  return std::acos(std::clamp(std::abs(dot(normalized(a), normalized(b))), 0.0, 1.0)) / kDeg;
}

// RF literature window for parallel placement (Tran et al. 2022): 29-47
// degrees lateral to the parasagittal plane and 34-49 degrees caudal.
bool withinParallelWindow(double caudalDeg, double lateralDeg) {
  return caudalDeg >= 34 && caudalDeg <= 49 && lateralDeg >= 29 && lateralDeg <= 47;
}
} // namespace

Trajectory evaluatePath(const PathScene& scene, const SpineModel& spine,
                        const ProcedureRequest& req, const NerveCourse* course,
                        const std::string& side, Vec3 entry, Vec3 target, const PlanOptions& o) {
  Trajectory t;
  t.side = side;
  t.entryLps = entry;
  t.targetLps = target;
  const VertebraModel* bone = course ? findLevel(spine, course->boneLevel) : nullptr;
  if (!bone) bone = &nearestVertebra(spine, target);
  t.boneLevel = bone->level;
  if (course) {
    t.forWhat = course->nerve;
    t.bone = course->bone;
  }
  const VertebraAxes& ax = bone->axes;
  PathRules rules;
  rules.needleLengthMm = req.needle.lengthMm;
  if (req.procedure == Procedure::Scs) {
    rules.boneAllowanceMm = 0; // the Tuohy needle touches no bone on its way in
    // It stops in the dorsal epidural space, 2 mm under the canal's dorsal
    // edge; arriving at 30-45 degrees to that edge it runs ~3-6 mm inside.
    rules.canalAllowanceMm = 6;
  }
  t.check = scene.check(entry, target, rules);
  // What segmentation does not show, and a path must keep clear of. The
  // neck: the vertebral artery runs in front of the articular pillars
  // through the transverse foramina (C1-C6), the carotid sheath farther
  // forward; a needle to the pillar keeps behind them: no point of it more
  // than 2 mm in front of its target. The trunk: the kidney (T11-L3) and
  // the pleura (thoracic) lie lateral to the transverse processes; a path
  // keeps to the posterior paraspinal compartment. Once 20 mm out to the
  // side of its target it must be behind it by more than it is lateral: 45
  // degrees from the sagittal plane at most, 35 degrees beside T11-L3,
  // where the kidney's back lies level with the transverse processes.
  const bool neck = bone->label >= 1 && bone->label <= 7;
  if (neck && req.procedure != Procedure::Scs) {
    const double len = norm(target - entry);
    const double targetDepth = dot(target - ax.origin, ax.posterior);
    for (double s = 0; s < len; s += 1.0) {
      const Vec3 p = entry + (s / len) * (target - entry);
      if (dot(p - ax.origin, ax.posterior) < targetDepth - 2) {
        t.check.violations.push_back(
            "passes in front of the articular pillar " + fixed1(len - s) +
            " mm before the target, toward the vertebral artery (not visible in the "
            "segmentation)");
        t.check.safe = false;
        break;
      }
    }
  } else if (req.procedure != Procedure::Scs) {
    const double len = norm(target - entry);
    const double sgn = side == "left" ? 1.0 : -1.0;
    const Vec3 qt = ax.toLocal(target);
    for (double s = 0; s < len; s += 1.0) {
      const Vec3 p = entry + (s / len) * (target - entry);
      const Vec3 q = ax.toLocal(p);
      const double lat = sgn * (q.x - qt.x), back = q.y - qt.y;
      const int here = nearestVertebra(spine, p).label;
      const bool kidneyLevels = here >= 18 && here <= 22; // T11-L3
      const double maxTan = kidneyLevels ? 0.70 : 1.0;    // tan 35, tan 45
      if (lat > 20 && lat > maxTan * back) {
        t.check.violations.push_back("leaves the posterior paraspinal compartment " +
                                     fixed1(len - s) + " mm before the target, toward the " +
                                     (kidneyLevels ? "kidney" : "pleura and lung") +
                                     " (not visible in the segmentation)");
        t.check.safe = false;
        break;
      }
    }
  }
  t.depthMm = t.check.lengthMm;
  const Vec3 out = normalized(entry - target);
  const double sideSign = side == "left" ? 1.0 : -1.0;
  const Vec3 local{dot(out, ax.left), dot(out, ax.posterior), dot(out, ax.cranial)};
  t.caudalAngleDeg = std::atan2(-local.z, local.y) / kDeg;
  t.lateralAngleDeg = std::atan2(sideSign * local.x, std::hypot(local.y, local.z)) / kDeg;
  t.anglesToPatientAxesDeg = {angleBetweenLines(out, {1, 0, 0}), angleBetweenLines(out, {0, 1, 0}),
                              angleBetweenLines(out, {0, 0, 1})};
  t.skinMark = skinMark(spine, entry);
  t.downTheNeedle = downTheNeedleView(entry, target, req.prone, side, ax.cranial, o.carm);
  t.progress = progressView(entry, target, req.prone, side, ax.cranial, o.carm);
  const double neural = std::min(t.check.canalClearanceMm, t.check.foramenClearanceMm);
  std::ostringstream why;
  if (course && req.procedure == Procedure::FacetRf) {
    t.activeTipOnNerveMm = coverage(target, out, req.needle.activeTipMm, course->cranialLps,
                                    course->caudalLps, o.nerveToleranceMm);
    t.angleToNerveDeg = angleBetweenLines(out, course->cranialLps - course->caudalLps);
    t.score = 4.0 * t.activeTipOnNerveMm / req.needle.activeTipMm;
    // Of paths that cover the nerve alike, the one hugging its course
    // keeps more of the tip on it when the course found is a millimetre off.
    t.score += 1.5 *
               coverage(target, out, req.needle.activeTipMm, course->cranialLps, course->caudalLps,
                        0.5 * o.nerveToleranceMm) /
               req.needle.activeTipMm;
    why << fixed1(t.activeTipOnNerveMm) << " of " << fixed1(req.needle.activeTipMm)
        << " mm of the active tip lies along the nerve (" << fixed1(t.angleToNerveDeg)
        << " degrees to it), "
        << (neck && !req.prone ? "lateral approach (supine): the needle crosses the nerve, "
                                 "which the parallel posterior approach (prone) follows"
            : neck             ? "posterior approach along the pillar's lateral face"
                               : "entering from caudal and lateral");
    if (!neck && withinParallelWindow(t.caudalAngleDeg, t.lateralAngleDeg)) {
      t.score += 0.5;
      why << " within the published parallel-placement angles";
    }
  } else if (course) {
    t.score = 2.0 - t.depthMm / 100.0;
    why << "a short path to the " << course->bone;
  } else {
    t.score = 0;
  }
  t.score += 3.0 * std::min(neural, 10.0) / 10.0;
  // The textbook set-up, which the room's C-arm and the doctor's hands
  // expect: about 40 degrees caudal and 20-30 lateral (DESIGN.md section 3;
  // Tran 2022 measured 34-49 caudal, 29-47 lateral). Paths far outside it
  // rank lower, not out.
  if (course && req.procedure != Procedure::Scs && !neck) {
    const double cOff = std::max({0.0, 25 - t.caudalAngleDeg, t.caudalAngleDeg - 55});
    const double lOff = std::max({0.0, 10 - t.lateralAngleDeg, t.lateralAngleDeg - 47});
    t.score -= 0.04 * (cOff + lOff);
  }
  t.score += (t.downTheNeedle.reachable ? 0.5 : -1.0) + (t.progress.reachable ? 0.25 : -0.5);
  if (!t.check.safe) t.score -= 100;
  if (req.procedure == Procedure::Scs)
    why << "; " << fixed1(neural)
        << " mm from the canal and foramen until the last 6 mm, which enter the dorsal epidural "
           "space";
  else
    why << "; " << fixed1(neural) << " mm from the canal and foramen";
  if (t.check.boneClearanceMm < 1e8)
    why << ", " << fixed1(t.check.boneClearanceMm) << " mm from bone on the way";
  why << ", " << fixed1(t.depthMm) << " mm deep";
  if (!t.downTheNeedle.reachable) why << "; the down-the-needle view " << t.downTheNeedle.whyNot;
  t.reasons = why.str();
  return t;
}

namespace {

// Needle directions (unit, target to skin) in a vertebra's axes: c degrees
// from caudal, l degrees from lateral.
Vec3 outward(const VertebraAxes& ax, double sideSign, double cDeg, double lDeg) {
  const double c = cDeg * kDeg, l = lDeg * kDeg;
  return normalized(std::cos(c) * std::cos(l) * ax.posterior +
                    sideSign * std::cos(c) * std::sin(l) * ax.left - std::sin(c) * ax.cranial);
}

std::vector<Trajectory> rankDistinct(std::vector<Trajectory> all, std::size_t keep) {
  std::sort(all.begin(), all.end(),
            [](const Trajectory& a, const Trajectory& b) { return a.score > b.score; });
  std::vector<Trajectory> out;
  for (auto& t : all) {
    const Vec3 d = normalized(t.entryLps - t.targetLps);
    bool distinct = true;
    for (const auto& k : out)
      if (angleBetweenLines(d, k.entryLps - k.targetLps) < 8 && norm(t.targetLps - k.targetLps) < 3)
        distinct = false;
    if (distinct) out.push_back(std::move(t));
    if (out.size() == keep) break;
  }
  return out;
}

std::string commonestViolation(const std::vector<Trajectory>& tried, bool rf, double activeTipMm) {
  std::map<std::string, int> count;
  // A path whose only fault is the needle's length is worth saying first:
  // a longer needle reaches it.
  double shortestSafe = 1e9;
  for (const auto& t : tried) {
    bool onlyLength = !t.check.violations.empty();
    for (const auto& v : t.check.violations) {
      const bool length = v.rfind("needs ", 0) == 0;
      onlyLength = onlyLength && length;
      // Group by what is crossed, not by where ("... of the L1 13.8 mm
      // before the target" counts as "... of the L1").
      const auto at = v.find(" mm");
      if (length)
        count["longer than the needle"]++;
      else
        count[at == std::string::npos || at == 0 ? v : v.substr(0, v.rfind(' ', at - 1))]++;
    }
    if (onlyLength) shortestSafe = std::min(shortestSafe, t.check.lengthMm);
    if (t.check.violations.empty() && rf && t.activeTipOnNerveMm < 0.3 * activeTipMm)
      count["lies too far off the nerve for RF (less than 30% of the active tip on it)"]++;
  }
  std::vector<std::pair<int, std::string>> ranked;
  for (const auto& [k, c] : count)
    ranked.emplace_back(c, k);
  std::sort(ranked.rbegin(), ranked.rend());
  std::string out;
  if (shortestSafe < 1e8)
    out = "a path that is otherwise safe needs " + fixed1(shortestSafe) +
          " mm of needle (plus 5 mm outside the skin): choose a longer needle; ";
  for (std::size_t i = 0; i < ranked.size() && i < 3; ++i)
    out += (i ? "; " : "") + ranked[i].second + " (" + std::to_string(ranked[i].first) + ")";
  return out;
}

NervePlan planFacetNerve(const PathScene& scene, const SpineModel& spine,
                         const ProcedureRequest& req, const NerveCourse& course,
                         const PlanOptions& o) {
  NervePlan np;
  np.nerve = course.nerve;
  np.side = course.side;
  np.course = course;
  if (!course.inScan) {
    np.whyNone = "no target: " + course.reason;
    return np;
  }
  const VertebraModel* bone = findLevel(spine, course.boneLevel);
  if (!bone) {
    np.whyNone = "no target: the " + course.boneLevel + " is not in the model";
    return np;
  }
  const double sideSign = course.side == "left" ? 1.0 : -1.0;
  const bool rf = req.procedure == Procedure::FacetRf;
  // Targets along the course: RF tips near its cranial end, so the active
  // tip runs back along it; blocks at its middle.
  std::vector<Vec3> targets;
  for (double f : rf ? std::vector<double>{0.0, 0.2, 0.4} : std::vector<double>{0.5, 0.8})
    targets.push_back(course.cranialLps + f * (course.caudalLps - course.cranialLps));
  std::vector<Trajectory> tried;
  // Within a mobile C-arm's reach: the down-the-needle view needs a tilt
  // of about the needle's caudal angle.
  const double cMax = rf ? 60 : 45, lMax = rf ? 55 : 40;
  // RF: the tip may also sit half a millimetre past the nerve along the
  // needle (on the bone, within the tip allowance), so the active tip
  // crosses the nerve rather than leaving it at the tip; no more, so the
  // target stays within the tolerance where the course found is a
  // millimetre off.
  const std::vector<double> beyond = rf ? std::vector<double>{0.0, 0.5} : std::vector<double>{0.0};
  std::size_t leftTheScan = 0, directions = 0;
  double steepestInScan = -1;
  const bool neck = bone->label >= 1 && bone->label <= 7;
  if (neck && !req.prone) {
    // Supine, lateral approach: from the side onto the pillar's lateral
    // face at the nerve's middle, up to 40 degrees back from the coronal
    // plane and 15 degrees cranial or caudal (the shoulder lies below).
    // "From the side" is the patient's, so that the straight lateral
    // needle is seen down the beam in a true lateral view (90 degrees),
    // however the vertebra is rotated.
    const Vec3& up = bone->axes.cranial;
    const Vec3 lateral = normalized(Vec3{sideSign, 0, 0} - sideSign * up.x * up);
    const Vec3 back = sideSign * cross(up, lateral); // posterior, whichever side
    for (double f : {0.3, 0.5, 0.7})
      for (double backDeg = 0; backDeg <= 40; backDeg += 5)
        for (double c = -15; c <= 15; c += 5) {
          const double b = backDeg * kDeg, cc = c * kDeg;
          const Vec3 out = normalized(std::cos(b) * std::cos(cc) * lateral +
                                      std::sin(b) * std::cos(cc) * back - std::sin(cc) * up);
          const Vec3 target = course.cranialLps + f * (course.caudalLps - course.cranialLps);
          const auto skin = scene.skinAlong(target, out);
          ++directions;
          if (!skin) {
            ++leftTheScan;
            continue;
          }
          tried.push_back(evaluatePath(scene, spine, req, &course, course.side, *skin, target, o));
        }
    targets.clear(); // no posterior candidates
  }
  for (const Vec3& onNerve : targets)
    for (double c = 0; c <= cMax; c += 5)
      for (double l = 0; l <= lMax; l += 5) {
        const Vec3 out = outward(bone->axes, sideSign, c, l);
        for (double d : beyond) {
          const Vec3 target = onNerve - d * out;
          const auto skin = scene.skinAlong(target, out);
          ++directions;
          if (!skin) {
            ++leftTheScan;
            continue;
          }
          steepestInScan = std::max(steepestInScan, c);
          tried.push_back(evaluatePath(scene, spine, req, &course, course.side, *skin, target, o));
        }
      }
  std::vector<Trajectory> safe;
  // The lateral approach crosses the nerve by design (lesions are made
  // across it); elsewhere an RF path must lie along it.
  const bool crossing = neck && !req.prone;
  for (const auto& t : tried)
    if (t.check.safe && (!rf || crossing || t.activeTipOnNerveMm >= 0.3 * req.needle.activeTipMm))
      safe.push_back(t);
  if (safe.empty()) {
    np.whyNone =
        "no safe path: none of " + std::to_string(tried.size()) +
        " candidate paths is safe; the commonest reasons: " +
        (tried.empty() ? std::string("every one leaves the scan before it reaches the skin")
                       : commonestViolation(tried, rf, req.needle.activeTipMm));
    return np;
  }
  np.alternatives = rankDistinct(std::move(safe), 3);
  np.best = np.alternatives.front();
  if (rf && crossing)
    np.best->reasons += "; NOTE only " + fixed1(np.best->activeTipOnNerveMm) +
                        " mm of the active tip lies on the nerve: the lateral approach crosses "
                        "it; lesion at two or three points along the waist, or plan prone "
                        "(--position prone) for the parallel posterior approach";
  else if (rf && np.best->activeTipOnNerveMm < 0.8 * req.needle.activeTipMm)
    np.best->reasons +=
        "; NOTE only " + fixed1(np.best->activeTipOnNerveMm) +
        " mm of the active tip lies on the nerve (goal 80%): no safe path within the "
        "C-arm's tilt runs more parallel to it" +
        (leftTheScan * 4 > directions && steepestInScan < cMax
             ? "; " + std::to_string(leftTheScan) + " of " + std::to_string(directions) +
                   " candidate directions leave the scan before the skin (none tilted more "
                   "than " +
                   fixed1(steepestInScan) +
                   " degrees caudal stays in it): a scan reaching further caudal would allow "
                   "a more parallel path"
             : std::string());
  return np;
}

NervePlan planScs(const PathScene& scene, const SpineModel& spine, const ProcedureRequest& req,
                  const PlanOptions& o, std::vector<Vec3>& lead, std::string& leadSummary,
                  std::vector<std::string>& warnings) {
  NervePlan np;
  const std::string entryJoint = req.scsEntry.empty() ? defaultScsEntry(req.scsTip) : req.scsEntry;
  const std::string side = req.side == Side::Right ? "right" : "left";
  np.nerve = "epidural space at " + entryJoint;
  np.side = side;
  const auto [upperName, lowerName] = jointLevels(entryJoint);
  const VertebraModel* upper = findLevel(spine, upperName);
  if (!upper || !upper->interlaminarWindowBelow) {
    np.whyNone = "no target: the " + entryJoint + " interlaminar window is not in the scan";
    return np;
  }
  const VertebraAxes& ax = upper->axes;
  const double sideSign = side == "left" ? 1.0 : -1.0;
  // The dorsal edge of the canal under the window: march forward from the
  // window's midline point until the canal starts; the needle stops 2 mm
  // inside (the dorsal epidural fat), 2 mm to its own side of the midline.
  // The window's landmark projected onto the vertebra's midsagittal plane:
  // the needle's 2-6 mm offset to its own side counts from the midline.
  const Vec3 w0 = upper->interlaminarWindowBelow->lps;
  const Vec3 w = w0 - dot(w0 - ax.origin, ax.left) * ax.left;
  std::optional<Vec3> edge;
  for (double s = -10; s < 25 && !edge; s += 0.25) {
    const Vec3 p = w - s * ax.posterior;
    if (scene.labelAt(p) == spine_label::kSpinalCanal) edge = p;
  }
  if (!edge) {
    np.whyNone = "no target: no canal found under the " + entryJoint + " interlaminar window";
    return np;
  }
  std::vector<Trajectory> tried;
  // Paramedian, from caudal: at most 45 degrees to the skin, as shallow as
  // the laminae allow (the lead must be steered upward; DESIGN.md section 3).
  // The needle passes through the window and stops just inside the canal,
  // at or up to 15 mm above the window (under the upper lamina), following
  // the dorsal edge of the canal.
  for (double up = 0; up <= 15; up += 3) {
    std::optional<Vec3> dorsal;
    const Vec3 from = *edge + up * ax.cranial + 10.0 * ax.posterior;
    for (double s = 0; s < 30 && !dorsal; s += 0.25)
      if (scene.labelAt(from - s * ax.posterior) == spine_label::kSpinalCanal)
        dorsal = from - s * ax.posterior;
    if (!dorsal) continue;
    // 2-6 mm to the needle's side of the midline: beside the spinous
    // process's shadow, still in the dorsal epidural space.
    for (double off = 2; off <= 6; off += 2)
      for (double c = 45; c <= 72; c += 2.5)
        for (double l = 0; l <= 25; l += 5) {
          const Vec3 target = *dorsal - 2.0 * ax.posterior + off * sideSign * ax.left;
          const Vec3 out = outward(ax, sideSign, c, l);
          const auto skin = scene.skinAlong(target, out);
          if (!skin) continue;
          Trajectory t = evaluatePath(scene, spine, req, nullptr, side, *skin, target, o);
          t.forWhat = np.nerve;
          t.bone = "dorsal epidural space through the " + entryJoint + " interlaminar window";
          const double toSkin =
              90 - std::acos(std::clamp(dot(out, ax.posterior), -1.0, 1.0)) / kDeg;
          // The skin entry 1-2 cm off the midline (DESIGN.md section 3):
          // farther out the needle crosses more muscle and meets the
          // laminae obliquely; closer in it meets the spinous processes.
          const double offMidline = std::abs(dot(*skin - ax.origin, ax.left));
          t.score += c / 10.0 + std::min(t.check.boneClearanceMm, 3.0) -
                     0.15 * std::max(0.0, std::abs(offMidline - 15.0) - 5.0);
          std::string rest = t.reasons;
          if (rest.rfind("; ", 0) == 0) rest = rest.substr(2);
          t.reasons = fixed1(toSkin) + " degrees to the skin, paramedian from caudal, " +
                      fixed1(offMidline / 10.0) + " cm off the midline; " + rest;
          tried.push_back(std::move(t));
        }
  }
  std::vector<Trajectory> safe;
  for (const auto& t : tried)
    if (t.check.safe && t.check.boneClearanceMm >= 1.0) safe.push_back(t);
  if (safe.empty()) {
    np.whyNone =
        "no safe path: none of " + std::to_string(tried.size()) +
        " candidate paths is safe and 1 mm clear of the laminae; the commonest reasons: " +
        (tried.empty() ? std::string("every one leaves the scan before it reaches the skin")
                       : commonestViolation(tried, false, 0));
    return np;
  }
  np.alternatives = rankDistinct(std::move(safe), 3);
  np.best = np.alternatives.front();

  // The lead: up the dorsal epidural space from the entry to the tip level,
  // along the canal's centreline shifted 60% of its radius backward.
  const VertebraModel* tip = findLevel(spine, req.scsTip);
  const auto& cl = spine.canalCentrelineLps;
  double tipHeight = -1e9;
  if (tip)
    tipHeight = dot(tip->bodyCentroid.lps, ax.cranial);
  else
    warnings.push_back("the lead-tip level " + req.scsTip +
                       " is not in the scan: the lead path ends at the top of the scan");
  const double startHeight = dot(np.best->targetLps, ax.cranial);
  for (std::size_t i = cl.size(); i-- > 0;) { // caudal to cranial
    const double h = dot(cl[i], ax.cranial);
    if (h < startHeight) continue;
    if (tip && h > tipHeight) break;
    const double r = i < spine.canalRadiusMm.size() ? spine.canalRadiusMm[i] : 5.0;
    Vec3 p = cl[i] + 0.6 * r * ax.posterior;
    if (scene.labelAt(p) != spine_label::kSpinalCanal) p = cl[i] + 0.4 * r * ax.posterior;
    lead.push_back(p);
  }
  double len = 0;
  std::size_t inCanal = 0;
  for (std::size_t i = 0; i < lead.size(); ++i) {
    if (i) len += norm(lead[i] - lead[i - 1]);
    inCanal += scene.labelAt(lead[i]) == spine_label::kSpinalCanal;
  }
  leadSummary =
      "lead " + fixed1(len) + " mm up the dorsal epidural space from " + entryJoint + " to " +
      (tip ? "the middle of the " + req.scsTip + " body" : "the top of the scan") + ", " +
      std::to_string(lead.empty() ? 0 : 100 * inCanal / lead.size()) + "% of it inside the canal";
  return np;
}

} // namespace

Plan planProcedure(const Volume& ct, const SpineModel& spine, const ProcedureRequest& req,
                   const PlanOptions& o, const ProgressCallback& progress) {
  Plan plan;
  plan.request = req;
  plan.nerves = nerveCourses(spine);
  if (spine.vertebrae.empty()) throw std::invalid_argument("the spine model has no vertebrae");
  if (!spine.namingCertain)
    plan.warnings.push_back("level names are uncertain (" + spine.namingEvidence +
                            "): confirm the count on the C-arm before treating");
  // RF targets stand on bone that coarse voxels blur (nerve_courses.h).
  if (req.procedure != Procedure::Scs && voxelsTooCoarseForGrooves(spine))
    plan.warnings.push_back("the CT's voxels are " + voxelSizeText(spine) +
                            ", coarser than 1 mm: the bone the targets stand on is blurred, so a "
                            "target can be several mm off; confirm each on the C-arm");
  reportProgress(progress, 0.05, "plan: nerves");
  if (req.procedure == Procedure::Scs) {
    const std::string entryJoint =
        req.scsEntry.empty() ? defaultScsEntry(req.scsTip) : req.scsEntry;
    std::vector<Vec3> around;
    if (const VertebraModel* u = findLevel(spine, jointLevels(entryJoint).first))
      around.push_back(u->interlaminarWindowBelow ? u->interlaminarWindowBelow->lps
                                                  : u->bodyCentroid.lps);
    if (around.empty()) around.push_back(spine.vertebrae.front().bodyCentroid.lps);
    const PathScene scene(ct, spine.labels, around);
    reportProgress(progress, 0.3, "plan: SCS entry");
    plan.needles.push_back(
        planScs(scene, spine, req, o, plan.leadPathLps, plan.leadSummary, plan.warnings));
    reportProgress(progress, 1.0, "plan: done");
    return plan;
  }
  // Facets: joint U-(U+1) is supplied by the nerves crossing the bones U and
  // U+1 (lumbar Ln-Ln+1: Ln-1 and Ln medial branches; L5-S1: L4 medial
  // branch and L5 dorsal ramus; cervical Cn-Cn+1: the Cn and Cn+1 medial
  // branches, named for their own pillars; Bogduk). One needle per nerve,
  // no cap.
  std::vector<const NerveCourse*> wanted;
  for (const std::string& joint : req.joints) {
    const auto [a, b] = jointLevels(joint);
    for (const std::string& side : sidesOf(req.side))
      for (const std::string& boneLevel : {a, b}) {
        // C2-C3 is supplied by the third occipital nerve alone, which
        // crosses the joint; every other joint by the nerves over its two
        // bones (Bogduk).
        const bool c2c3 = joint == "C2-C3";
        if (c2c3 && boneLevel == "C2") continue;
        const NerveCourse* found = nullptr;
        for (const auto& c : plan.nerves)
          if (c.boneLevel == boneLevel && c.side == side &&
              (c.nerve == "third occipital nerve") == c2c3)
            found = &c;
        if (!found) {
          plan.warnings.push_back("joint " + joint + ", " + side + ": the " + boneLevel +
                                  " is not in the scan; its nerve is not planned");
          continue;
        }
        if (std::find(wanted.begin(), wanted.end(), found) == wanted.end()) wanted.push_back(found);
      }
  }
  // Distance maps around the targets that exist; a nerve outside the scan
  // gets its reason without them.
  std::vector<Vec3> around;
  for (const auto* c : wanted)
    if (c->inScan) around.push_back(c->cranialLps);
  const PathScene scene(ct, spine.labels, around);
  reportProgress(progress, 0.3, "plan: needles");
  plan.needles.resize(wanted.size());
  parallelFor(wanted.size(), o.threads, [&](std::size_t i) {
    plan.needles[i] = planFacetNerve(scene, spine, req, *wanted[i], o);
  });
  reportProgress(progress, 1.0, "plan: done");
  return plan;
}

} // namespace fluoroplan
