#include "imaging/mesh/label_mesh.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <stdexcept>

#include <vtkCellArray.h>
#include <vtkDiscreteFlyingEdges3D.h>
#include <vtkFieldData.h>
#include <vtkImageData.h>
#include <vtkIntArray.h>
#include <vtkNew.h>
#include <vtkPointData.h>
#include <vtkPoints.h>
#include <vtkPolyData.h>
#include <vtkSTLWriter.h>
#include <vtkStringArray.h>
#include <vtkUnsignedCharArray.h>
#include <vtkWindowedSincPolyDataFilter.h>
#include <vtkXMLPolyDataWriter.h>

#include "imaging/core/atomic_file.h"

namespace fluoroplan {

double SurfaceMesh::areaMm2() const {
  double a = 0;
  for (const auto& t : triangles)
    a += 0.5 * norm(cross(pointsLps[t[1]] - pointsLps[t[0]], pointsLps[t[2]] - pointsLps[t[0]]));
  return a;
}

double SurfaceMesh::enclosedVolumeMl() const {
  double v = 0;
  for (const auto& t : triangles)
    v += dot(pointsLps[t[0]], cross(pointsLps[t[1]], pointsLps[t[2]])) / 6.0;
  return std::abs(v) / 1000.0;
}

namespace {

struct Box {
  std::array<std::size_t, 3> lo{SIZE_MAX, SIZE_MAX, SIZE_MAX}, hi{0, 0, 0};
  bool empty() const { return lo[0] == SIZE_MAX; }
};

// The surface of `label` within its bounding box (padded so it closes).
SurfaceMesh surfaceInBox(const Volume& labels, int label, const Box& box,
                         const MeshOptions& options) {
  const auto& lo = box.lo;
  const auto& hi = box.hi;
  std::array<int, 3> dims{};
  for (int c = 0; c < 3; ++c)
    dims[c] = int(hi[c] - lo[c]) + 3; // one voxel of background on each side
  vtkNew<vtkImageData> image;
  image->SetDimensions(dims[0], dims[1], dims[2]);
  image->SetOrigin(double(lo[0]) - 1, double(lo[1]) - 1, double(lo[2]) - 1); // voxel indices
  image->SetSpacing(1, 1, 1);
  vtkNew<vtkUnsignedCharArray> mask;
  mask->SetNumberOfTuples(vtkIdType(dims[0]) * dims[1] * dims[2]);
  mask->FillValue(0);
  for (int k = 1; k + 1 < dims[2]; ++k)
    for (int j = 1; j + 1 < dims[1]; ++j)
      for (int i = 1; i + 1 < dims[0]; ++i) {
        const std::size_t o = labels.offset(lo[0] + std::size_t(i) - 1, lo[1] + std::size_t(j) - 1,
                                            lo[2] + std::size_t(k) - 1);
        if (labels.hu[o] == label)
          mask->SetValue(vtkIdType(i) + vtkIdType(dims[0]) * (j + vtkIdType(dims[1]) * k), 1);
      }
  image->GetPointData()->SetScalars(mask);

  vtkNew<vtkDiscreteFlyingEdges3D> surface;
  surface->SetInputData(image);
  surface->SetValue(0, 1);
  surface->ComputeNormalsOff();
  surface->ComputeGradientsOff();
  surface->Update();
  vtkPolyData* poly = surface->GetOutput();
  vtkNew<vtkWindowedSincPolyDataFilter> smooth;
  if (options.smoothingIterations > 0) {
    // Windowed sinc moves vertices little and keeps the volume: the label's
    // staircase goes, its shape stays.
    smooth->SetInputData(poly);
    smooth->SetNumberOfIterations(options.smoothingIterations);
    smooth->SetPassBand(options.passBand);
    smooth->NormalizeCoordinatesOn();
    smooth->BoundarySmoothingOff();
    smooth->FeatureEdgeSmoothingOff();
    smooth->NonManifoldSmoothingOn();
    smooth->Update();
    poly = smooth->GetOutput();
  }

  SurfaceMesh mesh;
  mesh.pointsLps.reserve(std::size_t(poly->GetNumberOfPoints()));
  for (vtkIdType p = 0; p < poly->GetNumberOfPoints(); ++p) {
    double x[3];
    poly->GetPoint(p, x);
    mesh.pointsLps.push_back(labels.indexToLps({x[0], x[1], x[2]}));
  }
  vtkCellArray* polys = poly->GetPolys();
  vtkIdType n = 0;
  const vtkIdType* ids = nullptr;
  for (polys->InitTraversal(); polys->GetNextCell(n, ids);)
    if (n == 3) mesh.triangles.push_back({uint32_t(ids[0]), uint32_t(ids[1]), uint32_t(ids[2])});
  // Index space to LPS may mirror (a left-handed direction matrix): keep the
  // triangles' outward orientation.
  const Vec3 c0 = labels.directionLps.column(0), c1 = labels.directionLps.column(1),
             c2 = labels.directionLps.column(2);
  if (dot(cross(c0, c1), c2) < 0)
    for (auto& t : mesh.triangles)
      std::swap(t[1], t[2]);
  return mesh;
}

} // namespace

std::map<int, SurfaceMesh> labelSurfaces(const Volume& labels, const std::vector<int>& wanted,
                                         const MeshOptions& options) {
  // Every wanted label's bounding box in one pass over the volume.
  std::map<int, Box> boxes;
  for (int l : wanted)
    boxes[l];
  for (std::size_t k = 0; k < labels.size[2]; ++k)
    for (std::size_t j = 0; j < labels.size[1]; ++j)
      for (std::size_t i = 0; i < labels.size[0]; ++i) {
        const auto it = boxes.find(labels.hu[labels.offset(i, j, k)]);
        if (it == boxes.end()) continue;
        const std::array<std::size_t, 3> idx{i, j, k};
        for (int c = 0; c < 3; ++c) {
          it->second.lo[c] = std::min(it->second.lo[c], idx[c]);
          it->second.hi[c] = std::max(it->second.hi[c], idx[c]);
        }
      }
  std::map<int, SurfaceMesh> out;
  for (const auto& [l, box] : boxes)
    out[l] = box.empty() ? SurfaceMesh{} : surfaceInBox(labels, l, box, options);
  return out;
}

SurfaceMesh labelSurface(const Volume& labels, int label, const MeshOptions& options) {
  return labelSurfaces(labels, {label}, options)[label];
}

void writeMesh(const SurfaceMesh& mesh, const std::filesystem::path& file, int label) {
  vtkNew<vtkPoints> points;
  points->SetDataTypeToDouble();
  for (const auto& p : mesh.pointsLps)
    points->InsertNextPoint(p.x, p.y, p.z);
  vtkNew<vtkCellArray> cells;
  for (const auto& t : mesh.triangles) {
    const vtkIdType ids[3] = {t[0], t[1], t[2]};
    cells->InsertNextCell(3, ids);
  }
  vtkNew<vtkPolyData> poly;
  poly->SetPoints(points);
  poly->SetPolys(cells);
  // The coordinate system travels with the file (3D Slicer reads "SPACE").
  vtkNew<vtkStringArray> space;
  space->SetName("SPACE");
  space->InsertNextValue("LPS");
  poly->GetFieldData()->AddArray(space);
  vtkNew<vtkIntArray> labelValue;
  labelValue->SetName("Label");
  labelValue->InsertNextValue(label);
  poly->GetFieldData()->AddArray(labelValue);

  const std::string ext = file.extension().string();
  writeFileAtomicallyVia(file, [&](const std::filesystem::path& tmp) {
    int error = 0;
    if (ext == ".stl") {
      vtkNew<vtkSTLWriter> w;
      w->SetInputData(poly);
      w->SetFileName(tmp.c_str());
      w->SetFileTypeToBinary();
      w->SetHeader("SPACE=LPS FluoroPlan label mesh, millimetres");
      w->Write();
      error = int(w->GetErrorCode());
    } else if (ext == ".vtp") {
      vtkNew<vtkXMLPolyDataWriter> w;
      w->SetInputData(poly);
      w->SetFileName(tmp.c_str());
      w->SetDataModeToBinary();
      error = w->Write() == 1 ? int(w->GetErrorCode()) : 1;
    } else {
      throw std::runtime_error(file.string() + ": mesh format must be .vtp or .stl");
    }
    if (error != 0 || !std::filesystem::exists(tmp))
      throw std::runtime_error(file.string() + ": could not write the mesh");
  });
}

} // namespace fluoroplan
