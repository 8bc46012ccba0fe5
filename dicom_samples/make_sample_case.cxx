// Generates the sample case into OUT_DIR (see README.md beside this file).
#include <chrono>
#include <filesystem>
#include <iostream>

#include "dicom_samples/broken_set.h"
#include "dicom_samples/sample_runs.h"
#include "dicom_samples/spine_phantom.h"
#include "imaging/core/atomic_file.h"
#include "imaging/core/reslice.h"
#include "imaging/dicom/dicom_file.h"
#include "imaging/dicom/dicom_writer.h"
#include "imaging/io/image_2d.h"
#include "imaging/io/volume_io.h"

using namespace fluoroplan;
using namespace fluoroplan::samples;
namespace fs = std::filesystem;

namespace {

// Pictures to look at: an axial slice through a pedicle of the level named,
// a coronal slice through its body, the midline sagittal and a parasagittal
// slice through the left facet column.
void previews(const Phantom& ph, const fs::path& dir, const std::string& name,
              const std::string& level) {
  const Volume& ct = ph.ct;
  const LevelLandmarks* lm = &ph.truth.levels.front();
  for (const auto& m : ph.truth.levels)
    if (m.level == level) lm = &m;
  struct View {
    ViewPlane plane;
    Vec3 through;
    const char* suffix;
  };
  const View views[] = {{ViewPlane::Axial, lm->pedicleLeftLps, "axial"},
                        {ViewPlane::Coronal, lm->bodyCentroidLps, "coronal"},
                        {ViewPlane::Sagittal, Vec3{0, 0, 0}, "sagittal"},
                        {ViewPlane::Sagittal, lm->superiorArticularLeftLps, "parasagittal_left"}};
  for (const auto& v : views) {
    const PlaneImage img = reslice(ct, v.plane, v.through, ct.spacingMm.x);
    writePng(windowToGray8(img.values, img.width, img.height, 300, 1500),
             dir / (name + "_" + v.suffix + ".png"));
  }
}

SeriesIdentity patientIdentity(const std::string& name) {
  SeriesIdentity id;
  id.seed = "sample/" + name;
  return id; // the same patient (FP-SAMPLE-001) for every object of the case
}

Phantom writePhantom(const PhantomOptions& o, const fs::path& out, const std::string& name) {
  const auto t0 = std::chrono::steady_clock::now();
  Phantom ph = makeSpinePhantom(o);
  const fs::path truth = out / "truth";
  fs::create_directories(truth);
  writeVolumeFile(ph.labels, truth / (name + "_labels.nrrd"));
  writeFileAtomically(truth / (name + "_landmarks.json"), truthToJson(ph.truth, o));
  SeriesIdentity id = patientIdentity(name);
  id.seriesDescription = "phantom " + ph.truth.description;
  writeCtSeries(ph.ct, out / ("ct_" + name), id);
  fs::create_directories(out / "previews");
  previews(ph, out / "previews", name, o.cervical ? "C5" : "L4");
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cout << name << ": " << ph.ct.size[0] << "x" << ph.ct.size[1] << "x" << ph.ct.size[2]
            << " voxels, " << ph.truth.levels.size() << " levels, " << ph.truth.nerves.size()
            << " nerve courses, " << s << " s\n";
  return ph;
}

void previewRuns(const fs::path& out) {
  for (const auto& e : fs::directory_iterator(out / "runs")) {
    if (e.path().extension() != ".dcm" || e.path().stem() == "dose_report") continue;
    const DicomFile f = DicomFile::open(e.path());
    const FrameSamples last = f.frame(f.header().numberOfFrames - 1);
    writePng(windowToGray8(last.values, last.columns, last.rows, 512, 1024),
             out / "previews" / (e.path().stem().string() + "_last_frame.png"));
  }
}

} // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: fluoroplan_make_sample_case OUT_DIR\n";
    return 2;
  }
  const fs::path out = argv[1];
  try {
    const auto t0 = std::chrono::steady_clock::now();
    fs::remove(out / "complete");
    writePhantom(PhantomOptions{}, out, "supine");
    PhantomOptions prone;
    prone.prone = true;
    const Phantom pronePhantom = writePhantom(prone, out, "prone");
    PhantomOptions neck;
    neck.cervical = true;
    neck.columns = 256;
    neck.rows = 256;
    neck.pixelMm = 0.6;
    writePhantom(neck, out, "cervical");
    const RunsSummary runs = writeSampleRuns(pronePhantom, patientIdentity("prone"), out);
    previewRuns(out);
    const auto broken = writeBrokenSet(out);
    std::cout << "broken set: " << broken.size() << " cases\n";
    std::cout << "runs: " << runs.instances << " instances, " << runs.frames << " frames, DAP "
              << runs.totalDapDGyCm2 << " dGy*cm2, Ka,r " << runs.totalKermaRpMGy
              << " mGy, and an RDSR\n";
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::uintmax_t bytes = 0;
    for (const auto& e : fs::recursive_directory_iterator(out))
      if (e.is_regular_file()) bytes += e.file_size();
    std::cout << "sample case written to " << out.string() << " in " << s << " s, " << bytes / 1e6
              << " MB\n";
    writeFileAtomically(out / "complete", std::string_view("ok\n"));
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
