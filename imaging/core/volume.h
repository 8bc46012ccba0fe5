#pragma once
// A CT volume in Hounsfield units with its physical geometry in LPS mm.
// A plain value (voxels plus geometry) so it copies, compares and moves like
// any struct; imaging/io converts it to an itk::Image without copying voxels.
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "imaging/core/geometry.h"

namespace fluoroplan {

using VoxelIndex = std::array<std::ptrdiff_t, 3>;

// Allocator that leaves new elements uninitialised on resize(): a 200 MB
// volume is then first touched by the threads that fill it, in parallel,
// instead of being zeroed on one core before being overwritten.
template <class T> struct DefaultInitAllocator : std::allocator<T> {
  template <class U> struct rebind { using other = DefaultInitAllocator<U>; };
  DefaultInitAllocator() = default;
  template <class U> DefaultInitAllocator(const DefaultInitAllocator<U>&) noexcept {}
  template <class U, class... Args> void construct(U* p, Args&&... args) {
    if constexpr (sizeof...(Args) == 0)
      ::new (static_cast<void*>(p)) U;
    else
      ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};

using VoxelBuffer = std::vector<int16_t, DefaultInitAllocator<int16_t>>;

struct Volume {
  std::array<std::size_t, 3> size{0, 0, 0}; // columns (i), rows (j), slices (k)
  Vec3 spacingMm{1, 1, 1};                  // along i, j, k
  Vec3 originLps{};                         // centre of voxel (0,0,0)
  Mat3 directionLps{};                      // column c: unit direction of axis c
  VoxelBuffer hu;                           // i fastest, then j, then k

  std::size_t voxelCount() const { return size[0] * size[1] * size[2]; }
  bool empty() const { return voxelCount() == 0; }
  std::size_t offset(std::size_t i, std::size_t j, std::size_t k) const {
    return i + size[0] * (j + size[1] * k);
  }
  int16_t at(std::size_t i, std::size_t j, std::size_t k) const { return hu[offset(i, j, k)]; }

  // Physical position (LPS mm) of a continuous voxel index.
  Vec3 indexToLps(Vec3 index) const;
  // Continuous voxel index of a physical position (LPS mm).
  Vec3 lpsToIndex(Vec3 pointLps) const;
  // Whether a continuous index lies inside the voxel grid (centres 0..n-1, +-0.5).
  bool containsIndex(Vec3 index) const;
};

// The same volume with its slices stored in the opposite order (axis k
// reversed, origin and direction adjusted): every voxel keeps its physical
// place. Applying it twice gives the original back.
Volume reverseSlices(const Volume& volume);

// "L", "P", "S", "R", "A", "I" letters of the dominant axis direction, or
// "oblique" when no axis lies within 1 degree of a patient axis.
std::string orientationLabel(const Mat3& directionLps);
// "axial", "coronal", "sagittal" or "oblique" for the slice normal (axis 2).
std::string slicePlaneName(const Mat3& directionLps);

} // namespace fluoroplan
