#pragma once
// A deterministic CT phantom of the spine with exact ground truth: HU volume,
// label map and landmarks (nerve courses, interlaminar windows, canal
// centreline). Anatomy is built from analytic parts sized from published
// morphometry (see spine_anatomy.cxx for the sources), so every landmark is
// known exactly rather than annotated.
#include <cstdint>
#include <string>
#include <vector>

#include "imaging/core/progress.h"
#include "imaging/core/spine_levels.h"
#include "imaging/core/volume.h"

namespace fluoroplan::samples {

// Label values of the truth map. Vertebrae follow VerSe: C1=1..C7=7,
// T1=8..T12=19, L1=20..L5=24, L6=25, sacrum=26, T13=28.
namespace label = fluoroplan::spine_label; // one table: imaging/core/spine_levels.h

// Level names and VerSe labels: imaging/core/spine_levels.h.

struct PhantomOptions {
  std::string topLevel = "T6";     // most cranial vertebra in the scan
  bool cervical = false;           // C2-T1 neck phantom instead of the thoracolumbar one
  bool prone = false;              // prone on a pillow: flatter lordosis (the C-arm runs' patient)
  bool lumbarSixth = false;        // an L6 between L5 and the sacrum
  bool sacralisedL5 = false;       // L5 fused with the sacrum on both sides
  bool thirteenRibs = false;       // a rib-bearing T13 between T12 and L1
  bool osteophytes = false;        // endplate and facet osteophytes
  std::string narrowedDisc;        // e.g. "L4": disc below L4 at 40% height
  std::string cropTop, cropBottom; // keep only slices between these vertebrae (inclusive)
  unsigned columns = 512, rows = 512;
  double pixelMm = 0.75, sliceMm = 1.0;
  double noiseHu = 12.0; // scanner noise (SD)
  double blurMm = 0.5;   // scanner blur (Gaussian SD)
  uint64_t seed = 20261123;
  unsigned threads = 0;
};

struct NerveTarget {
  std::string nerve;     // "L3 medial branch", "L5 dorsal ramus", "third occipital nerve"
  std::string side;      // "left" / "right"
  std::string bone;      // "root of the L4 transverse process"
  Vec3 startLps, endLps; // the nerve's course over the bone, cranial end first
};

struct LevelLandmarks {
  std::string level;
  int label = 0;
  Vec3 bodyCentroidLps;
  Vec3 superiorEndplateCentreLps, inferiorEndplateCentreLps, endplateNormalLps;
  Vec3 pedicleLeftLps, pedicleRightLps;
  Vec3 superiorArticularLeftLps, superiorArticularRightLps;
  Vec3 inferiorArticularLeftLps, inferiorArticularRightLps;
  Vec3 transverseRootLeftLps, transverseRootRightLps;
  Vec3 laminaLps, spinousTipLps;
  bool hasInterlaminarWindowBelow = false;
  Vec3 interlaminarWindowBelowLps; // midline centre of the window to the next level down
  bool ribs = false;
};

struct PhantomTruth {
  std::vector<LevelLandmarks> levels; // cranial to caudal
  std::vector<NerveTarget> nerves;
  std::vector<Vec3> canalCentrelineLps; // cranial to caudal
  std::vector<double> canalRadiusMm;
  std::string description;
};

struct Phantom {
  Volume ct;     // HU
  Volume labels; // label values in `hu`
  PhantomTruth truth;
};

Phantom makeSpinePhantom(const PhantomOptions& options, const ProgressCallback& progress = {});

// The same voxels stored as sagittal slices, as a PACS reformat is: columns
// run posterior, rows down, slices to the patient's left. Every voxel keeps
// its place in LPS; for the CT and the labels alike.
Volume storedAsSagittal(const Volume& axial);

// landmarks.json (format documented in dicom_samples/README.md)
std::string truthToJson(const PhantomTruth& truth, const PhantomOptions& options);

} // namespace fluoroplan::samples
