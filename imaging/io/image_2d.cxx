#include "imaging/io/image_2d.h"

#include <itkImage.h>
#include <itkImageFileReader.h>
#include <itkImageFileWriter.h>
#include <itkPNGImageIO.h>
#include <itkRGBPixel.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "imaging/core/atomic_file.h"

namespace fluoroplan {
namespace fs = std::filesystem;
using Image2D = itk::Image<uint8_t, 2>;

namespace {
// Writes any 2D ITK image as PNG, atomically, naming the file on failure.
template <class ImageType> void writePngAtomically(ImageType* img, const fs::path& path) {
  writeFileAtomicallyVia(path, [&](const fs::path& tmp) {
    auto writer = itk::ImageFileWriter<ImageType>::New();
    writer->SetImageIO(itk::PNGImageIO::New());
    writer->SetFileName(tmp.string());
    writer->SetInput(img);
    try {
      writer->Update();
    } catch (const itk::ExceptionObject& e) {
      throw std::runtime_error(path.string() + ": cannot write PNG: " + e.GetDescription());
    }
  });
}
} // namespace

Gray8Image readPng(const fs::path& path) {
  auto reader = itk::ImageFileReader<Image2D>::New();
  reader->SetImageIO(itk::PNGImageIO::New());
  reader->SetFileName(path.string());
  try {
    reader->Update();
  } catch (const itk::ExceptionObject& e) {
    throw std::runtime_error(path.string() + ": cannot read PNG: " + e.GetDescription());
  }
  const auto size = reader->GetOutput()->GetLargestPossibleRegion().GetSize();
  Gray8Image out;
  out.width = static_cast<uint32_t>(size[0]);
  out.height = static_cast<uint32_t>(size[1]);
  const uint8_t* p = reader->GetOutput()->GetBufferPointer();
  out.pixels.assign(p, p + std::size_t(out.width) * out.height);
  return out;
}

void writePng(const Gray8Image& image, const fs::path& path) {
  if (image.pixels.size() != std::size_t(image.width) * image.height)
    throw std::runtime_error(path.string() + ": image buffer does not match its size");
  auto img = Image2D::New();
  Image2D::RegionType region;
  region.SetSize(0, image.width);
  region.SetSize(1, image.height);
  img->SetRegions(region);
  img->GetPixelContainer()->SetImportPointer(const_cast<uint8_t*>(image.pixels.data()),
                                             image.pixels.size(), false);
  writePngAtomically(img.GetPointer(), path);
}

void writePng(const Rgb8Image& image, const fs::path& path) {
  using RgbImage = itk::Image<itk::RGBPixel<uint8_t>, 2>;
  if (image.rgb.size() != std::size_t(image.width) * image.height * 3)
    throw std::runtime_error(path.string() + ": image buffer does not match its size");
  auto img = RgbImage::New();
  RgbImage::RegionType region;
  region.SetSize(0, image.width);
  region.SetSize(1, image.height);
  img->SetRegions(region);
  img->Allocate();
  auto* px = img->GetBufferPointer();
  for (std::size_t i = 0; i < std::size_t(image.width) * image.height; ++i)
    px[i].Set(image.rgb[3 * i], image.rgb[3 * i + 1], image.rgb[3 * i + 2]);
  writePngAtomically(img.GetPointer(), path);
}

Rgb8Image overlayLabels(const Gray8Image& grey, const std::vector<int32_t>& labels,
                        double opacity) {
  Rgb8Image out{grey.width, grey.height, std::vector<uint8_t>(grey.pixels.size() * 3)};
  for (std::size_t i = 0; i < grey.pixels.size(); ++i) {
    double r = grey.pixels[i], g = r, b = r;
    const int l = i < labels.size() ? labels[i] : 0;
    if (l > 0) {
      // A distinct hue per label: golden-ratio steps around the colour wheel.
      const double hue = std::fmod(l * 0.618033988749895, 1.0) * 6.0;
      const double x = 1 - std::abs(std::fmod(hue, 2.0) - 1);
      double cr = 0, cg = 0, cb = 0;
      switch (int(hue)) {
      case 0:
        cr = 1;
        cg = x;
        break;
      case 1:
        cr = x;
        cg = 1;
        break;
      case 2:
        cg = 1;
        cb = x;
        break;
      case 3:
        cg = x;
        cb = 1;
        break;
      case 4:
        cr = x;
        cb = 1;
        break;
      default:
        cr = 1;
        cb = x;
        break;
      }
      r = (1 - opacity) * r + opacity * 255 * cr;
      g = (1 - opacity) * g + opacity * 255 * cg;
      b = (1 - opacity) * b + opacity * 255 * cb;
    }
    out.rgb[3 * i] = static_cast<uint8_t>(r);
    out.rgb[3 * i + 1] = static_cast<uint8_t>(g);
    out.rgb[3 * i + 2] = static_cast<uint8_t>(b);
  }
  return out;
}

Gray8Image windowToGray8(const std::vector<int32_t>& values, uint32_t width, uint32_t height,
                         double centre, double windowWidth) {
  Gray8Image out{width, height, std::vector<uint8_t>(std::size_t(width) * height)};
  const double lo = centre - windowWidth / 2;
  const double scale = windowWidth > 0 ? 255.0 / windowWidth : 0;
  for (std::size_t i = 0; i < out.pixels.size() && i < values.size(); ++i)
    out.pixels[i] =
        static_cast<uint8_t>(std::clamp(std::lround((values[i] - lo) * scale), 0L, 255L));
  return out;
}

} // namespace fluoroplan
