#pragma once
// CArmGeometry: a C-arm view as DICOM describes it (DESIGN.md section 4) ->
// source, detector frame and the projection of LPS points to detector
// pixels (column, row), pixel (0,0) the centre of the top-left pixel.
//   d = (sin a cos b, -cos a cos b, sin b)   isocentre -> detector
//   u = (cos a, sin a, 0)                    columns increase along u
//   v = u x d                                rows increase along v
//   source = iso - SOD d, detector centre = iso + (SID - SOD) d.
// Distances and the isocentre's place in the CT are inputs: DICOM gives the
// first (0018,1110/1111), registration finds the second.
#include <array>

#include "imaging/core/geometry.h"

namespace fluoroplan {

struct CArmGeometry {
  double primaryDeg = 0, secondaryDeg = 0; // (0018,1510), (0018,1511)
  // Rotation of the image about the beam (detector rotation, or what a
  // registration finds), positive from u toward v; 0 as DICOM defines it.
  double inPlaneDeg = 0;
  double sourceToDetectorMm = 1000; // SID (0018,1110)
  double sourceToIsocentreMm = 750; // SOD (0018,1111)
  Vec3 isocentreLps;
  unsigned columns = 512, rows = 512;
  double pixelMm = 0.6; // at the detector (Imager Pixel Spacing)
  double principalColumn = 255.5, principalRow = 255.5;

  friend bool operator==(const CArmGeometry&, const CArmGeometry&) = default;

  Vec3 detectorDirection() const; // d
  Vec3 columnDirection() const;   // u
  Vec3 rowDirection() const;      // v
  Vec3 sourceLps() const;
  Vec3 detectorCentreLps() const;
  // Pixel (column, row) of an LPS point; the point must lie between
  // source and detector.
  std::array<double, 2> project(Vec3 lps) const;
  // The 3x4 matrix P with (c w, r w, w) = P (x, y, z, 1).
  std::array<double, 12> projectionMatrix() const;
  // LPS position of a detector pixel centre.
  Vec3 pixelLps(double column, double row) const;
  // A detector pixel's size at the isocentre (mm): pixels to mm in the
  // image plane, at the depth the C-arm is centred on.
  double pixelMmAtIsocentre() const { return pixelMm * sourceToIsocentreMm / sourceToDetectorMm; }
};

// The same view with the C-arm's frame (u, v, d) turned by `r` about the
// isocentre: the primary, secondary and in-plane angles whose frame is
// (r u, r v, r d). Two views of a patient who lay still share one such turn.
CArmGeometry turnedAboutIsocentre(const CArmGeometry& g, const Mat3& r);

// Where `estimate` puts the point that `truth` sees at `pointLps` (same
// place relative to the C-arm), minus `pointLps`: the 3D target
// registration error of a pose, in mm (LPS).
Vec3 poseDisplacement(const CArmGeometry& truth, const CArmGeometry& estimate, Vec3 pointLps);

} // namespace fluoroplan
