#include "imaging/io/itk_drr_baseline.h"

#include "imaging/io/itk_geometry.h"

#include <itkEuler3DTransform.h>
#include <itkImage.h>
#include <itkImageRegionIterator.h>
#include <itkMultiThreaderBase.h>
#include <itkRayCastInterpolateImageFunction.h>
#include <itkResampleImageFilter.h>

#include <algorithm>

namespace fluoroplan {

using Image3 = itk::Image<float, 3>;

struct ItkDrrBaseline::Impl {
  Image3::Pointer image;
};

ItkDrrBaseline::ItkDrrBaseline(const Volume& ct) : impl_(std::make_unique<Impl>()) {
  auto img = Image3::New();
  detail::setItkGrid(*img, ct);
  img->Allocate();
  float* out = img->GetBufferPointer();
  for (std::size_t i = 0; i < ct.hu.size(); ++i)
    out[i] = std::max(0.f, 1.f + float(ct.hu[i]) / 1000.f);
  impl_->image = img;
}

ItkDrrBaseline::~ItkDrrBaseline() = default;

std::vector<float> ItkDrrBaseline::render(const ItkDrrDetector& d, unsigned threads) const {
  using Interpolator = itk::RayCastInterpolateImageFunction<Image3, double>;
  using Transform = itk::Euler3DTransform<double>;
  auto transform = Transform::New(); // identity: the CT stays where it is
  auto interpolator = Interpolator::New();
  interpolator->SetTransform(transform);
  interpolator->SetThreshold(0);
  Interpolator::InputPointType focal;
  for (unsigned a = 0; a < 3; ++a)
    focal[a] = d.sourceLps[int(a)];
  interpolator->SetFocalPoint(focal);

  auto resample = itk::ResampleImageFilter<Image3, Image3>::New();
  resample->SetInput(impl_->image);
  resample->SetTransform(transform);
  resample->SetInterpolator(interpolator);
  resample->SetDefaultPixelValue(0);
  Image3::SizeType size;
  size[0] = d.columns;
  size[1] = d.rows;
  size[2] = 1;
  Image3::SpacingType spacing;
  spacing[0] = d.pixelMm;
  spacing[1] = d.pixelMm;
  spacing[2] = 1;
  Image3::PointType origin;
  Image3::DirectionType direction;
  const Vec3 normal = cross(d.columnDirLps, d.rowDirLps);
  for (unsigned r = 0; r < 3; ++r) {
    origin[r] = d.firstPixelLps[int(r)];
    direction(r, 0) = d.columnDirLps[int(r)];
    direction(r, 1) = d.rowDirLps[int(r)];
    direction(r, 2) = normal[int(r)];
  }
  resample->SetSize(size);
  resample->SetOutputSpacing(spacing);
  resample->SetOutputOrigin(origin);
  resample->SetOutputDirection(direction);
  if (threads > 0) resample->SetNumberOfWorkUnits(threads);
  resample->Update();
  const Image3* out = resample->GetOutput();
  return std::vector<float>(out->GetBufferPointer(),
                            out->GetBufferPointer() + std::size_t(d.columns) * d.rows);
}

} // namespace fluoroplan
