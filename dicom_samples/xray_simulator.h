#pragma once
// The sample case's own C-arm simulator. Deliberately unlike the fast DRR
// that registration uses (imaging/projection): polychromatic attenuation of
// a water/bone decomposition of the CT plus steel needles, focal-spot blur,
// scatter, quantum noise, image-intensifier pincushion distortion, vignetting
// and a circular field of view, so registration tests are not circular.
#include <cstdint>
#include <vector>

#include "imaging/core/geometry.h"
#include "imaging/core/progress.h"
#include "imaging/core/volume.h"

namespace fluoroplan::samples {

// C-arm pose in DICOM's patient-relative convention (DESIGN.md section 4):
// detector direction d = (sin a cos b, -cos a cos b, sin b) from the
// isocentre, columns along u = (cos a, sin a, 0), rows along v = u x d.
struct CArmPose {
  double primaryDeg = 0, secondaryDeg = 0;
  double sourceToDetectorMm = 1000, sourceToIsocenterMm = 650;
  Vec3 isocenterLps;
  Vec3 detectorDirection() const;
  Vec3 columnDirection() const;
  Vec3 rowDirection() const;
  Vec3 sourceLps() const;
};

struct Detector {
  uint32_t columns = 512, rows = 512;
  double pixelMm = 0.45;          // at the detector plane (Imager Pixel Spacing)
  double principalColumn = 255.5; // where the central ray meets the detector
  double principalRow = 255.5;
  double fieldRadiusPx = 250; // circular image-intensifier field
  double pincushionK = 0.08;  // r' = r (1 + k (r / R)^2)
  double focalSpotMm = 0.6;   // Gaussian SD of the focal spot at the source
  // Collimator shutter blades, on the ideal detector: pixels beyond these
  // columns/rows lie in a blade's shadow (negative: no blade on that side).
  double bladeLeft = -1, bladeRight = -1, bladeTop = -1, bladeBottom = -1;
  double bladeTransmission = 0.3; // of the primary, through a blade
};

struct Needle {
  Vec3 hubLps, tipLps;     // the shaft runs from the hub (outside the skin) to the tip
  double diameterMm = 0.9; // 20 G
};

struct Exposure {
  double kvp = 75;
  double mAs = 0.3; // per frame; scales quantum noise
  uint64_t noiseSeed = 1;
};

// Pixel (column, row) of an LPS point on the ideal (undistorted) detector.
Vec3 projectIdeal(const CArmPose& pose, const Detector& det, Vec3 pointLps); // (col, row, depth mm)

// Renders frames of one C-arm position: the anatomy's line integrals are
// computed once per pose, the needles and noise per frame.
class XRaySimulator {
public:
  XRaySimulator(const Volume& ct, const CArmPose& pose, const Detector& detector,
                unsigned threads = 0, const ProgressCallback& progress = {});
  // 10-bit image (0..1023), bright where the beam gets through, as a C-arm shows it.
  std::vector<uint16_t> render(const std::vector<Needle>& needles, const Exposure& exposure) const;

private:
  CArmPose pose_;
  Detector det_;
  unsigned threads_;
  std::vector<float> waterMm_, boneMm_; // per ideal pixel: water-equivalent and bone path lengths
};

} // namespace fluoroplan::samples
