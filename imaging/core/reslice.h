#pragma once
// Axial, coronal and sagittal pictures of a volume as a radiologist reads
// them, whatever the volume's own axis order: axial seen from the feet
// (patient's right on the left, anterior up), coronal seen from the front
// (patient's right on the left, head up), sagittal seen from the patient's
// left (anterior on the left, head up). Trilinear sampling on a square pixel
// grid; outside the volume reads as `outside`.
#include <array>
#include <cstdint>
#include <vector>

#include "imaging/core/volume.h"

namespace fluoroplan {

enum class ViewPlane { Axial, Coronal, Sagittal };

struct PlaneImage {
  uint32_t width = 0, height = 0;
  double pixelMm = 1;
  Vec3 topLeftLps; // centre of pixel (0,0)
  Vec3 columnDirLps, rowDirLps;
  std::vector<int32_t> values; // row-major, top row first
};

// The picture through `throughLps` (only its coordinate along the plane's
// normal matters), covering the volume's extent.
PlaneImage reslice(const Volume& volume, ViewPlane plane, Vec3 throughLps, double pixelMm = 0,
                   int32_t outside = -1024);

// The part of `image` within `halfWidthMm` (along its columns) and
// `halfHeightMm` (along its rows) of `centreLps`'s projection, clipped to the
// image: short scans of a few vertebrae are then legible instead of a thin
// strip of a 500 mm field of view.
PlaneImage cropAround(const PlaneImage& image, Vec3 centreLps, double halfWidthMm,
                      double halfHeightMm);

// Block average to about `mm` per voxel (each axis's factor rounded, at
// least 1); a block's value sits at its centre. `factors` receives them.
Volume blockAverage(const Volume& volume, double mm, std::array<std::size_t, 3>* factors = nullptr);

// The volume on an axial grid: LPS axes, slices feet first, `pixelMm` in
// plane and `sliceMm` apart, covering its extent (trilinear; `outside`
// beyond it). For a CT stored as sagittal, coronal or oblique slices, whose
// analysis works on axial ones.
Volume resampleToAxial(const Volume& volume, double pixelMm, double sliceMm,
                       int16_t outside = -1024);

// `labels` on `grid`'s voxels, nearest voxel (labels are not averaged);
// 0 beyond the labels' extent. The voxels of `grid` are not read.
Volume labelsOnGrid(const Volume& labels, const Volume& grid);

// Centre of the volume's voxel grid, in LPS.
Vec3 volumeCentreLps(const Volume& volume);

// Trilinear HU at a continuous index; `outside` beyond the grid.
double sampleTrilinear(const Volume& volume, Vec3 index, double outside);

} // namespace fluoroplan
