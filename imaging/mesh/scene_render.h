#pragma once
// SceneRender: an offscreen VTK picture of surface meshes and needle paths
// (in LPS mm), seen from a chosen direction, written as PNG. Debian's VTK
// renders through X only: callers check hasDisplay() (run under xvfb-run).
#include <array>
#include <filesystem>
#include <string>
#include <vector>

#include "imaging/mesh/label_mesh.h"

namespace fluoroplan {

struct SceneMesh {
  SurfaceMesh mesh;
  std::array<double, 3> rgb{0.9, 0.85, 0.75};
  double opacity = 1.0;
};

struct ScenePath {
  Vec3 fromLps, toLps;
  std::array<double, 3> rgb{1, 0.2, 0.2};
  double radiusMm = 0.6; // an 18 G needle is 1.27 mm across
};

struct SceneView {
  Vec3 lookFromLps{0, 1, 0}; // direction from the scene's centre to the camera
  Vec3 upLps{0, 0, 1};
  unsigned width = 800, height = 800;
};

bool hasDisplay();

// Throws std::runtime_error (naming the file) when it cannot render.
void renderScene(const std::vector<SceneMesh>& meshes, const std::vector<ScenePath>& paths,
                 const SceneView& view, const std::filesystem::path& png);

} // namespace fluoroplan
