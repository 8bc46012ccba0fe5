// `fluoroplan plan CT --procedure facet-rf --joints L4-L5,L5-S1 --side left --out DIR`
// Segments, plans, prints the plan, writes plan.json, 3D Slicer markups and
// pictures (an axial slice through each target, and the slice that holds
// the whole needle).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>

#include "imaging/core/atomic_file.h"
#include "imaging/core/reslice.h"
#include "imaging/io/image_2d.h"
#include "imaging/mesh/scene_render.h"
#include "imaging/projection/drr_renderer.h"
#include "imaging/segmentation/spine_segmenter.h"
#include "planning/plan.h"
#include "ui/cli/commands.h"
#include "ui/cli/json_values.h"
#include "ui/cli/raster.h"
#include "ui/cli/spine_json.h"

namespace fluoroplan::cli {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {
json viewJson(const NeedleView& v) {
  return {{"primary_angle_deg", v.angles.primaryDeg},
          {"secondary_angle_deg", v.angles.secondaryDeg},
          {"detector_direction_lps", vec(v.detectorDirectionLps)},
          {"reachable", v.reachable},
          {"why_not", v.whyNot},
          {"in_words", v.words}};
}

json trajectoryJson(const Trajectory& t, bool rf) {
  json j = {{"for", t.forWhat},
            {"side", t.side},
            {"bone", t.bone},
            {"bone_level", t.boneLevel},
            {"entry", vec(t.entryLps)},
            {"target", vec(t.targetLps)},
            {"depth_mm", t.depthMm},
            {"length_used_mm", t.check.lengthMm},
            {"caudal_angle_deg", t.caudalAngleDeg},
            {"lateral_angle_deg", t.lateralAngleDeg},
            {"angles_to_patient_axes_deg",
             {{"left_right", t.anglesToPatientAxesDeg.x},
              {"anterior_posterior", t.anglesToPatientAxesDeg.y},
              {"head_feet", t.anglesToPatientAxesDeg.z}}},
            {"skin_mark", t.skinMark},
            {"down_the_needle_view", viewJson(t.downTheNeedle)},
            {"progress_view", viewJson(t.progress)},
            {"clearances_mm",
             {{"spinal_canal", t.check.canalClearanceMm},
              {"neural_foramen_and_root", t.check.foramenClearanceMm},
              {"bone_before_target", t.check.boneClearanceMm},
              {"labelled_danger_structures", t.check.dangerClearanceMm}}},
            {"safe", t.check.safe},
            {"violations", t.check.violations},
            {"reasons", t.reasons},
            {"score", t.score}};
  if (rf) {
    j["active_tip_on_nerve_mm"] = t.activeTipOnNerveMm;
    j["angle_to_nerve_deg"] = t.angleToNerveDeg;
  }
  // Clearances beyond the distance maps' reach are "far": write null.
  for (auto& [k, v] : j["clearances_mm"].items())
    if (v.get<double>() > 1e8) v = nullptr;
  return j;
}

// A 3D Slicer markups file: one line per trajectory (skin entry to target),
// in LPS (Slicer's markups schema 1.0).
json slicerMarkups(const Plan& plan) {
  json markups = json::array();
  for (const auto& n : plan.needles) {
    if (!n.best) continue;
    const Trajectory& t = *n.best;
    const std::string name = n.nerve + " " + n.side;
    markups.push_back(
        {{"type", "Line"},
         {"coordinateSystem", "LPS"},
         {"coordinateUnits", "mm"},
         {"name", name},
         {"controlPoints",
          json::array(
              {{{"id", "1"}, {"label", name + " entry"}, {"position", vec(t.entryLps)}},
               {{"id", "2"}, {"label", name + " target"}, {"position", vec(t.targetLps)}}})},
         {"measurements",
          json::array(
              {{{"name", "length"}, {"enabled", true}, {"units", "mm"}, {"value", t.depthMm}}})}});
  }
  return {
      {"@schema",
       "https://raw.githubusercontent.com/slicer/slicer/master/Modules/Loadable/Markups/Resources/"
       "Schema/markups-schema-v1.0.0.json#"},
      {"markups", markups}};
}

// A plane through `centre` spanned by unit `u` (columns) and `v` (rows),
// width x height mm, sampled trilinearly at `px` mm.
struct Slice {
  Rgb8Image image;
  Vec3 centre, u, v;
  double px;
  std::pair<double, double> pixelOf(Vec3 p) const {
    const Vec3 d = p - centre;
    return {dot(d, u) / px + image.width / 2.0, dot(d, v) / px + image.height / 2.0};
  }
  // Distance of p from the plane, mm.
  double offPlane(Vec3 p) const { return std::abs(dot(p - centre, normalized(cross(u, v)))); }
};

Slice obliqueSlice(const Volume& ct, Vec3 centre, Vec3 u, Vec3 v, double widthMm, double heightMm,
                   double px) {
  Slice s{{}, centre, normalized(u), normalized(v), px};
  const auto w = uint32_t(widthMm / px), h = uint32_t(heightMm / px);
  std::vector<int32_t> values(std::size_t(w) * h);
  for (uint32_t r = 0; r < h; ++r)
    for (uint32_t c = 0; c < w; ++c) {
      const Vec3 p =
          centre + ((double(c) - w / 2.0) * px) * s.u + ((double(r) - h / 2.0) * px) * s.v;
      values[std::size_t(r) * w + c] =
          int32_t(std::lround(sampleTrilinear(ct, ct.lpsToIndex(p), -1024)));
    }
  s.image = toRgb(windowToGray8(values, w, h, 300, 1500));
  return s;
}

// The needle, its target, its active tip and the nerve, drawn on a slice;
// parts off the slice by more than 3 mm are drawn faint. A 10 mm scale bar,
// labelled, at the bottom left.
void drawNeedle(Slice& s, const Trajectory& t, const std::optional<NerveCourse>& nerve,
                double activeTipMm) {
  const std::array<uint8_t, 3> red{255, 40, 40}, faint{140, 60, 60}, green{40, 255, 80},
      yellow{255, 230, 0}, cyan{0, 220, 255}, white{255, 255, 255};
  const double len = norm(t.entryLps - t.targetLps);
  for (double d = 0; d <= len; d += 0.5 * s.px) {
    const Vec3 p = t.targetLps + (d / len) * (t.entryLps - t.targetLps);
    const auto [c, r] = s.pixelOf(p);
    setPixel(s.image, int(std::lround(c)), int(std::lround(r)),
             s.offPlane(p) < 3 ? (d < activeTipMm ? cyan : red) : faint);
  }
  if (nerve && nerve->inScan) {
    const auto [c0, r0] = s.pixelOf(nerve->cranialLps);
    const auto [c1, r1] = s.pixelOf(nerve->caudalLps);
    line(s.image, c0, r0, c1, r1, yellow);
  }
  const auto [tc, tr] = s.pixelOf(t.targetLps);
  disc(s.image, tc, tr, 2, green);
  const double bar = 10.0 / s.px;
  for (int k = 0; k < 2; ++k)
    line(s.image, 10, s.image.height - 10.0 - k, 10 + bar, s.image.height - 10.0 - k, white);
  drawText(s.image, int(std::lround(14 + bar)), int(s.image.height) - 16, "10 MM", white);
}
} // namespace

int planCommand(const PlanCliOptions& o, const Volume& ct, const ProgressCallback& progress) {
  ProcedureRequest req;
  try {
    req.procedure = parseProcedure(o.procedure);
    req.side = parseSide(o.side);
    if (req.procedure != Procedure::Scs) {
      req.joints = parseJoints(o.joints);
      if (req.joints.empty())
        throw std::invalid_argument("--joints is required for facet procedures");
    } else {
      if (o.tip.empty()) throw std::invalid_argument("--tip is required for SCS");
      req.scsTip = o.tip;
      req.scsEntry = o.entry;
      if (!req.scsEntry.empty()) jointLevels(req.scsEntry);
      defaultScsEntry(req.scsTip);
    }
    if (!o.position.empty() && o.position != "prone" && o.position != "supine")
      throw std::invalid_argument("--position: expected prone or supine, got '" + o.position + "'");
    // Neck treatments are done supine with a lateral approach; the rest
    // prone (DESIGN.md section 3).
    const bool neck = !req.joints.empty() && req.joints.front().front() == 'C';
    req.prone = o.position.empty() ? !neck : o.position == "prone";
    req.needle.lengthMm = std::stod(o.needle); // "100mm" reads as 100
    req.needle.gauge = o.gauge > 0 ? o.gauge : (req.procedure == Procedure::Scs ? 14 : 18);
    req.needle.activeTipMm = o.activeTipMm;
  } catch (const std::invalid_argument& e) {
    std::cerr << "error: " << e.what() << "\n";
    return kUsage;
  }
  const auto t0 = std::chrono::steady_clock::now();
  SpineModel spine;
  try {
    spine = o.spine.empty() ? segmentSpine(ct, {}, progress) : readSpineFolder(o.spine, ct);
  } catch (const NoSpineFound& e) {
    std::cerr << "error: " << o.ctPath.string() << ": " << e.what() << "\n";
    return kInputProblem;
  } catch (const SpineFileError& e) {
    std::cerr << "error: " << e.what() << "\n";
    return kInputProblem;
  }
  if (!o.relabel.empty()) {
    try {
      applyRelabel(spine, o.relabel);
    } catch (const std::exception& e) {
      std::cerr << "error: " << e.what() << "\n";
      return kUsage;
    }
  }
  const auto t1 = std::chrono::steady_clock::now();
  const Plan plan = planProcedure(ct, spine, req, {}, progress);
  const auto t2 = std::chrono::steady_clock::now();
  const double segS = std::chrono::duration<double>(t1 - t0).count(),
               planS = std::chrono::duration<double>(t2 - t1).count();
  const bool rf = req.procedure == Procedure::FacetRf;

  fs::create_directories(o.outDir);
  // Pictures of an earlier plan in this folder would sit beside the new
  // plan as if they were its own (a needle no longer planned): this
  // command's own pictures go first; nothing else in the folder is touched.
  for (const auto& e : fs::directory_iterator(o.outDir)) {
    const std::string name = e.path().filename().string();
    if (e.is_regular_file() && e.path().extension() == ".png" &&
        (name.rfind("needle_", 0) == 0 || name.rfind("plan_3d_", 0) == 0))
      fs::remove(e.path());
  }
  json j;
  j["ct"] = o.ctPath.string();
  j["coordinates"] = "DICOM patient LPS, millimetres; angles in degrees";
  j["procedure"] = procedureName(req.procedure);
  j["joints"] = req.joints;
  j["side"] = o.side;
  j["patient_position"] = req.prone ? "prone" : "supine";
  j["needle"] = {{"gauge", req.needle.gauge},
                 {"length_mm", req.needle.lengthMm},
                 {"active_tip_mm", req.needle.activeTipMm}};
  j["levels"] = json::array();
  for (const auto& v : spine.vertebrae)
    j["levels"].push_back(v.level);
  // The CT's vertebrae by name and where their bodies lie: the overlay's
  // wrong-level guard checks each frame's level against them.
  j["vertebrae"] = json::array();
  for (const auto& v : spine.vertebrae)
    j["vertebrae"].push_back(
        {{"level", v.level},
         {"body_centroid", {v.bodyCentroid.lps.x, v.bodyCentroid.lps.y, v.bodyCentroid.lps.z}},
         {"ribs", v.ribs}});
  j["naming"] = {{"certain", spine.namingCertain}, {"evidence", spine.namingEvidence}};
  j["warnings"] = plan.warnings;
  j["spine"] = o.spine.empty() ? json("segmented from the CT") : json(o.spine.string());
  j["seconds"] = {{o.spine.empty() ? "segmentation" : "reading the spine", segS},
                  {"planning", planS}};
  j["trajectories"] = json::array();
  j["not_planned"] = json::array();
  for (const auto& n : plan.needles) {
    if (n.best) {
      json t = trajectoryJson(*n.best, rf);
      t["alternatives"] = json::array();
      for (std::size_t a = 1; a < n.alternatives.size(); ++a)
        t["alternatives"].push_back(trajectoryJson(n.alternatives[a], rf));
      j["trajectories"].push_back(t);
    } else {
      j["not_planned"].push_back({{"for", n.nerve}, {"side", n.side}, {"why", n.whyNone}});
    }
  }
  if (!plan.leadPathLps.empty()) {
    j["lead_path"] = json::array();
    for (const Vec3& p : plan.leadPathLps)
      j["lead_path"].push_back(vec(p));
    j["lead_summary"] = plan.leadSummary;
  }
  writeFileAtomically(o.outDir / "plan.json", j.dump(2));
  writeFileAtomically(o.outDir / "plan.mrk.json", slicerMarkups(plan).dump(2));

  // Pictures: per needle, the axial slice through its target (a caudally
  // angled needle crosses it as a short stroke) and the slice holding the
  // whole needle and the patient's left-right axis.
  int index = 0;
  for (const auto& n : plan.needles) {
    if (!n.best) continue;
    const Trajectory& t = *n.best;
    ++index;
    const std::string stem = std::to_string(index) + "_" + n.nerve + "_" + n.side;
    std::string file = stem;
    std::replace(file.begin(), file.end(), ' ', '_');
    // Radiological axial view: patient's right on the image's left
    // (columns run toward the patient's left), anterior up.
    Slice axial = obliqueSlice(ct, t.targetLps, {1, 0, 0}, {0, 1, 0}, 200, 200, 0.5);
    drawNeedle(axial, t, n.course, rf ? req.needle.activeTipMm : 0);
    writePng(axial.image, o.outDir / ("needle_" + file + "_axial.png"));
    const Vec3 along = normalized(t.entryLps - t.targetLps);
    Vec3 across = Vec3{-1, 0, 0} - dot(Vec3{-1, 0, 0}, along) * along;
    if (norm(across) < 0.2) across = Vec3{0, 0, 1} - along.z * along;
    const Vec3 mid = 0.5 * (t.entryLps + t.targetLps);
    Slice inPlane = obliqueSlice(ct, mid, normalized(across), -1.0 * along, 160,
                                 std::max(120.0, t.depthMm + 40), 0.4);
    drawNeedle(inPlane, t, n.course, rf ? req.needle.activeTipMm : 0);
    writePng(inPlane.image, o.outDir / ("needle_" + file + "_in_plane.png"));
    // Simulated C-arm images (DRR; a mobile C-arm's SID 1000 mm and SOD
    // 750 mm, 300 mm detector) of the down-the-needle and progress views,
    // with the needle drawn: the first shows it as a dot ("hub over tip").
    for (const auto& [view, name] :
         {std::pair{t.downTheNeedle, "down_the_needle"}, std::pair{t.progress, "progress"}}) {
      CArmGeometry g;
      g.primaryDeg = view.angles.primaryDeg;
      g.secondaryDeg = view.angles.secondaryDeg;
      g.isocentreLps = t.targetLps;
      g.columns = g.rows = 256;
      g.pixelMm = 300.0 / 256;
      g.principalColumn = g.principalRow = 127.5;
      const Drr drr = renderDrr(ct, g);
      std::vector<float> sorted = drr.lineIntegral;
      std::sort(sorted.begin(), sorted.end());
      const double lo = sorted[sorted.size() / 50], hi = sorted[sorted.size() * 49 / 50];
      Rgb8Image img{g.columns, g.rows, std::vector<uint8_t>(std::size_t(g.columns) * g.rows * 3)};
      for (std::size_t i = 0; i < drr.lineIntegral.size(); ++i) {
        // More attenuation brighter, as a radiograph shows bone.
        const double x = std::clamp((drr.lineIntegral[i] - lo) / std::max(hi - lo, 1e-6), 0.0, 1.0);
        img.rgb[3 * i] = img.rgb[3 * i + 1] = img.rgb[3 * i + 2] = uint8_t(std::lround(255 * x));
      }
      const auto e = g.project(t.entryLps), tg = g.project(t.targetLps);
      line(img, e[0], e[1], tg[0], tg[1], {255, 40, 40});
      if (rf) {
        const auto a =
            g.project(t.targetLps + req.needle.activeTipMm * normalized(t.entryLps - t.targetLps));
        line(img, a[0], a[1], tg[0], tg[1], {0, 220, 255});
      }
      disc(img, tg[0], tg[1], 2, {40, 255, 80});
      const double bar = 10.0 * (g.sourceToDetectorMm / g.sourceToIsocentreMm) /
                         g.pixelMm; // 10 mm at the isocentre
      for (int k = 0; k < 2; ++k)
        line(img, 8, g.rows - 8.0 - k, 8 + bar, g.rows - 8.0 - k, {255, 255, 255});
      writePng(img, o.outDir / ("needle_" + file + "_carm_" + name + ".png"));
    }
  }

  // The spine in 3D with every path, from behind and from behind-left/right:
  // needs an X display (Debian's VTK), so under xvfb-run when headless.
  int renders = 0;
  if (hasDisplay() && index > 0) {
    // Only the levels around the needles, so the picture stays legible.
    std::vector<int> near;
    for (const auto& v : spine.vertebrae)
      for (const auto& n : plan.needles)
        if (n.best && std::abs(v.bodyCentroid.lps.z - n.best->targetLps.z) < 70) {
          near.push_back(v.label);
          break;
        }
    std::vector<SceneMesh> scene;
    for (auto& [label, mesh] : labelSurfaces(spine.labels, near))
      scene.push_back({std::move(mesh), {0.92, 0.87, 0.76}, 1.0});
    std::vector<ScenePath> paths;
    for (const auto& n : plan.needles)
      if (n.best) paths.push_back({n.best->entryLps, n.best->targetLps, {1.0, 0.25, 0.2}, 0.64});
    const std::pair<Vec3, const char*> views[] = {{{0, 1, 0}, "posterior"},
                                                  {{0.7, 0.7, -0.2}, "posterior_left_oblique"},
                                                  {{-0.7, 0.7, -0.2}, "posterior_right_oblique"}};
    for (const auto& [from, name] : views) {
      renderScene(scene, paths, {from, {0, 0, 1}, 800, 800},
                  o.outDir / ("plan_3d_" + std::string(name) + ".png"));
      ++renders;
    }
  } else if (index > 0) {
    std::cout << "3D pictures skipped: no X display (run under xvfb-run -a)\n";
  }

  // The plan as a doctor reads it.
  std::cout << std::fixed << std::setprecision(1);
  std::cout << procedureName(req.procedure) << ", " << (req.joints.empty() ? "" : o.joints + ", ")
            << o.side << ", " << (req.prone ? "prone" : "supine") << ", " << req.needle.gauge
            << " G " << req.needle.lengthMm << " mm needle: " << plan.needles.size()
            << " needle(s); " << (o.spine.empty() ? "segmentation " : "spine read in ") << segS
            << " s, planning " << planS << " s\n";
  for (const auto& w : plan.warnings)
    std::cout << "  warning: " << w << "\n";
  for (const auto& n : plan.needles) {
    if (!n.best) {
      std::cout << "  " << n.nerve << ", " << n.side << ": NOT PLANNED: " << n.whyNone << "\n";
      continue;
    }
    const Trajectory& t = *n.best;
    std::cout << "  " << n.nerve << ", " << n.side << " (" << t.bone << "): skin " << t.skinMark
              << "; target (" << t.targetLps.x << ", " << t.targetLps.y << ", " << t.targetLps.z
              << ") mm LPS, " << t.depthMm << " mm deep; down the needle: " << t.downTheNeedle.words
              << " [primary " << t.downTheNeedle.angles.primaryDeg << ", secondary "
              << t.downTheNeedle.angles.secondaryDeg
              << (t.downTheNeedle.reachable ? "" : ", NOT REACHABLE: " + t.downTheNeedle.whyNot)
              << "]; " << t.reasons << "\n";
  }
  if (!plan.leadSummary.empty()) std::cout << "  " << plan.leadSummary << "\n";
  std::cout << "Wrote " << (o.outDir / "plan.json").string() << ", plan.mrk.json and "
            << 4 * index + renders << " pictures\n";
  std::size_t planned = 0;
  for (const auto& n : plan.needles)
    planned += n.best.has_value();
  return planned == plan.needles.size() ? kOk : kInputProblem;
}

} // namespace fluoroplan::cli
