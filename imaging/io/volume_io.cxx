#include "imaging/io/volume_io.h"
#include "imaging/io/itk_geometry.h"

#include <itkImage.h>
#include <itkImageFileReader.h>
#include <itkImageFileWriter.h>
#include <itkImageIOBase.h>
#include <itkImageIOFactory.h>
#include <itkNiftiImageIOFactory.h>
#include <itkNrrdImageIOFactory.h>

#include <algorithm>
#include <cmath>
#include <mutex>

#include "imaging/core/atomic_file.h"

namespace fluoroplan {
namespace fs = std::filesystem;

namespace {

void registerFactories() {
  // ITK's IO factories are process-wide; register the two we use once.
  static std::once_flag once;
  std::call_once(once, [] {
    itk::NiftiImageIOFactory::RegisterOneFactory();
    itk::NrrdImageIOFactory::RegisterOneFactory();
  });
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

} // namespace

bool isResearchVolumeFile(const fs::path& path) {
  const std::string name = lower(path.filename().string());
  auto ends = [&](const char* suffix) {
    const std::string s(suffix);
    return name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0;
  };
  return ends(".nii") || ends(".nii.gz") || ends(".nrrd") || ends(".nhdr");
}

Volume readVolumeFile(const fs::path& path) {
  registerFactories();
  using ImageType = itk::Image<float, 3>;
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) throw VolumeFileError(path.string() + ": no such file");
  auto reader = itk::ImageFileReader<ImageType>::New();
  reader->SetFileName(path.string());
  try {
    reader->Update();
  } catch (const itk::ExceptionObject& e) {
    throw VolumeFileError(path.string() + ": cannot read volume: " + e.GetDescription());
  }
  ImageType::Pointer img = reader->GetOutput();
  const auto region = img->GetLargestPossibleRegion();
  Volume v;
  for (int a = 0; a < 3; ++a) {
    v.size[a] = region.GetSize()[a];
    v.spacingMm[a] = img->GetSpacing()[a];
    v.originLps[a] = img->GetOrigin()[a];
    for (int r = 0; r < 3; ++r)
      v.directionLps(r, a) = img->GetDirection()(r, a);
  }
  if (v.empty()) throw VolumeFileError(path.string() + ": volume has no voxels");
  for (int a = 0; a < 3; ++a)
    if (!(v.spacingMm[a] > 0))
      throw VolumeFileError(path.string() + ": spacing is zero or negative");
  const float* data = img->GetBufferPointer();
  v.hu.resize(v.voxelCount());
  for (std::size_t i = 0; i < v.hu.size(); ++i) {
    const float x = data[i];
    v.hu[i] = std::isfinite(x)
                  ? static_cast<int16_t>(std::clamp(std::nearbyint(x), -32768.0f, 32767.0f))
                  : 0;
  }
  return v;
}

void writeVolumeFile(const Volume& v, const fs::path& path) {
  registerFactories();
  using ImageType = itk::Image<int16_t, 3>;
  auto img = ImageType::New();
  detail::setItkGrid(*img, v);
  // Borrow the voxels: ITK must not free them.
  img->GetPixelContainer()->SetImportPointer(const_cast<int16_t*>(v.hu.data()), v.hu.size(), false);
  // ITK picks the format from the extension, so the temporary keeps it.
  const std::string name = path.filename().string();
  const auto dot =
      lower(name).find(".nii.gz") != std::string::npos ? name.size() - 7 : name.rfind('.');
  const std::string ext = dot == std::string::npos ? "" : name.substr(dot);
  writeFileAtomicallyVia(path, [&](const fs::path& tmp) {
    const fs::path tmpWithExt = tmp.string() + ext;
    auto writer = itk::ImageFileWriter<ImageType>::New();
    writer->SetFileName(tmpWithExt.string());
    writer->SetInput(img);
    writer->SetUseCompression(true);
    try {
      writer->Update();
    } catch (const itk::ExceptionObject& e) {
      fs::remove(tmpWithExt);
      throw VolumeFileError(path.string() + ": cannot write volume: " + e.GetDescription());
    }
    fs::rename(tmpWithExt, tmp);
  });
}

} // namespace fluoroplan
