#pragma once
// Registration2D3D: the C-arm pose of a frame in the CT's coordinates. It
// maximises the gradient correlation between a DRR of the CT and the frame
// (both as line integrals, inside the frame's field) over six parameters:
// the isocentre's place (3, in LPS mm), the two C-arm angles and the
// image's rotation about the beam. DICOM gives the angles and distances but
// not where the isocentre lies in the CT, so without a start from the user
// the translation is first searched on a coarse grid across the beam, then
// all six are refined, coarse to fine.
//
// How sure: the refinement is restarted from perturbed poses; the spread of
// where they put the image centre's ray at the isocentre (in-plane, mm) and
// of the isocentre along the beam (depth, which one view barely sees) is
// the error estimate. A frame is accepted only when the correlation is
// high enough and the in-plane estimate is within the limit; else it says
// why, and the overlay must not be drawn.
#include <optional>
#include <string>
#include <vector>

#include "imaging/core/progress.h"
#include "imaging/core/volume.h"
#include "imaging/dicom/xray_run.h"
#include "imaging/projection/carm_geometry.h"
#include "imaging/projection/drr_renderer.h"
#include "imaging/projection/intensifier_distortion.h"

namespace fluoroplan {

// A frame ready to register: line-integral-like values (larger where more
// is absorbed), on the ideal (distortion-corrected) grid, with a mask of the
// pixels to compare (inside the field, no collimator edge).
struct RegistrationImage {
  unsigned columns = 0, rows = 0;
  std::vector<float> value;
  std::vector<uint8_t> mask;
};

// The collimator's shutter blades seen on a frame: for each side, the
// column (left, right) or row (top, bottom) of the blade's edge, where the
// frame steps from the dim shadow of the blade to the open field; none
// where no blade is in the field. Blades attenuate but do not block (the
// shadow is grey, above the black outside the intensifier's field), so the
// field's threshold keeps them: their straight edge, which no DRR has,
// would pull the registration. Found from the image alone (many mobile
// C-arms do not store their collimator), axis-aligned blades only: an edge
// is a column (row) where most of the field's rows (columns) step up by at
// least a fifth of the field's 5-95% range, going inward.
struct CollimatorEdges {
  std::optional<double> left, right, top, bottom; // pixels, stored frame
};
CollimatorEdges findCollimatorEdges(const std::vector<float>& samples, unsigned columns,
                                    unsigned rows);

// From stored samples where bright means more transmitted (MONOCHROME2 as a
// C-arm stores it): values inverted, the field found as the non-black disc,
// less the collimator blades' shadows (findCollimatorEdges), shrunk by
// `marginPx` to leave its rim and the blades' edges out.
RegistrationImage registrationImageFromFrame(const std::vector<float>& samples, unsigned columns,
                                             unsigned rows, double marginPx = 12);

// Leaves out of `image` (ideal pixels) what the C-arm's collimator did not
// expose as its DICOM states it (`p`, stored pixels: rectangular, circular
// and polygonal parts), and `marginPx` inside its edges.
// `distortion` maps ideal pixels to stored ones (k = 0: none). Returns how
// many compared pixels it left out.
std::size_t maskOutsideCollimator(RegistrationImage& image, const CArmPositioner& p,
                                  const IntensifierDistortion& distortion, double marginPx = 12);

// What tracking knows from the previous frame of a run: how well it
// matched and how sure its restarts made it.
struct TrackingPrior {
  double correlation = 0;
  double inPlaneErrorMm = 0;
  double alongBeamErrorMm = 0;
};

struct RegistrationOptions {
  // Coarse translation search, +- across the beam: the capture range. It
  // spans two vertebral levels each way, so that the best match is not a
  // neighbouring level merely because the true one lay outside the search.
  double searchMm = 80;
  // Along the patient's head-foot axis (as the image shows it) the search
  // may reach farther: a frame's level is not known when there is no plan
  // (0: the same as searchMm).
  double searchAlongSpineMm = 0;
  double searchDepthMm = 0;     // and along it (0: left to the refinement)
  double maxInPlaneErrorMm = 2; // accept only within this
  // The sample: right poses 0.66-0.90 (128-pixel image); a neighbouring
  // level matched at 0.37 in development.
  double minCorrelation = 0.4;
  int restarts = 4;
  // Another place that matches within this fraction of the best (a
  // neighbouring vertebra) makes the result ambiguous: not accepted.
  double ambiguityMargin = 0.1;
  unsigned threads = 0;
  // Tracking (with no search): the pose is refined from the start on the
  // 1/4 image only; when it then matches about as well as the previous
  // frame did (within `trackingCorrelationDrop`) and the refinement moved
  // it at most `trackingMaxCorrectionMm` at the isocentre and
  // `trackingMaxCorrectionDeg`, the previous frame's error estimate is
  // carried over instead of restarting (same anatomy, nearly the same
  // view). Otherwise the full refinement and restarts run.
  std::optional<TrackingPrior> tracking;
  double trackingCorrelationDrop = 0.05;
  double trackingMaxCorrectionMm = 2;
  double trackingMaxCorrectionDeg = 2;
  // Two views: refused when one pose for both matches a view this much
  // worse than that view alone did.
  double twoViewCorrelationDrop = 0.05;
};

struct RegistrationResult {
  CArmGeometry geometry;       // the pose found
  double correlation = 0;      // gradient correlation at the pose, -1..1
  double inPlaneErrorMm = 0;   // estimate, at the isocentre (at least 0.5 mm)
  double alongBeamErrorMm = 0; // estimate of the depth (at least 1 mm)
  bool accepted = false;
  std::string reason; // why not accepted, or how it was found
  int drrsRendered = 0;
};

// Two views of a patient who lay still registered as one: each view's pose
// from the joint fit, with the error estimates combined.
struct TwoViewResult {
  RegistrationResult a, b;
  double beamAngleDeg = 0; // between the two beams
  bool accepted = false;
  std::string reason;
  int drrsRendered = 0;
};

class Registration2D3D {
public:
  explicit Registration2D3D(const Volume& ct);
  // `start`: the frame's geometry from DICOM with a guess of the
  // isocentre (e.g. the CT's centre, or from landmarks); `searchTranslation`
  // false refines from the start only (tracking from the previous frame).
  RegistrationResult run(const RegistrationImage& frame, const CArmGeometry& start,
                         bool searchTranslation, const RegistrationOptions& options = {},
                         const ProgressCallback& progress = {}) const;

  // Two views of the patient, the table not moved between them: one pose
  // of the patient (where the isocentre lies in the CT and how the patient
  // is turned) for both, the C-arm's move between the views taken from
  // their DICOM angles (`dicomA`, `dicomB`: each frame's geometry as DICOM
  // gives it; the isocentre there is ignored). `a`, `b`: each view
  // registered alone, accepted. A second view sees the first one's depth:
  // each view keeps its own in-plane estimate, and its depth estimate is
  // the other view's in-plane estimate over the sine of the angle between
  // the beams. Refused when the beams are under 20 degrees apart, or when
  // the joint pose matches a view clearly worse than that view alone (the
  // patient or the table moved between them).
  TwoViewResult runTwoViews(const RegistrationImage& frameA, const CArmGeometry& dicomA,
                            const RegistrationResult& a, const RegistrationImage& frameB,
                            const CArmGeometry& dicomB, const RegistrationResult& b,
                            const RegistrationOptions& options = {}) const;

  // Piecewise registration: the pre-procedure CT is usually supine and the
  // patient on the table prone, so the spine's curve differs and one rigid
  // pose cannot fit every level (the sample's L4 tilts 11 degrees more in
  // the supine CT). A level's own pose: `global` refined (no search)
  // against the frame only where that vertebra's bone projects, widened by
  // `marginMm` (levelWindow; 2 mm registered closest on the sample, 0.14-0.66
  // mm, against 0.26-0.88 at 8 mm), with its own error estimate. `global`
  // must be near: from the level's landmarks, the whole frame's pose, or
  // (with `options.tracking`) the level's pose on the previous frame.
  // Not accepted when the window holds too little of the frame.
  RegistrationResult runLevel(const RegistrationImage& frame, const RegistrationResult& global,
                              const std::vector<Vec3>& levelBoneLps, double marginMm = 2,
                              const RegistrationOptions& options = {}) const;
  // The DRR the last refinement compares with, at any pose (e.g. the
  // registered one, at the frame's full size, for needle detection); with
  // `pixelMask` (columns x rows) only its non-zero pixels are rendered.
  // `shrink` > 1 renders 1/shrink of the size and interpolates it back
  // (bilinear): the 1.2 mm voxels hold no detail that a 512-pixel frame's
  // 0.3 mm pixels would resolve, so half the size is all but the same
  // image at a quarter of the rays.
  Drr drrAt(const CArmGeometry& g, const std::vector<uint8_t>* pixelMask = nullptr,
            unsigned threads = 0, unsigned shrink = 1) const;

private:
  DrrRenderer coarse_; // 2 mm voxels: search, refinement, restarts
  DrrRenderer fine_;   // 1 mm voxels: the last refinement, and tracking
};

// The frame's mask narrowed to where `boneLps` (a vertebra's bone points)
// projects at pose `g`, each point widened by `marginMm` at the isocentre.
std::vector<uint8_t> levelWindow(const RegistrationImage& frame, const CArmGeometry& g,
                                 const std::vector<Vec3>& boneLps, double marginMm);

// A landmark a user marks: a point in the CT (LPS mm, e.g. a spinous-process
// tip or a pedicle's centre) and where it lies on the frame (ideal pixels).
struct LandmarkPair {
  Vec3 ctLps;
  std::array<double, 2> framePx{};
};

// A registration start from landmarks (2-3 of one level): with the C-arm
// angles as DICOM gives them, the isocentre's place across the beam and the
// turn about the beam (with 2 or more pairs) that bring the CT points onto
// their pixels, least squares; depth stays (one view barely sees it).
// `rmsPx` (if given) gets how far the points then are from their pixels.
CArmGeometry startFromLandmarks(const CArmGeometry& dicom, const std::vector<LandmarkPair>& pairs,
                                double* rmsPx = nullptr);

// Gradient correlation of two images over a mask: the mean of the
// normalised cross-correlations of their column and row gradients.
double gradientCorrelation(const std::vector<float>& a, const std::vector<float>& b,
                           const std::vector<uint8_t>& mask, unsigned columns, unsigned rows);

} // namespace fluoroplan
