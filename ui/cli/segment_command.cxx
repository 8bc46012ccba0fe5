// `fluoroplan segment CT_PATH --out DIR [--truth LABELS [--truth-scheme verse|totalsegmentator]]`
#include <chrono>
#include <iomanip>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "imaging/core/atomic_file.h"
#include "imaging/core/reslice.h"
#include "imaging/io/image_2d.h"
#include "imaging/io/volume_io.h"
#include "imaging/mesh/label_mesh.h"
#include "imaging/segmentation/nerve_courses.h"
#include "imaging/segmentation/spine_segmenter.h"
#include "ui/cli/commands.h"
#include "ui/cli/json_values.h"
#include "ui/cli/spine_json.h"

namespace fluoroplan::cli {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {
// The reference label map on the CT's grid, by nearest voxel in physical
// space (a NIfTI stored RAS has its rows and slices the other way round).
Volume onGridOf(const Volume& grid, const Volume& labels) {
  Volume out = grid;
  std::fill(out.hu.begin(), out.hu.end(), int16_t{0});
  for (std::size_t k = 0; k < grid.size[2]; ++k)
    for (std::size_t j = 0; j < grid.size[1]; ++j)
      for (std::size_t i = 0; i < grid.size[0]; ++i) {
        const Vec3 idx = labels.lpsToIndex(grid.indexToLps({double(i), double(j), double(k)}));
        if (labels.containsIndex(idx))
          out.hu[grid.offset(i, j, k)] =
              labels.at(std::size_t(std::lround(idx.x)), std::size_t(std::lround(idx.y)),
                        std::size_t(std::lround(idx.z)));
      }
  return out;
}

} // namespace

int segmentCommand(const SegmentOptions& o, const Volume& ct, const SegmentationSource* source,
                   const ProgressCallback& progress) {
  const auto t0 = std::chrono::steady_clock::now();
  SpineModel model;
  try {
    model = segmentSpine(ct, {}, progress);
  } catch (const NoSpineFound& e) {
    std::cerr << "error: " << o.ctPath.string() << ": " << e.what() << "\n";
    return kInputProblem;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!o.relabel.empty()) {
    try {
      applyRelabel(model, o.relabel);
    } catch (const std::exception& e) {
      std::cerr << "error: " << e.what() << "\n";
      return kUsage;
    }
  }
  fs::create_directories(o.outDir);
  writeVolumeFile(model.labels, o.outDir / "labels.nrrd");
  writeVolumeFile(model.labels, o.outDir / "labels.nii.gz");
  json j = spineModelJson(model);
  j["ct"] = o.ctPath.string();
  j["coordinates"] = "DICOM patient LPS, millimetres";
  j["seconds"] = seconds;
  // Nerve courses keyed by nerve and side, naming the bone they lie on.
  const std::vector<NerveCourse> nerves = nerveCourses(model);
  j["nerves"] = json::array();
  for (const auto& n : nerves) {
    json jn = {{"nerve", n.nerve},   {"side", n.side},
               {"level", n.level},   {"bone_level", n.boneLevel},
               {"bone", n.bone},     {"in_scan", n.inScan},
               {"reason", n.reason}, {"confidence", n.confidence}};
    if (n.inScan) {
      jn["course"] = json::array({vec(n.cranialLps), vec(n.caudalLps)});
      jn["method"] = n.method;
    }
    j["nerves"].push_back(jn);
  }
  if (!o.truth.empty()) {
    Volume mapped = onGridOf(model.labels, readVolumeFile(o.truth));
    if (o.truthScheme == "totalsegmentator")
      for (auto& v : mapped.hu)
        v = static_cast<int16_t>(verseFromTotalSegmentator(v));
    json dj = json::object();
    std::set<int> levels;
    for (auto v : mapped.hu)
      if (spine_label::isVertebra(v)) levels.insert(v);
    std::cout << "Dice against " << o.truth.string() << ":\n";
    for (int l : levels) {
      const double dsc = dice(model.labels, l, mapped, l);
      dj[verseLevelName(l)] = dsc;
      // Where the disagreement lies: missed (ours 0), given to another
      // label, or extra voxels where the reference has no vertebra.
      std::size_t inTruth = 0, missed = 0, otherLabel = 0, ours = 0, extra = 0;
      std::map<int, std::size_t> extraTruth;
      for (std::size_t i = 0; i < mapped.hu.size(); ++i) {
        if (mapped.hu[i] == l) {
          ++inTruth;
          missed += model.labels.hu[i] == 0 || model.labels.hu[i] == spine_label::kSpinalCanal;
          otherLabel += model.labels.hu[i] != l && spine_label::isVertebra(model.labels.hu[i]);
        }
        if (model.labels.hu[i] == l) {
          ++ours;
          if (!spine_label::isVertebra(mapped.hu[i])) {
            ++extra;
            extraTruth[mapped.hu[i]]++;
          }
        }
      }
      std::cout << "  " << std::setw(7) << verseLevelName(l) << " " << std::fixed
                << std::setprecision(3) << dsc << "  (reference " << inTruth
                << " voxels: " << missed << " missed, " << otherLabel
                << " given another level; ours " << ours << ": " << extra
                << " outside any reference vertebra";
      if (!extraTruth.empty()) {
        const auto most =
            std::max_element(extraTruth.begin(), extraTruth.end(),
                             [](const auto& a, const auto& b) { return a.second < b.second; });
        std::cout << ", mostly reference label " << most->first;
      }
      std::cout << ")\n";
    }
    j["dice"] = dj;
  }
  // Surface meshes in LPS mm, one per vertebra plus the canal, for 3D views
  // and 3D Slicer.
  fs::create_directories(o.outDir / "meshes");
  j["meshes"] = json::array();
  std::vector<std::pair<int, std::string>> parts; // label, file stem
  for (const auto& v : model.vertebrae)
    parts.emplace_back(v.label, v.level);
  parts.emplace_back(spine_label::kSpinalCanal, "spinal_canal");
  std::vector<int> wanted;
  for (const auto& part : parts)
    wanted.push_back(part.first);
  std::map<int, SurfaceMesh> meshes = labelSurfaces(model.labels, wanted);
  for (const auto& [label, stem] : parts) {
    const SurfaceMesh& mesh = meshes[label];
    if (mesh.triangles.empty()) continue;
    writeMesh(mesh, o.outDir / "meshes" / (stem + ".vtp"), label);
    j["meshes"].push_back({{"level", label == spine_label::kSpinalCanal ? "spinal canal" : stem},
                           {"file", "meshes/" + stem + ".vtp"},
                           {"triangles", mesh.triangles.size()}});
  }
  // DICOM SEG referencing the CT, when the CT came as DICOM.
  int rc = kOk;
  if (source) {
    // A CT that cannot be referenced (e.g. anonymised without UIDs) gets no
    // SEG; everything else is still written, and the exit code says so.
    try {
      writeSegmentation(model.labels, *source, spineSegments(model.labels), {},
                        o.outDir / "segmentation.dcm");
      j["dicom_seg"] = "segmentation.dcm";
    } catch (const std::runtime_error& e) {
      j["dicom_seg"] = nullptr;
      j["dicom_seg_problem"] = e.what();
      std::cout << "No DICOM SEG: " << e.what() << "\n";
      rc = kInputProblem;
    }
  } else {
    j["dicom_seg"] = nullptr;
    std::cout << "No DICOM SEG: the CT is not DICOM (" << o.ctPath.string() << ")\n";
  }
  writeFileAtomically(o.outDir / "spine.json", j.dump(2));
  // Pictures with the labels in colour: sagittal through the canal, through
  // the left facet column, and coronal through the bodies.
  auto picture = [&](const Volume& labelMap, ViewPlane plane, Vec3 at, Vec3 spine,
                     const fs::path& png) {
    // Short scans (a few vertebrae) get finer pixels so the picture is legible,
    // and every picture keeps 90 mm around the spine rather than the whole
    // field of view.
    const double px = std::min(ct.spacingMm.x, ct.spacingMm.z) *
                      (double(ct.size[2]) * ct.spacingMm.z < 120 ? 0.33 : 1.0);
    const PlaneImage img =
        cropAround(reslice(ct, plane, at, px), spine, 90, plane == ViewPlane::Axial ? 90 : 1e6);
    std::vector<int32_t> lab(img.values.size(), 0);
    // Labels are sampled at the nearest voxel, never interpolated.
    for (uint32_t r = 0; r < img.height; ++r)
      for (uint32_t cc = 0; cc < img.width; ++cc) {
        const Vec3 p = img.topLeftLps + (cc * img.pixelMm) * img.columnDirLps +
                       (r * img.pixelMm) * img.rowDirLps;
        const Vec3 idx = labelMap.lpsToIndex(p);
        if (labelMap.containsIndex(idx))
          lab[std::size_t(r) * img.width + cc] =
              labelMap.at(std::size_t(std::lround(idx.x)), std::size_t(std::lround(idx.y)),
                          std::size_t(std::lround(idx.z)));
      }
    writePng(overlayLabels(windowToGray8(img.values, img.width, img.height, 300, 1500), lab), png);
  };
  Volume truthMapped;
  if (!o.truth.empty()) {
    truthMapped = onGridOf(model.labels, readVolumeFile(o.truth));
    if (o.truthScheme == "totalsegmentator")
      for (auto& v : truthMapped.hu)
        v = static_cast<int16_t>(verseFromTotalSegmentator(v));
  }
  if (!model.canalCentrelineLps.empty()) {
    const Vec3 through = model.canalCentrelineLps[model.canalCentrelineLps.size() / 2];
    const Vec3 body = model.vertebrae.empty()
                          ? through
                          : model.vertebrae[model.vertebrae.size() / 2].bodyCentroid.lps;
    const Vec3 facets = through + Vec3{18, 0, 0};
    const std::tuple<ViewPlane, Vec3, const char*> views[] = {
        {ViewPlane::Sagittal, through, "sagittal"},
        {ViewPlane::Sagittal, facets, "parasagittal_left"},
        {ViewPlane::Coronal, body, "coronal"},
        {ViewPlane::Axial, body, "axial"}};
    for (const auto& [plane, at, name] : views) {
      picture(model.labels, plane, at, through,
              o.outDir / (std::string("labels_") + name + ".png"));
      if (!o.truth.empty())
        picture(truthMapped, plane, at, through,
                o.outDir / (std::string("reference_") + name + ".png"));
    }
  }
  std::cout << std::fixed << "Segmented in " << std::setprecision(2) << seconds
            << " s; naming: " << model.namingEvidence << "\n"
            << "  " << model.boneEvidence << "\n";
  for (const auto& v : model.vertebrae)
    std::cout << std::setw(7) << v.level << (v.namingCertain ? "" : " (uncertain)") << ": body at ("
              << std::setprecision(1) << v.bodyCentroid.lps.x << ", " << v.bodyCentroid.lps.y
              << ", " << v.bodyCentroid.lps.z << ") mm LPS, " << v.volumeMl << " ml"
              << (v.ribs ? ", ribs" : "") << (v.partial ? ", partly outside the scan" : "") << "\n";
  std::size_t inScan = 0;
  for (const auto& n : nerves)
    inScan += n.inScan;
  std::cout << "Nerve courses: " << inScan << " of " << nerves.size() << " in the scan";
  for (const auto& n : nerves)
    if (!n.inScan) std::cout << "\n  " << n.nerve << ", " << n.side << ": " << n.reason;
  std::cout << "\n";
  return rc;
}

} // namespace fluoroplan::cli
