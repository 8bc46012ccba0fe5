#include "imaging/io/gdcm_series_reader.h"

#include <itkGDCMImageIO.h>
#include <itkGDCMSeriesFileNames.h>
#include <itkImage.h>
#include <itkImageSeriesReader.h>

#include <stdexcept>

namespace fluoroplan {

Volume readSeriesWithItkGdcm(const std::filesystem::path& folder) {
  using ImageType = itk::Image<int16_t, 3>;
  auto names = itk::GDCMSeriesFileNames::New();
  names->SetUseSeriesDetails(true);
  names->SetDirectory(folder.string());
  const auto& uids = names->GetSeriesUIDs();
  if (uids.empty()) throw std::runtime_error(folder.string() + ": GDCM found no series");
  auto reader = itk::ImageSeriesReader<ImageType>::New();
  reader->SetImageIO(itk::GDCMImageIO::New());
  reader->SetFileNames(names->GetFileNames(uids.front()));
  try {
    reader->Update();
  } catch (const itk::ExceptionObject& e) {
    throw std::runtime_error(folder.string() + ": ITK/GDCM: " + e.GetDescription());
  }
  ImageType::Pointer img = reader->GetOutput();
  Volume v;
  for (int a = 0; a < 3; ++a) {
    v.size[a] = img->GetLargestPossibleRegion().GetSize()[a];
    v.spacingMm[a] = img->GetSpacing()[a];
    v.originLps[a] = img->GetOrigin()[a];
    for (int r = 0; r < 3; ++r)
      v.directionLps(r, a) = img->GetDirection()(r, a);
  }
  v.hu.assign(img->GetBufferPointer(), img->GetBufferPointer() + v.voxelCount());
  return v;
}

} // namespace fluoroplan
