#include "ui/cli/spine_json.h"

#include <cmath>
#include <fstream>
#include <set>

#include "imaging/io/volume_io.h"
#include "imaging/segmentation/spine_segmenter.h"
#include "ui/cli/json_values.h"

namespace fluoroplan::cli {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

json landmarkJson(const Landmark& l) {
  return {{"lps", vec(l.lps)}, {"confidence", l.confidence}, {"method", l.method}};
}

json grooveJson(const NerveGroove& g) {
  return {{"cranial", vec(g.cranialLps)},
          {"caudal", vec(g.caudalLps)},
          {"confidence", g.confidence},
          {"method", g.method}};
}

Vec3 readVec(const json& j) {
  if (!j.is_array() || j.size() != 3) throw std::invalid_argument("a point is not [x, y, z]");
  const Vec3 v{j[0].get<double>(), j[1].get<double>(), j[2].get<double>()};
  if (!std::isfinite(v.x) || !std::isfinite(v.y) || !std::isfinite(v.z))
    throw std::invalid_argument("a point is not finite");
  return v;
}

Landmark readLandmark(const json& j) {
  return {readVec(j.at("lps")), j.value("confidence", 0.0), j.value("method", std::string())};
}

std::optional<Landmark> optionalLandmark(const json& v, const char* key) {
  if (!v.contains(key) || v[key].is_null()) return std::nullopt;
  return readLandmark(v[key]);
}

std::optional<NerveGroove> optionalGroove(const json& v, const char* key) {
  if (!v.contains(key) || v[key].is_null()) return std::nullopt;
  const json& g = v[key];
  return NerveGroove{readVec(g.at("cranial")), readVec(g.at("caudal")), g.value("confidence", 0.0),
                     g.value("method", std::string())};
}

// The optional landmarks and grooves, by their spine.json key.
template <typename F> void eachOptional(VertebraModel& v, F&& f) {
  f("pedicle_left", v.pedicleLeft);
  f("pedicle_right", v.pedicleRight);
  f("transverse_tip_left", v.transverseTipLeft);
  f("transverse_tip_right", v.transverseTipRight);
  f("lamina", v.lamina);
  f("spinous_tip", v.spinousTip);
  f("interlaminar_window_below", v.interlaminarWindowBelow);
  f("superior_articular_process_left", v.superiorArticularLeft);
  f("superior_articular_process_right", v.superiorArticularRight);
  f("inferior_articular_process_left", v.inferiorArticularLeft);
  f("inferior_articular_process_right", v.inferiorArticularRight);
  f("transverse_process_root_left", v.transverseRootLeft);
  f("transverse_process_root_right", v.transverseRootRight);
}
template <typename F> void eachGroove(VertebraModel& v, F&& f) {
  f("root_groove_left", v.rootGrooveLeft);
  f("root_groove_right", v.rootGrooveRight);
  f("corner_groove_left", v.cornerGrooveLeft);
  f("corner_groove_right", v.cornerGrooveRight);
  f("pillar_waist_left", v.pillarWaistLeft);
  f("pillar_waist_right", v.pillarWaistRight);
  f("joint_above_left", v.jointAboveLeft);
  f("joint_above_right", v.jointAboveRight);
}

bool sameGrid(const Volume& a, const Volume& b) {
  for (int i = 0; i < 3; ++i) {
    if (a.size[i] != b.size[i]) return false;
    if (std::abs(a.spacingMm[i] - b.spacingMm[i]) > 1e-3) return false;
    if (std::abs(a.originLps[i] - b.originLps[i]) > 0.01) return false;
    for (int r = 0; r < 3; ++r)
      if (std::abs(a.directionLps.column(i)[r] - b.directionLps.column(i)[r]) > 1e-4) return false;
  }
  return true;
}

} // namespace

json spineModelJson(const SpineModel& model) {
  json j;
  j["naming_evidence"] = model.namingEvidence;
  j["bone_evidence"] = model.boneEvidence;
  j["naming_certain"] = model.namingCertain;
  j["vertebrae"] = json::array();
  for (VertebraModel v : model.vertebrae) { // a copy: eachOptional takes it mutable
    json jv = {{"level", v.level},
               {"label", v.label},
               {"naming_certain", v.namingCertain},
               {"alternatives", v.alternatives},
               {"ribs", v.ribs},
               {"partial", v.partial},
               {"volume_ml", v.volumeMl},
               {"body_centroid", landmarkJson(v.bodyCentroid)},
               {"superior_endplate", landmarkJson(v.superiorEndplate)},
               {"inferior_endplate", landmarkJson(v.inferiorEndplate)},
               {"endplate_normal", vec(v.endplateNormalLps)}};
    eachOptional(v, [&](const char* key, const std::optional<Landmark>& l) {
      if (l) jv[key] = landmarkJson(*l);
    });
    eachGroove(v, [&](const char* key, const std::optional<NerveGroove>& g) {
      if (g) jv[key] = grooveJson(*g);
    });
    jv["axes"] = {{"origin", vec(v.axes.origin)},
                  {"left", vec(v.axes.left)},
                  {"posterior", vec(v.axes.posterior)},
                  {"cranial", vec(v.axes.cranial)}};
    j["vertebrae"].push_back(jv);
  }
  j["canal_centreline"] = json::array();
  for (std::size_t i = 0; i < model.canalCentrelineLps.size(); ++i)
    j["canal_centreline"].push_back(
        {{"point", vec(model.canalCentrelineLps[i])}, {"radius_mm", model.canalRadiusMm[i]}});
  return j;
}

SpineModel readSpineFolder(const fs::path& folder, const Volume& ct) {
  const fs::path jsonPath = folder / "spine.json", labelsPath = folder / "labels.nrrd";
  SpineModel m;
  try {
    std::ifstream in(jsonPath);
    if (!in) throw std::invalid_argument("cannot be read (missing?)");
    const json j = json::parse(in);
    m.namingEvidence = j.value("naming_evidence", std::string());
    m.boneEvidence = j.value("bone_evidence", std::string());
    m.namingCertain = j.value("naming_certain", false);
    for (const json& jv : j.at("vertebrae")) {
      VertebraModel v;
      v.level = jv.at("level").get<std::string>();
      v.label = jv.at("label").get<int>();
      if (verseLevelName(v.label) != v.level)
        throw std::invalid_argument("vertebra " + v.level + " has label " +
                                    std::to_string(v.label) + ", which is " +
                                    verseLevelName(v.label));
      v.namingCertain = jv.value("naming_certain", false);
      v.alternatives = jv.value("alternatives", std::vector<std::string>{});
      v.ribs = jv.value("ribs", false);
      v.partial = jv.value("partial", false);
      v.volumeMl = jv.value("volume_ml", 0.0);
      v.bodyCentroid = readLandmark(jv.at("body_centroid"));
      v.superiorEndplate = readLandmark(jv.at("superior_endplate"));
      v.inferiorEndplate = readLandmark(jv.at("inferior_endplate"));
      if (jv.contains("endplate_normal")) v.endplateNormalLps = readVec(jv["endplate_normal"]);
      eachOptional(
          v, [&](const char* key, std::optional<Landmark>& l) { l = optionalLandmark(jv, key); });
      eachGroove(
          v, [&](const char* key, std::optional<NerveGroove>& g) { g = optionalGroove(jv, key); });
      const json& ax = jv.at("axes");
      v.axes.origin = readVec(ax.at("origin"));
      v.axes.left = readVec(ax.at("left"));
      v.axes.posterior = readVec(ax.at("posterior"));
      v.axes.cranial = readVec(ax.at("cranial"));
      // Axes edited by hand must still be a right-handed orthonormal set.
      const double err = std::abs(norm(v.axes.left) - 1) + std::abs(norm(v.axes.posterior) - 1) +
                         std::abs(norm(v.axes.cranial) - 1) +
                         std::abs(dot(v.axes.left, v.axes.posterior)) +
                         std::abs(dot(v.axes.left, v.axes.cranial)) +
                         std::abs(dot(v.axes.posterior, v.axes.cranial)) +
                         norm(cross(v.axes.posterior, v.axes.cranial) - v.axes.left);
      if (err > 1e-3)
        throw std::invalid_argument("the axes of " + v.level +
                                    " are not a right-handed orthonormal set");
      m.vertebrae.push_back(std::move(v));
    }
    for (const json& c : j.at("canal_centreline")) {
      m.canalCentrelineLps.push_back(readVec(c.at("point")));
      m.canalRadiusMm.push_back(c.at("radius_mm").get<double>());
    }
    if (m.vertebrae.empty()) throw std::invalid_argument("no vertebrae");
  } catch (const json::exception& e) {
    throw SpineFileError(jsonPath.string() + ": " + e.what());
  } catch (const std::invalid_argument& e) {
    throw SpineFileError(jsonPath.string() + ": " + e.what());
  }
  try {
    m.labels = readVolumeFile(labelsPath);
  } catch (const VolumeFileError& e) {
    throw SpineFileError(e.what());
  }
  if (!sameGrid(m.labels, ct))
    throw SpineFileError(labelsPath.string() +
                         ": the label map is not on this CT's grid (another CT's segmentation?)");
  std::set<int> present;
  for (int16_t v : m.labels.hu)
    present.insert(v);
  for (const auto& v : m.vertebrae)
    if (!present.count(v.label))
      throw SpineFileError(labelsPath.string() + ": has no voxel of " + v.level + " (label " +
                           std::to_string(v.label) + ") that " + jsonPath.string() +
                           " lists: the two files are from different runs");
  return m;
}

void applyRelabel(SpineModel& model, const std::string& fromEqualsTo) {
  const auto eq = fromEqualsTo.find('=');
  if (eq == std::string::npos)
    throw std::invalid_argument("--relabel wants OLD=NEW, e.g. L5=L4, not '" + fromEqualsTo + "'");
  const std::string from = fromEqualsTo.substr(0, eq), to = fromEqualsTo.substr(eq + 1);
  for (std::size_t i = 0; i < model.vertebrae.size(); ++i)
    if (model.vertebrae[i].level == from) {
      renameLevels(model, i, to);
      return;
    }
  std::string have;
  for (const auto& v : model.vertebrae)
    have += (have.empty() ? "" : ", ") + v.level;
  throw std::invalid_argument("--relabel: no vertebra is named " + from + " (named: " + have + ")");
}

} // namespace fluoroplan::cli
