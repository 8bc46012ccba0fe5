#pragma once
// LabelMesh: the surface of one label of a label map as a triangle mesh in
// DICOM LPS millimetres (discrete flying edges on the label, then windowed
// sinc smoothing, which keeps the surface within a fraction of a voxel of
// the label's boundary), written as VTK XML PolyData (.vtp) or STL.
#include <filesystem>
#include <map>
#include <vector>

#include "imaging/core/geometry.h"
#include "imaging/core/volume.h"

namespace fluoroplan {

struct SurfaceMesh {
  std::vector<Vec3> pointsLps;
  std::vector<std::array<uint32_t, 3>> triangles;
  double areaMm2() const;
  double enclosedVolumeMl() const; // divergence theorem; the mesh is closed
};

struct MeshOptions {
  int smoothingIterations = 15; // 0: raw flying-edges surface
  double passBand = 0.1;
};

// Empty mesh when the label is absent.
SurfaceMesh labelSurface(const Volume& labels, int label, const MeshOptions& options = {});
// Several labels' surfaces, reading the volume once for all of them.
std::map<int, SurfaceMesh> labelSurfaces(const Volume& labels, const std::vector<int>& wanted,
                                         const MeshOptions& options = {});

// Atomic writes: .vtp (the label's value and "LPS" in the field data) or .stl
// (chosen by the extension). Throws std::runtime_error naming the file.
void writeMesh(const SurfaceMesh& mesh, const std::filesystem::path& file, int label = 0);

} // namespace fluoroplan
