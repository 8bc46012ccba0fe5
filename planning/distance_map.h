#pragma once
// DistanceMap: exact Euclidean distance in mm from every voxel of a box of a
// label map to the nearest voxel of a set of labels (Felzenszwalb &
// Huttenlocher, Theory of Computing 2012: separable squared-distance
// transform, with the grid's own spacing per axis).
#include <array>
#include <functional>
#include <vector>

#include "imaging/core/volume.h"

namespace fluoroplan {

class DistanceMap {
public:
  DistanceMap() = default;
  // Distances within the index box [lo, hi] (inclusive, clipped to the
  // grid) to the voxels where `inSet(label)` holds; voxels of the set
  // outside the box are not seen.
  DistanceMap(const Volume& labels, std::array<std::size_t, 3> lo, std::array<std::size_t, 3> hi,
              const std::function<bool(int16_t)>& inSet);
  // Distance at the nearest voxel to `lps`; `outside` beyond the box.
  double atLps(Vec3 lps, double outside = 1e9) const;
  bool empty() const { return mm_.empty(); }

private:
  Volume grid_; // geometry of the box only (hu unused)
  std::array<std::size_t, 3> lo_{}, n_{};
  std::vector<float> mm_;
};

} // namespace fluoroplan
