// `fluoroplan overlay CT RUN`: registers each frame of the C-arm run(s) to
// the CT and draws the plan where it belongs, with how sure the
// registration is; frames it is not sure of get no plan drawn, and say why.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <tuple>

#include "imaging/core/atomic_file.h"
#include "imaging/core/text_format.h"
#include "imaging/dicom/dicom_writer.h"
#include "imaging/dicom/study_inventory.h"
#include "imaging/dose/dose_event.h"
#include "imaging/io/volume_io.h"
#include "imaging/projection/frame_geometry.h"
#include "imaging/projection/frame_overlay.h"
#include "imaging/projection/registration_2d3d.h"
#include "imaging/projection/run_tracker.h"
#include "ui/cli/commands.h"
#include "ui/cli/raster.h"
#include "ui/cli/spine_json.h"

namespace fluoroplan::cli {

namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// The CT, and its patient when it is DICOM (NIfTI/NRRD carry none).
Volume loadCt(const fs::path& p, std::optional<PatientIdentity>* patient = nullptr) {
  if (isResearchVolumeFile(p)) return readVolumeFile(p);
  const StudyInventory inv = buildInventory(p);
  if (patient && !inv.patients.empty()) *patient = inv.patients.front();
  const auto idx = primaryVolumeSeries(inv);
  if (!idx) throw DicomFileError(p.string(), "no CT series found");
  VolumeSeriesLoad l = loadVolume(inv, *idx);
  if (!l.volume)
    throw DicomFileError(p.string(),
                         l.problems.empty() ? "the CT did not load" : l.problems.front().message);
  return std::move(*l.volume);
}

// plan.json as overlay reads it: the trajectories, and the CT's vertebrae
// by name (for the wrong-level guard when no segmentation is given; none
// in an older plan).
struct PlanFile {
  std::vector<OverlayTrajectory> trajectories;
  std::optional<CtLevelNames> names;
};
PlanFile readPlan(const fs::path& p) {
  PlanFile out;
  if (p.empty()) return out;
  std::ifstream in(p);
  if (!in) throw std::runtime_error(p.string() + ": cannot read the plan");
  json j;
  try {
    j = json::parse(in);
  } catch (const std::exception& e) {
    throw std::runtime_error(p.string() + ": not a plan.json: " + e.what());
  }
  const double tip = j.contains("needle") ? j["needle"].value("active_tip_mm", 0.0) : 0.0;
  for (const auto& t : j.value("trajectories", json::array())) {
    OverlayTrajectory o;
    o.name = t.value("for", std::string("needle")) + ", " + t.value("side", std::string());
    const auto& e = t.at("entry");
    const auto& g = t.at("target");
    o.entryLps = {e[0], e[1], e[2]};
    o.targetLps = {g[0], g[1], g[2]};
    o.activeTipMm = tip;
    o.boneLevel = t.value("bone_level", std::string());
    out.trajectories.push_back(o);
  }
  if (!j.contains("vertebrae") || !j["vertebrae"].is_array()) return out;
  CtLevelNames names;
  try {
    for (const auto& v : j["vertebrae"]) {
      const auto& c = v.at("body_centroid");
      names.vertebrae.push_back(
          {v.at("level").get<std::string>(),
           {c.at(0).get<double>(), c.at(1).get<double>(), c.at(2).get<double>()},
           v.value("ribs", false)});
    }
  } catch (const std::exception& e) {
    throw std::runtime_error(p.string() +
                             ": a vertebra in \"vertebrae\" is malformed: " + e.what());
  }
  if (j.contains("naming")) {
    names.namingCertain = j["naming"].value("certain", true);
    names.evidence = j["naming"].value("evidence", std::string());
  }
  out.names = std::move(names);
  return out;
}

// 8-bit picture of a frame: window over the field's 1st to 99th percentile.
Gray8Image framePicture(const std::vector<float>& v, unsigned w, unsigned h) {
  std::vector<float> in;
  for (float x : v)
    if (x > 0) in.push_back(x);
  if (in.empty()) in = v;
  std::sort(in.begin(), in.end());
  const float lo = in[in.size() / 100], hi = in[in.size() * 99 / 100];
  Gray8Image g{w, h, std::vector<uint8_t>(v.size())};
  for (std::size_t i = 0; i < v.size(); ++i)
    g.pixels[i] = uint8_t(std::clamp((v[i] - lo) / std::max(hi - lo, 1e-6f) * 255.f, 0.f, 255.f));
  return g;
}

// The CT and the run must be the same patient: say so when they are not.
std::optional<std::string> patientMismatch(const std::optional<PatientIdentity>& ct,
                                           const PatientIdentity& run, const std::string& file) {
  if (!ct) return std::nullopt;
  std::string what;
  if (ct->id != run.id) what += " ID '" + ct->id + "' vs '" + run.id + "'";
  if (ct->name != run.name) what += " name '" + ct->name + "' vs '" + run.name + "'";
  if (ct->birthDate != run.birthDate)
    what += " birth date '" + ct->birthDate + "' vs '" + run.birthDate + "'";
  if (what.empty()) return std::nullopt;
  return "WARNING: " + file + ": the run's patient differs from the CT's:" + what;
}

Vec3 startGuess(const Volume& ct, const std::vector<OverlayTrajectory>& plan) {
  // Where the registration starts: the plan's targets (the C-arm is centred
  // on them), else the CT's centre.
  Vec3 guess =
      ct.indexToLps({(ct.size[0] - 1) / 2.0, (ct.size[1] - 1) / 2.0, (ct.size[2] - 1) / 2.0});
  if (!plan.empty()) {
    Vec3 s;
    for (const auto& t : plan)
      s = s + t.targetLps;
    guess = (1.0 / double(plan.size())) * s;
  }
  return guess;
}

// What overlay and replay read: the CT (and its patient), the plan, the
// runs. Empty, having said why, when there is no run to read.
struct Inputs {
  Volume ct;
  std::optional<PatientIdentity> patient;
  std::vector<OverlayTrajectory> plan;
  std::optional<CtLevelNames> planNames; // the plan's vertebrae, if it lists them
  StudyInventory runs;
};
std::optional<Inputs> loadInputs(const OverlayCliOptions& o) {
  Inputs in;
  in.ct = loadCt(o.ctPath, &in.patient);
  PlanFile planFile = readPlan(o.planPath);
  in.plan = std::move(planFile.trajectories);
  in.planNames = std::move(planFile.names);
  in.runs = buildInventory(o.runPath);
  if (in.runs.runs.empty()) {
    std::cerr << "error: " << o.runPath.string() << ": no C-arm run found\n";
    return std::nullopt;
  }
  return in;
}

// With no plan the frame's level is unknown: the search runs the CT's whole
// head-foot length.
RegistrationOptions searchFor(const Volume& ct, const std::vector<OverlayTrajectory>& plan) {
  RegistrationOptions o;
  if (plan.empty()) o.searchAlongSpineMm = 0.5 * double(ct.size[2]) * ct.spacingMm.z + 20;
  return o;
}

// The needles found on a frame as a line of text: each with the planned
// path it follows and its tip's distance to that target, in mm in the
// image plane at the target's depth.
std::string needlesToPlanText(const std::vector<NeedleToPlan>& found,
                              const std::vector<OverlayTrajectory>& plan) {
  if (found.empty()) return "none found";
  std::string s;
  for (const NeedleToPlan& n : found) {
    if (!s.empty()) s += "; ";
    if (n.trajectory < 0) {
      s += "one not on a planned path (tip at column " + fixedDecimals(n.needle.tipPx[0], 0) +
           ", row " + fixedDecimals(n.needle.tipPx[1], 0) + ")";
      continue;
    }
    s += plan[std::size_t(n.trajectory)].name + ": tip " + fixedDecimals(n.tipToTargetMm, 1) +
         " mm from the target, " + fixedDecimals(n.tipOffPathMm, 1) +
         " mm off the path (in the image plane)";
  }
  return s;
}

json needlesJson(const std::vector<NeedleToPlan>& found, const std::vector<OverlayTrajectory>& plan,
                 const IntensifierDistortion& d) {
  json out = json::array();
  for (const NeedleToPlan& n : found) {
    const auto tip = d.distort(n.needle.tipPx[0], n.needle.tipPx[1]),
               end = d.distort(n.needle.shaftEndPx[0], n.needle.shaftEndPx[1]);
    out.push_back({{"tip_px", {tip[0], tip[1]}},
                   {"shaft_end_px", {end[0], end[1]}},
                   {"contrast", n.needle.contrast},
                   {"trajectory",
                    n.trajectory < 0 ? json(nullptr) : json(plan[std::size_t(n.trajectory)].name)},
                   {"tip_to_target_mm", n.trajectory < 0 ? json(nullptr) : json(n.tipToTargetMm)},
                   {"tip_off_path_mm", n.trajectory < 0 ? json(nullptr) : json(n.tipOffPathMm)}});
  }
  return out;
}

// "X,Y,Z=COLUMN,ROW" -> a landmark pair; throws naming the text.
LandmarkPair parseLandmark(const std::string& text) {
  LandmarkPair l;
  char eq = 0, c1 = 0, c2 = 0, c3 = 0;
  std::istringstream in(text);
  in >> l.ctLps.x >> c1 >> l.ctLps.y >> c2 >> l.ctLps.z >> eq >> l.framePx[0] >> c3 >> l.framePx[1];
  if (!in || c1 != ',' || c2 != ',' || eq != '=' || c3 != ',' || in.rdbuf()->in_avail() != 0)
    throw std::runtime_error("--landmark '" + text + "': expected X,Y,Z=COLUMN,ROW");
  return l;
}

// When frame f of the run was taken (seconds since 1970): its own
// acquisition date-time, else the run's plus the frame's offset; empty when
// the run states no time.
std::optional<double> frameTimeSeconds(const XRayRun& run, std::size_t f) {
  const XRayFrameInfo& frame = run.frames[f];
  if (!frame.acquisitionDateTime.empty()) return dicomDateTimeSeconds(frame.acquisitionDateTime);
  const auto start = dicomDateTimeSeconds(run.acquisitionDateTime);
  if (!start) return std::nullopt;
  if (frame.timeFromStartMs) return *start + *frame.timeFromStartMs / 1000;
  return *start + (run.frameTimeMs ? double(f) * *run.frameTimeMs / 1000 : 0.0);
}

// Each needle's placement as `fluoroplan dose --needle-phase` takes it:
// whole seconds, the end past the last frame's second (phases are
// start <= t < end).
json placementsJson(const std::vector<NeedlePlacement>& placements,
                    const std::vector<OverlayTrajectory>& plan) {
  json out = json::array();
  for (const NeedlePlacement& p : placements) {
    const double start = std::floor(p.startSeconds), end = std::floor(p.endSeconds) + 1;
    out.push_back({{"needle", plan[std::size_t(p.trajectory)].name},
                   {"start", dicomDateTime(start)},
                   {"end", dicomDateTime(end)},
                   {"frames", p.frames},
                   {"closest_tip_to_target_mm", p.closestTipToTargetMm}});
  }
  return out;
}

// Each planned level's own pose on a frame, for overlay.json.
json levelsJson(const std::map<std::string, RegistrationResult>& levels) {
  json out = json::array();
  for (const auto& [level, r] : levels) {
    const auto P = r.geometry.projectionMatrix();
    out.push_back({{"level", level},
                   {"accepted", r.accepted},
                   {"reason", r.reason},
                   {"gradient_correlation", r.correlation},
                   {"in_plane_error_mm", r.inPlaneErrorMm},
                   {"along_beam_error_mm", r.alongBeamErrorMm},
                   {"projection_matrix",
                    r.accepted ? json(std::vector<double>(P.begin(), P.end())) : json(nullptr)}});
  }
  return out;
}

} // namespace

// Every vertebra of the segmentation (--spine), as bone points (every
// second voxel: an outline drawn in 2-pixel cells, a level window 2 mm
// wider) and its body's centre.
struct VertebraPoints {
  std::string level;
  std::vector<Vec3> boneLps;
  Vec3 bodyLps;
};
std::vector<VertebraPoints> vertebraPoints(const SpineModel& spine) {
  std::vector<VertebraPoints> out;
  std::map<int, std::size_t> byLabel;
  for (const auto& v : spine.vertebrae) {
    byLabel[v.label] = out.size();
    out.push_back({v.level, {}, v.bodyCentroid.lps});
  }
  const Volume& L = spine.labels;
  for (std::size_t k = 0; k < L.size[2]; k += 2)
    for (std::size_t j = 0; j < L.size[1]; j += 2)
      for (std::size_t i = 0; i < L.size[0]; i += 2)
        if (const auto it = byLabel.find(L.at(i, j, k)); it != byLabel.end())
          out[it->second].boneLps.push_back(L.indexToLps({double(i), double(j), double(k)}));
  return out;
}

// Per level (--spine): each planned level's bone, registered alone.
std::optional<LevelTracker> levelTrackerFor(const OverlayCliOptions& o,
                                            const std::vector<VertebraPoints>& vertebrae,
                                            const std::vector<OverlayTrajectory>& plan,
                                            const Registration2D3D& reg, json& warnings) {
  if (o.spineDir.empty()) return std::nullopt;
  std::map<std::string, std::vector<Vec3>> bone;
  for (const auto& t : plan)
    for (const auto& v : vertebrae)
      if (v.level == t.boneLevel) bone[v.level] = v.boneLps;
  if (bone.empty()) {
    const std::string w = "WARNING: " + o.spineDir.string() +
                          ": none of the plan's levels is in this segmentation; every path is "
                          "drawn with the frame's one pose";
    std::cout << w << "\n";
    warnings.push_back(w);
  }
  return std::optional<LevelTracker>(std::in_place, reg, std::move(bone));
}

// The segmentation (--spine): its vertebrae's points, and their names for
// the wrong-level guard.
struct OverlaySpine {
  std::vector<VertebraPoints> vertebrae;
  std::optional<CtLevelNames> names;
};
// Without a segmentation, the plan's vertebrae give the names (no outlines).
OverlaySpine overlaySpineFor(const OverlayCliOptions& o, const Volume& ct,
                             const std::optional<CtLevelNames>& planNames) {
  if (o.spineDir.empty()) return {{}, planNames};
  const SpineModel spine = readSpineFolder(o.spineDir, ct);
  CtLevelNames names;
  for (const auto& v : spine.vertebrae)
    names.vertebrae.push_back({v.level, v.bodyCentroid.lps, v.ribs});
  names.namingCertain = spine.namingCertain;
  names.evidence = spine.namingEvidence;
  return {vertebraPoints(spine), names};
}

// The CT's levels the guard found in the field, space-separated.
std::string levelsInView(const LevelCheck& c) {
  std::string out;
  for (const auto& l : c.levelsInView)
    out += (out.empty() ? "" : " ") + l;
  return out;
}

// The disc spaces counted on the frame, for overlay.json: the CT's disc
// places at the pose (pixels as the projection matrix gives them) and
// whether each shows, on the frame as stored (distortion applied).
json frameCountJson(const FrameLevelCount& f, const IntensifierDistortion& d) {
  json places = json::array();
  for (const DiscPlace& p : f.places)
    if (p.inField)
      places.push_back({{"disc", p.name.empty() ? json(nullptr) : json(p.name)},
                        {"pixel", d.distort(p.px[0], p.px[1])},
                        {"contrast_to_typical_disc", p.relativeContrast},
                        {"seen", p.seen}});
  return {{"counted", f.counted},
          {"discs_seen", f.discsSeen},
          {"places_in_field", places},
          {"favoured_shift_levels", f.favouredShift},
          {"caudal_shift_ruled_out", f.ruledOut(1)},
          {"summary", f.summary}};
}

// The wrong-level guard's verdict, for overlay.json.
json levelCheckJson(const std::optional<LevelCheck>& c, const IntensifierDistortion& d) {
  if (!c) return nullptr;
  return {{"confirmed", c->confirmed},
          {"reason", c->reason},
          {"levels_in_view", c->levelsInView},
          {"sacrum_in_view", c->sacrumInView},
          {"lowest_ribs_in_view",
           c->lowestRibsInView.empty() ? json(nullptr) : json(c->lowestRibsInView)},
          {"count_warning", c->countWarning.empty() ? json(nullptr) : json(c->countWarning)},
          {"frame_count", frameCountJson(c->frameCount, d)}};
}

int replayCommand(const OverlayCliOptions& o) {
  const auto loaded = loadInputs(o);
  if (!loaded) return kInputProblem;
  const auto& [ct, patient, plan, planNames, runs] = *loaded;
  const Registration2D3D reg(ct);
  IntensifierDistortion d;
  d.k = o.pincushionK;
  d.fieldRadiusPx = o.fieldRadiusPx;
  RunTracker tracker(reg, d, startGuess(ct, plan), searchFor(ct, plan), plan);
  std::vector<LandmarkPair> marks;
  for (const auto& text : o.landmarks)
    marks.push_back(parseLandmark(text));
  tracker.useLandmarks(marks);
  json warnings = json::array();
  const auto [vertebrae, names] = overlaySpineFor(o, ct, planNames);
  std::optional<LevelTracker> levelTracker = levelTrackerFor(o, vertebrae, plan, reg, warnings);
  if (names) tracker.useLevelNames(*names);
  int rc = kOk;
  for (const XRayRunEntry& entry : runs.runs) {
    const XRayRun& run = entry.run;
    if (auto w = patientMismatch(patient, run.header.patient, run.header.path))
      std::cout << *w << "\n";
    std::cout << "Run " << run.header.path << " (" << run.frames.size() << " frames)\n";
    const DicomFile file = DicomFile::open(run.header.path);
    for (std::size_t f = 0; f < run.frames.size(); ++f) {
      const TrackedFrame t = tracker.next(file, run, f);
      const RegistrationResult& r = t.registration;
      const CArmGeometry& g = r.geometry;
      std::cout << "  frame " << f + 1;
      if (run.frames[f].timeFromStartMs)
        std::cout << " (" << fixedDecimals(*run.frames[f].timeFromStartMs / 1000.0, 2) << " s)";
      std::cout << ": C-arm " << fixedDecimals(g.primaryDeg, 1) << " / "
                << fixedDecimals(g.secondaryDeg, 1) << " deg, image turned "
                << fixedDecimals(g.inPlaneDeg, 1) << " deg, isocentre ("
                << fixedDecimals(g.isocentreLps.x, 1) << ", " << fixedDecimals(g.isocentreLps.y, 1)
                << ", " << fixedDecimals(g.isocentreLps.z, 1) << ") mm LPS; ";
      if (r.accepted)
        std::cout << "registered, +-" << fixedDecimals(r.inPlaneErrorMm, 1) << " mm in plane, +-"
                  << fixedDecimals(r.alongBeamErrorMm, 1) << " mm along the beam";
      else
        std::cout << "NOT registered: " << r.reason;
      std::cout << " [" << t.how << "]";
      if (t.levelCheck)
        std::cout << "; levels in view: " << levelsInView(*t.levelCheck) << " ("
                  << t.levelCheck->reason << ")";
      // Level by level (--spine): each planned level's own pose.
      const std::map<std::string, RegistrationResult> levelPoses =
          levelTracker ? levelTracker->next(t, f > 0) : std::map<std::string, RegistrationResult>{};
      for (const auto& [level, lr] : levelPoses)
        std::cout << "; " << level << " alone: "
                  << (lr.accepted ? "+-" + fixedDecimals(lr.inPlaneErrorMm, 1) + " mm in plane"
                                  : "not registered: " + lr.reason);
      if (r.accepted) std::cout << "; needles: " << needlesToPlanText(t.needles, plan);
      std::cout << "\n";
      bool anyLevel = false;
      for (const auto& [level, lr] : levelPoses)
        anyLevel = anyLevel || lr.accepted;
      if (!r.accepted && !anyLevel) rc = kInputProblem;
    }
  }
  return rc;
}

int overlayCommand(const OverlayCliOptions& o) {
  const auto loaded = loadInputs(o);
  if (!loaded) return kInputProblem;
  const auto& [ct, patient, plan, planNames, runs] = *loaded;
  fs::create_directories(o.outDir);
  json warnings = json::array();
  for (const XRayRunEntry& entry : runs.runs)
    if (auto w = patientMismatch(patient, entry.run.header.patient, entry.run.header.path)) {
      std::cout << *w << "\n";
      warnings.push_back(*w);
    }
  const Registration2D3D reg(ct);
  const auto [vertebrae, names] = overlaySpineFor(o, ct, planNames);
  std::optional<LevelTracker> levelTracker = levelTrackerFor(o, vertebrae, plan, reg, warnings);
  IntensifierDistortion distortion0;
  distortion0.k = o.pincushionK;
  distortion0.fieldRadiusPx = o.fieldRadiusPx;
  const Vec3 guess = startGuess(ct, plan);
  json frames = json::array();
  std::vector<Rgb8Image> thumbs;
  int accepted = 0, total = 0;
  RunTracker tracker(reg, distortion0, guess, searchFor(ct, plan), plan);
  if (names) tracker.useLevelNames(*names);
  std::vector<LandmarkPair> marks;
  for (const auto& text : o.landmarks)
    marks.push_back(parseLandmark(text));
  tracker.useLandmarks(marks);
  std::vector<FrameNeedles> timedNeedles;
  struct View {
    std::string file;
    std::size_t frame;
    RegistrationImage image;
    CArmGeometry dicom;
    RegistrationResult result;
    CArmPositioner positioner; // the frame's, for its table position
  };
  std::vector<View> views;
  const std::string scSeriesUid = newUid(); // this session's overlays: one series
  for (const XRayRunEntry& entry : runs.runs) {
    const XRayRun& run = entry.run;
    const DicomFile file = DicomFile::open(run.header.path);
    for (std::size_t f = 0; f < run.frames.size(); ++f) {
      ++total;
      const TrackedFrame tf = tracker.next(file, run, f);
      const std::map<std::string, RegistrationResult> levelPoses =
          levelTracker ? levelTracker->next(tf, f > 0)
                       : std::map<std::string, RegistrationResult>{};
      // The needles against the plan, at the frame's pose: per level they
      // cannot yet be told apart reliably (issue note).
      const std::vector<NeedleToPlan>& needles = tf.needles;
      // Each run's first registered frame: a view for the two-view pose.
      if (tf.registration.accepted && (views.empty() || views.back().file != run.header.path))
        views.push_back({run.header.path, f, tf.image,
                         frameGeometry(run, f, tf.registration.geometry.isocentreLps).geometry,
                         tf.registration, framePositioner(run, f)});
      if (const auto when = frameTimeSeconds(run, f)) timedNeedles.push_back({*when, needles});
      const RegistrationResult& r = tf.registration;
      const std::string& how = tf.how;
      const auto& v = tf.samples;
      const struct { unsigned columns, rows; } s{tf.columns, tf.rows};
      accepted += r.accepted;
      IntensifierDistortion distortion = distortion0;
      distortion.centreColumn = (s.columns - 1) / 2.0;
      distortion.centreRow = (s.rows - 1) / 2.0;

      Rgb8Image pic = toRgb(framePicture(v, s.columns, s.rows));
      json trajectories = json::array(), vertebraeJson = json::array();
      const int scale = s.columns >= 400 ? 2 : 1;
      // A pose to draw with: the frame's, else (per level, when the frame
      // as a whole did not register) the first level's that did.
      const RegistrationResult* drawn = r.accepted ? &r : nullptr;
      for (const auto& [level, lr] : levelPoses)
        if (!drawn && lr.accepted) drawn = &lr;
      // What is drawn on a level (a path's, a vertebra's) uses that level's
      // own pose where it registered, else the frame's; neither: null.
      auto poseFor = [&](const std::string& level) -> const CArmGeometry* {
        const auto lv = levelPoses.find(level);
        if (lv != levelPoses.end() && lv->second.accepted) return &lv->second.geometry;
        return r.accepted ? &r.geometry : nullptr;
      };
      auto ownPose = [&](const std::string& level) {
        const auto lv = levelPoses.find(level);
        return lv != levelPoses.end() && lv->second.accepted;
      };
      if (drawn) {
        for (const auto& t : plan) {
          const CArmGeometry* pose = poseFor(t.boneLevel);
          const bool ownLevel = ownPose(t.boneLevel);
          if (!pose) {
            trajectories.push_back({{"name", t.name},
                                    {"pose", nullptr},
                                    {"not_drawn", "neither its level nor the frame registered"}});
            continue;
          }
          const ProjectedTrajectory p = projectTrajectory(*pose, distortion, t);
          line(pic, p.entryPx[0], p.entryPx[1], p.targetPx[0], p.targetPx[1], {255, 220, 0});
          for (int d = -1; d <= 1; ++d)
            line(pic, p.activeTipStartPx[0] + d, p.activeTipStartPx[1], p.targetPx[0] + d,
                 p.targetPx[1], {0, 230, 255});
          disc(pic, p.targetPx[0], p.targetPx[1], 3, {0, 255, 0});
          drawText(pic, int(p.targetPx[0]) + 6, int(p.targetPx[1]) - 4,
                   p.name + (levelTracker && !ownLevel ? " (FRAME POSE)" : ""), {0, 255, 0}, 1);
          trajectories.push_back(
              {{"name", p.name},
               {"pose", ownLevel ? "level " + t.boneLevel : std::string("frame")},
               {"entry_px", {p.entryPx[0], p.entryPx[1]}},
               {"target_px", {p.targetPx[0], p.targetPx[1]}},
               {"active_tip_start_px", {p.activeTipStartPx[0], p.activeTipStartPx[1]}},
               {"target_in_frame", p.targetInFrame}});
        }
        // The segmentation's vertebrae, outlined with their names, each by
        // its own level's pose where that registered, else the frame's: a
        // doctor counting levels on the screen sees the CT's count.
        for (const VertebraPoints& vp : vertebrae) {
          const CArmGeometry* pose = poseFor(vp.level);
          if (!pose) continue;
          const VertebraInFrame vf =
              projectVertebra(*pose, distortion, vp.level, vp.boneLps, vp.bodyLps, 2 * scale);
          if (vf.outlinePx.empty()) continue;
          for (const auto& q : vf.outlinePx)
            disc(pic, q[0], q[1], 0, {90, 150, 255});
          if (vf.bodyInFrame)
            drawText(pic, int(vf.bodyPx[0]) - 6 * scale * int(vp.level.size()) / 2,
                     int(vf.bodyPx[1]) - 4 * scale, vp.level, {90, 150, 255}, scale);
          vertebraeJson.push_back(
              {{"level", vp.level},
               {"pose", ownPose(vp.level) ? "level " + vp.level : std::string("frame")},
               {"body_px", vf.bodyInFrame ? json({vf.bodyPx[0], vf.bodyPx[1]}) : json(nullptr)},
               {"outline_cells", vf.outlinePx.size()}});
        }
        // The needles found, in magenta, each with its tip's distance to its target.
        for (const NeedleToPlan& n : needles) {
          const auto tip = distortion.distort(n.needle.tipPx[0], n.needle.tipPx[1]),
                     end = distortion.distort(n.needle.shaftEndPx[0], n.needle.shaftEndPx[1]);
          line(pic, end[0], end[1], tip[0], tip[1], {255, 0, 255});
          disc(pic, tip[0], tip[1], 2, {255, 0, 255});
          if (n.trajectory >= 0)
            drawText(pic, int(tip[0]) + 6, int(tip[1]) + 6,
                     "TIP " + fixedDecimals(n.tipToTargetMm, 1) + " MM", {255, 0, 255}, 1);
        }
        // The patient's left, and a 10 mm bar at the isocentre's depth.
        const CArmGeometry& dg = drawn->geometry;
        const auto left = patientLeftInImage(dg);
        if (left[0] != 0 || left[1] != 0) {
          const double c = s.columns / 2.0 + left[0] * s.columns * 0.42,
                       rr = s.rows / 2.0 + left[1] * s.rows * 0.42;
          drawText(pic, int(c) - 5 * scale, int(rr) - 7 * scale, "L", {255, 255, 255}, 2 * scale);
        } else if (const std::string side = lateralSideMarker(dg); !side.empty()) {
          // Below the per-level line when there is one.
          drawText(pic, 4, 4 + 10 * scale + (levelPoses.empty() ? 0 : 10), side, {255, 255, 255},
                   scale);
        }
        const double pxPerMm = dg.sourceToDetectorMm / dg.sourceToIsocentreMm / dg.pixelMm;
        const int y = int(s.rows) - 30 * scale,
                  x0 = int(s.columns) - 12 - std::max(int(10 * pxPerMm), 6 * 5 * scale);
        for (int d = 0; d < 3; ++d)
          line(pic, x0, y + d, x0 + 10 * pxPerMm, y + d, {255, 255, 255});
        drawText(pic, x0, y + 6, "10 MM", {255, 255, 255}, scale);
        if (r.accepted)
          drawText(pic, 4, 4,
                   "REG ERR " + fixedDecimals(r.inPlaneErrorMm, 1) + " MM IN PLANE, " +
                       fixedDecimals(r.alongBeamErrorMm, 1) + " MM DEPTH",
                   {0, 255, 0}, scale);
        else
          drawText(pic, 4, 4, "NO POSE FOR THE WHOLE FRAME", {255, 200, 0}, scale);
        if (!levelPoses.empty()) {
          std::string text = "EACH PATH BY ITS LEVEL:";
          for (const auto& [level, lr] : levelPoses)
            text += " " + level +
                    (lr.accepted ? " " + fixedDecimals(lr.inPlaneErrorMm, 1) + " MM,"
                                 : std::string(r.accepted ? " NOT REG. (FRAME POSE),"
                                                          : " NOT REG. (NOT DRAWN),"));
          text.pop_back();
          drawText(pic, 4, 4 + 10 * scale, text, {0, 255, 0}, 1);
        }
        // The wrong-level guard, bottom left: the CT's levels in the field
        // and whether the pose's level is confirmed; an unusual count (an
        // L6, a T13, uncertain names) in amber above it, in a few words
        // (overlay.json has it in full).
        if (const auto& lc = tf.levelCheck) {
          // The disc spaces the guard counted on the frame, ticked beside
          // the spine (pale green), and how many.
          for (const DiscTick& t : discTicks(lc->frameCount, distortion))
            for (int w = -1; w <= 1; ++w)
              line(pic, t.fromPx[0], t.fromPx[1] + w, t.toPx[0], t.toPx[1] + w, {150, 255, 150});
          const std::string counted =
              lc->frameCount.counted
                  ? " - " + std::to_string(lc->frameCount.discsSeen) + " DISC SPACE" +
                        (lc->frameCount.discsSeen == 1 ? "" : "S") + " COUNTED"
                  : "";
          drawText(pic, 4, int(s.rows) - 12,
                   "LEVELS IN VIEW: " + levelsInView(*lc) +
                       (lc->confirmed ? " - LEVEL CONFIRMED" : " - LEVEL NOT CONFIRMED") + counted,
                   {0, 255, 0}, 1);
          if (const std::string badge = names ? levelCountBadge(*names) : ""; !badge.empty())
            drawText(pic, 4, int(s.rows) - 24, badge, {255, 200, 0}, 1);
        }
      } else {
        drawText(pic, 4, 4, "NOT REGISTERED: NO PLAN DRAWN", {255, 80, 80}, scale);
        drawText(pic, 4, 4 + 10 * scale,
                 r.reason.substr(0, std::size_t(s.columns / (6 * scale)) - 1), {255, 80, 80}, 1);
      }
      const std::string base =
          fs::path(run.header.path).stem().string() + "_frame" + std::to_string(f + 1);
      writePng(pic, o.outDir / (base + ".png"));
      // The same picture for the PACS, beside the frame it was drawn on.
      SecondaryCaptureSpec sc;
      sc.source = &run.header;
      sc.sourceFrame = uint32_t(f + 1);
      sc.columns = pic.width;
      sc.rows = pic.height;
      sc.rgb = pic.rgb;
      sc.seriesInstanceUid = scSeriesUid;
      sc.instanceNumber = total;
      sc.derivationDescription =
          r.accepted
              ? "FluoroPlan plan overlay on frame " + std::to_string(f + 1) +
                    "; registration error estimate " + fixedDecimals(r.inPlaneErrorMm, 1) +
                    " mm in plane, " + fixedDecimals(r.alongBeamErrorMm, 1) + " mm along the beam"
              : "FluoroPlan: frame " + std::to_string(f + 1) +
                    " not registered, no plan drawn: " + r.reason;
      std::string scFile = base + ".dcm";
      try {
        writeSecondaryCapture(sc, o.outDir / scFile);
      } catch (const std::exception& e) {
        // A run without the UIDs to refer to still gets its PNG.
        std::cout << "no Secondary Capture for " << base << ": " << e.what() << "\n";
        scFile.clear();
      }
      // A thumbnail for the contact sheet (every other pixel).
      Rgb8Image th{pic.width / 2, pic.height / 2, {}};
      th.rgb.resize(std::size_t(th.width) * th.height * 3);
      for (uint32_t y2 = 0; y2 < th.height; ++y2)
        for (uint32_t x2 = 0; x2 < th.width; ++x2)
          for (int ch = 0; ch < 3; ++ch)
            th.rgb[(std::size_t(y2) * th.width + x2) * 3 + ch] =
                pic.rgb[(std::size_t(2 * y2) * pic.width + 2 * x2) * 3 + ch];
      thumbs.push_back(std::move(th));
      const auto P = r.geometry.projectionMatrix();
      frames.push_back(
          {{"file", run.header.path},
           {"frame", f + 1},
           {"png", base + ".png"},
           {"secondary_capture", scFile.empty() ? json(nullptr) : json(scFile)},
           {"accepted", r.accepted},
           {"reason", r.reason},
           {"how", how},
           {"gradient_correlation", r.correlation},
           {"in_plane_error_mm", r.inPlaneErrorMm},
           {"along_beam_error_mm", r.alongBeamErrorMm},
           {"defaults_used", tf.defaultsUsed},
           {"projection_matrix",
            r.accepted ? json(std::vector<double>(P.begin(), P.end())) : json(nullptr)},
           {"isocentre_lps_mm",
            {r.geometry.isocentreLps.x, r.geometry.isocentreLps.y, r.geometry.isocentreLps.z}},
           {"trajectories", trajectories},
           {"levels", levelsJson(levelPoses)},
           {"level_check", levelCheckJson(tf.levelCheck, distortion)},
           {"vertebrae", vertebraeJson},
           {"needles", needlesJson(needles, plan, distortion)}});
      std::cout << base << ": " << (r.accepted ? "registered" : "NOT registered") << " (" << how
                << "); " << r.reason;
      if (const auto& lc = tf.levelCheck)
        std::cout << "; levels in view: " << levelsInView(*lc)
                  << (lc->confirmed ? " (level confirmed)" : " (level NOT confirmed)");
      if (r.accepted) std::cout << "; needles: " << needlesToPlanText(needles, plan);
      for (const auto& [level, lr] : levelPoses)
        std::cout << "; " << level << " alone: "
                  << (lr.accepted ? "+-" + fixedDecimals(lr.inPlaneErrorMm, 1) + " mm in plane"
                                  : "not registered: " + lr.reason);
      std::cout << "\n";
    }
  }
  // Contact sheet: four thumbnails a row.
  if (!thumbs.empty()) {
    const uint32_t tw = thumbs[0].width, th = thumbs[0].height, cols = 4;
    const uint32_t rows = uint32_t((thumbs.size() + cols - 1) / cols);
    Rgb8Image sheet{tw * cols, th * rows,
                    std::vector<uint8_t>(std::size_t(tw) * cols * th * rows * 3)};
    for (std::size_t i = 0; i < thumbs.size(); ++i) {
      const uint32_t ox = uint32_t(i % cols) * tw, oy = uint32_t(i / cols) * th;
      for (uint32_t y = 0; y < std::min(th, thumbs[i].height); ++y)
        for (uint32_t x = 0; x < std::min(tw, thumbs[i].width); ++x)
          for (int ch = 0; ch < 3; ++ch)
            sheet.rgb[(std::size_t(oy + y) * sheet.width + ox + x) * 3 + ch] =
                thumbs[i].rgb[(std::size_t(y) * thumbs[i].width + x) * 3 + ch];
    }
    writePng(sheet, o.outDir / "contact_sheet.png");
  }
  // Two views of the patient (the runs' first registered frames whose beams
  // lie farthest apart) registered as one pose: the depth one view misses.
  // Assumes the patient and table stayed still between the runs; refused,
  // with the reason, when the views disagree.
  auto twoViews = [&]() -> json {
    if (views.size() < 2) return nullptr;
    std::size_t a = 0, b = 1;
    double widest = -1;
    for (std::size_t i = 0; i < views.size(); ++i)
      for (std::size_t k = i + 1; k < views.size(); ++k) {
        const double angle = angleDegrees(views[i].result.geometry.detectorDirection(),
                                          views[k].result.geometry.detectorDirection());
        const double apart = std::min(angle, 180 - angle);
        if (apart > widest) {
          widest = apart;
          a = i;
          b = k;
        }
      }
    const View &va = views[a], &vb = views[b];
    // One pose holds both views only where the table stayed: a recorded
    // move refuses the pair (the table's axes are not mapped to the
    // patient's here), and a table whose position neither records is
    // assumed still, as the reason says.
    bool tableRecorded = false;
    const std::vector<std::string> moved =
        tableMovesBetween(va.positioner, vb.positioner, 1, &tableRecorded);
    TwoViewResult two;
    if (!moved.empty()) {
      two.a = va.result;
      two.b = vb.result;
      two.beamAngleDeg = widest;
      two.reason = "the table moved between the views (";
      for (std::size_t i = 0; i < moved.size(); ++i)
        two.reason += (i ? ", " : "") + moved[i];
      two.reason += "): one pose of the patient cannot hold both";
    } else {
      two = reg.runTwoViews(va.image, va.dicom, va.result, vb.image, vb.dicom, vb.result);
      if (!tableRecorded)
        two.reason += " (the table's position is not recorded in both: assumed still)";
    }
    std::cout << "Two views (" << fs::path(va.file).filename().string() << " frame " << va.frame + 1
              << ", " << fs::path(vb.file).filename().string() << " frame " << vb.frame + 1
              << "): " << (two.accepted ? "one pose" : "NOT combined") << ": " << two.reason
              << "\n";
    json both = json::array();
    for (const auto& [v, file, frame] :
         {std::tuple{&two.a, va.file, va.frame}, std::tuple{&two.b, vb.file, vb.frame}}) {
      const auto P = v->geometry.projectionMatrix();
      both.push_back(
          {{"file", file},
           {"frame", frame + 1},
           {"gradient_correlation", v->correlation},
           {"in_plane_error_mm", v->inPlaneErrorMm},
           {"along_beam_error_mm", v->alongBeamErrorMm},
           {"projection_matrix",
            two.accepted ? json(std::vector<double>(P.begin(), P.end())) : json(nullptr)}});
    }
    const Vec3 iso = two.a.geometry.isocentreLps;
    return {{"accepted", two.accepted},
            {"reason", two.reason},
            {"beam_angle_deg", two.beamAngleDeg},
            {"isocentre_lps_mm", {iso.x, iso.y, iso.z}},
            {"views", both}};
  };
  const json out = {{"coordinates",
                     "projection_matrix: LPS mm to ideal (distortion-corrected) pixels "
                     "(column, row), (0,0) the centre of the top-left pixel, row-major 3x4; "
                     "trajectory pixels are on the frame as stored (distortion applied)"},
                    {"intensifier_distortion",
                     {{"k", distortion0.k}, {"field_radius_px", distortion0.fieldRadiusPx}}},
                    {"warnings", warnings},
                    {"frames", frames},
                    {"needle_placements", placementsJson(needlePlacements(timedNeedles), plan)},
                    {"two_views", twoViews()}};
  writeFileAtomically(o.outDir / "overlay.json", out.dump(2));
  for (const auto& p : out["needle_placements"])
    std::cout << "Needle placed: " << p["needle"].get<std::string>() << " from "
              << p["start"].get<std::string>() << " to " << p["end"].get<std::string>() << " ("
              << p["frames"] << " frames; closest tip "
              << fixedDecimals(p["closest_tip_to_target_mm"].get<double>(), 1)
              << " mm to the target); dose per needle: fluoroplan dose ... --needle-phases "
              << (o.outDir / "overlay.json").string() << "\n";
  std::cout << "Registered " << accepted << " of " << total << " frame(s); wrote "
            << (o.outDir / "overlay.json").string() << " and "
            << (o.outDir / "contact_sheet.png").string() << "\n";
  return accepted == total ? kOk : kInputProblem;
}

} // namespace fluoroplan::cli
