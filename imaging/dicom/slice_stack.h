#pragma once
// From the headers of one series' single-frame slices to a regular voxel grid:
// the slices sorted along the slice normal by Image Position (Patient), the
// spacing taken from the positions (never from Slice Thickness), and every
// reason the stack is not a regular grid reported with its figures.
#include <array>
#include <cstddef>
#include <string>
#include <vector>

#include "imaging/core/geometry.h"
#include "imaging/core/problem.h"
#include "imaging/dicom/dicom_file.h"

namespace fluoroplan {

struct SliceGap {
  std::size_t afterSlice = 0;  // sorted index of the slice before the gap
  double fromMm = 0, toMm = 0; // positions along the normal
  double gapMm = 0, expectedMm = 0;
  int missingSlices = 0; // estimated
};

struct SliceStackTolerances {
  double parallelCos = 0.9999;   // slices whose normals differ by more (~0.8 deg) are not parallel
  double duplicateMm = 0.01;     // positions closer than this are the same slice
  double spacingRelative = 0.05; // allowed spacing deviation, as a fraction of the median
  double tiltDegrees = 0.25;     // larger in-plane drift per slice is gantry tilt
};

struct SliceStack {
  bool usable = false;            // false: no Volume may be built from it
  std::vector<std::size_t> order; // input indices of the kept slices, sorted along the normal
  uint16_t rows = 0, columns = 0;
  Vec3 rowDirection, columnDirection, normal; // LPS unit vectors
  std::array<double, 3> spacingMm{0, 0, 0};   // along columns (i), rows (j), slices (k)
  Vec3 originLps;                             // first pixel of the first sorted slice
  std::vector<SliceGap> gaps;
  double gantryTiltDeg = 0;
  Problems problems;
};

SliceStack analyseSliceStack(const std::vector<DicomHeader>& slices,
                             const SliceStackTolerances& tolerances = {});

} // namespace fluoroplan
