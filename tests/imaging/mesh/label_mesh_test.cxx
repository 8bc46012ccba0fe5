// Surface meshes of labels: a ball of known radius on a rotated, anisotropic
// grid comes back as a closed surface of the right size, in the right place,
// in LPS millimetres.
#include <gtest/gtest.h>

#include <fstream>

#include "imaging/mesh/label_mesh.h"
#include "tests/support/test_data.h"

using namespace fluoroplan;
using namespace fluoroplan::test;
namespace fs = std::filesystem;

namespace {
constexpr double kPi = 3.14159265358979323846;

// A ball of radius r (mm) centred at `centreLps`, label 7, on a grid with
// 0.6 x 0.8 x 1.5 mm voxels rotated 30 degrees about the patient's axis.
Volume ball(Vec3 centreLps, double r) {
  Volume v;
  v.size = {80, 70, 40};
  v.spacingMm = {0.6, 0.8, 1.5};
  v.directionLps = rotation(2, 30);
  v.originLps = {-20, -30, -25};
  v.hu.assign(v.voxelCount(), 0);
  for (std::size_t k = 0; k < v.size[2]; ++k)
    for (std::size_t j = 0; j < v.size[1]; ++j)
      for (std::size_t i = 0; i < v.size[0]; ++i)
        if (norm(v.indexToLps({double(i), double(j), double(k)}) - centreLps) <= r)
          v.hu[v.offset(i, j, k)] = 7;
  return v;
}
} // namespace

TEST(LabelMesh, BallHasItsVolumeCentreAndRadius) {
  const Vec3 centre{-2, 8, 4};
  const double r = 10;
  const Volume v = ball(centre, r);
  const SurfaceMesh m = labelSurface(v, 7);
  ASSERT_GT(m.triangles.size(), 500u);
  // Volume within 4% of 4/3 pi r^3 (4.19 ml), area within 6% of 4 pi r^2.
  EXPECT_NEAR(m.enclosedVolumeMl(), 4.0 / 3.0 * kPi * r * r * r / 1000, 0.04 * 4.19);
  EXPECT_NEAR(m.areaMm2(), 4 * kPi * r * r, 0.06 * 4 * kPi * r * r);
  Vec3 sum;
  for (const auto& p : m.pointsLps) {
    sum = sum + p;
    // Every vertex within a voxel of the sphere.
    EXPECT_NEAR(norm(p - centre), r, 1.2);
  }
  const Vec3 mean = (1.0 / double(m.pointsLps.size())) * sum;
  EXPECT_LT(norm(mean - centre), 0.3);
}

TEST(LabelMesh, TrianglesFaceOutward) {
  const Vec3 centre{0, 0, 0};
  const SurfaceMesh m = labelSurface(ball(centre, 8), 7);
  std::size_t outward = 0;
  for (const auto& t : m.triangles) {
    const Vec3 n =
        cross(m.pointsLps[t[1]] - m.pointsLps[t[0]], m.pointsLps[t[2]] - m.pointsLps[t[0]]);
    outward += dot(n, m.pointsLps[t[0]] - centre) > 0;
  }
  EXPECT_GT(double(outward) / double(m.triangles.size()), 0.99);
}

TEST(LabelMesh, AbsentLabelGivesAnEmptyMesh) {
  EXPECT_TRUE(labelSurface(ball({0, 0, 0}, 5), 3).triangles.empty());
}

TEST(LabelMesh, WritesVtpAndStlAtomically) {
  const fs::path dir = freshDir("label_mesh");
  const SurfaceMesh m = labelSurface(ball({0, 0, 0}, 6), 7);
  writeMesh(m, dir / "ball.vtp", 7);
  writeMesh(m, dir / "ball.stl", 7);
  EXPECT_GT(fs::file_size(dir / "ball.vtp"), 1000u);
  // Binary STL: 80-byte header, count, 50 bytes per triangle.
  EXPECT_EQ(fs::file_size(dir / "ball.stl"), 84 + 50 * m.triangles.size());
  std::ifstream in(dir / "ball.stl", std::ios::binary);
  std::string header(9, '\0');
  in.read(header.data(), 9);
  EXPECT_EQ(header, "SPACE=LPS");
  std::ifstream vtp(dir / "ball.vtp");
  const std::string text((std::istreambuf_iterator<char>(vtp)), {});
  EXPECT_NE(text.find("SPACE"), std::string::npos);
  // Nothing left behind but the two files.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator{}), 2);
  EXPECT_THROW(writeMesh(m, dir / "ball.obj"), std::runtime_error);
}

TEST(LabelMesh, SeveralLabelsInOnePassMatchOneByOne) {
  Volume v = ball({0, 0, 0}, 6);
  for (std::size_t n = 0; n < v.hu.size(); n += 1)
    if (v.hu[n] == 0 && v.indexToLps({double(n % v.size[0]), double((n / v.size[0]) % v.size[1]),
                                      double(n / (v.size[0] * v.size[1]))})
                                .x > 12)
      v.hu[n] = 9;
  const auto both = labelSurfaces(v, {7, 9, 4});
  EXPECT_EQ(both.at(7).triangles.size(), labelSurface(v, 7).triangles.size());
  EXPECT_EQ(both.at(9).triangles.size(), labelSurface(v, 9).triangles.size());
  EXPECT_GT(both.at(9).triangles.size(), 0u);
  EXPECT_TRUE(both.at(4).triangles.empty());
}
