#pragma once
// Internal to imaging/io: an itk::Image laid on a Volume's grid (size,
// spacing, origin and axes in LPS, as ITK's physical space is).
#include "imaging/core/volume.h"

namespace fluoroplan::detail {

template <typename ItkImage> void setItkGrid(ItkImage& img, const Volume& v) {
  typename ItkImage::RegionType region;
  typename ItkImage::SpacingType spacing;
  typename ItkImage::PointType origin;
  typename ItkImage::DirectionType direction;
  for (unsigned a = 0; a < 3; ++a) {
    region.SetSize(a, v.size[a]);
    spacing[a] = v.spacingMm[int(a)];
    origin[a] = v.originLps[int(a)];
    for (unsigned r = 0; r < 3; ++r)
      direction(r, a) = v.directionLps(int(r), int(a));
  }
  img.SetRegions(region);
  img.SetSpacing(spacing);
  img.SetOrigin(origin);
  img.SetDirection(direction);
}

} // namespace fluoroplan::detail
