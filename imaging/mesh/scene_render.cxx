#include "imaging/mesh/scene_render.h"

#include <cstdlib>
#include <stdexcept>

#include <vtkActor.h>
#include <vtkAutoInit.h>
#include <vtkCamera.h>
#include <vtkCellArray.h>
#include <vtkLineSource.h>
#include <vtkNew.h>
#include <vtkPNGWriter.h>
#include <vtkPoints.h>
#include <vtkPolyData.h>
#include <vtkPolyDataMapper.h>
#include <vtkPolyDataNormals.h>
#include <vtkProperty.h>
#include <vtkRenderWindow.h>
#include <vtkRenderer.h>
#include <vtkSphereSource.h>
#include <vtkTubeFilter.h>
#include <vtkWindowToImageFilter.h>

#include "imaging/core/atomic_file.h"

VTK_MODULE_INIT(vtkRenderingOpenGL2);

namespace fluoroplan {

bool hasDisplay() {
  const char* d = std::getenv("DISPLAY");
  return d && *d;
}

void renderScene(const std::vector<SceneMesh>& meshes, const std::vector<ScenePath>& paths,
                 const SceneView& view, const std::filesystem::path& png) {
  if (!hasDisplay())
    throw std::runtime_error(png.string() + ": no X display for VTK (run under xvfb-run -a)");
  vtkNew<vtkRenderer> renderer;
  renderer->SetBackground(0.08, 0.09, 0.12);
  for (const SceneMesh& m : meshes) {
    if (m.mesh.triangles.empty()) continue;
    vtkNew<vtkPoints> pts;
    for (const Vec3& p : m.mesh.pointsLps)
      pts->InsertNextPoint(p.x, p.y, p.z);
    vtkNew<vtkCellArray> cells;
    for (const auto& t : m.mesh.triangles) {
      const vtkIdType ids[3] = {t[0], t[1], t[2]};
      cells->InsertNextCell(3, ids);
    }
    vtkNew<vtkPolyData> poly;
    poly->SetPoints(pts);
    poly->SetPolys(cells);
    vtkNew<vtkPolyDataNormals> normals;
    normals->SetInputData(poly);
    vtkNew<vtkPolyDataMapper> mapper;
    mapper->SetInputConnection(normals->GetOutputPort());
    vtkNew<vtkActor> actor;
    actor->SetMapper(mapper);
    actor->GetProperty()->SetColor(m.rgb[0], m.rgb[1], m.rgb[2]);
    actor->GetProperty()->SetOpacity(m.opacity);
    renderer->AddActor(actor);
  }
  for (const ScenePath& p : paths) {
    vtkNew<vtkLineSource> line;
    line->SetPoint1(p.fromLps.x, p.fromLps.y, p.fromLps.z);
    line->SetPoint2(p.toLps.x, p.toLps.y, p.toLps.z);
    vtkNew<vtkTubeFilter> tube;
    tube->SetInputConnection(line->GetOutputPort());
    tube->SetRadius(p.radiusMm);
    tube->SetNumberOfSides(12);
    vtkNew<vtkPolyDataMapper> mapper;
    mapper->SetInputConnection(tube->GetOutputPort());
    vtkNew<vtkActor> actor;
    actor->SetMapper(mapper);
    actor->GetProperty()->SetColor(p.rgb[0], p.rgb[1], p.rgb[2]);
    renderer->AddActor(actor);
    vtkNew<vtkSphereSource> tip;
    tip->SetCenter(p.toLps.x, p.toLps.y, p.toLps.z);
    tip->SetRadius(2.0);
    vtkNew<vtkPolyDataMapper> tipMapper;
    tipMapper->SetInputConnection(tip->GetOutputPort());
    vtkNew<vtkActor> tipActor;
    tipActor->SetMapper(tipMapper);
    tipActor->GetProperty()->SetColor(0.2, 1.0, 0.3);
    renderer->AddActor(tipActor);
  }
  renderer->ResetCamera();
  vtkCamera* cam = renderer->GetActiveCamera();
  double focal[3];
  cam->GetFocalPoint(focal);
  const double dist = cam->GetDistance();
  const Vec3 from = normalized(view.lookFromLps);
  cam->SetPosition(focal[0] + dist * from.x, focal[1] + dist * from.y, focal[2] + dist * from.z);
  cam->SetViewUp(view.upLps.x, view.upLps.y, view.upLps.z);
  renderer->ResetCamera();
  renderer->ResetCameraClippingRange();

  vtkNew<vtkRenderWindow> window;
  window->SetOffScreenRendering(1);
  window->AddRenderer(renderer);
  window->SetSize(int(view.width), int(view.height));
  window->Render();
  vtkNew<vtkWindowToImageFilter> grab;
  grab->SetInput(window);
  grab->ReadFrontBufferOff();
  grab->Update();
  writeFileAtomicallyVia(png, [&](const std::filesystem::path& tmp) {
    vtkNew<vtkPNGWriter> writer;
    writer->SetFileName(tmp.c_str());
    writer->SetInputConnection(grab->GetOutputPort());
    writer->Write();
    if (writer->GetErrorCode() != 0 || !std::filesystem::exists(tmp))
      throw std::runtime_error(png.string() + ": could not write the rendering");
  });
}

} // namespace fluoroplan
