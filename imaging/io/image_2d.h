#pragma once
// 2D greyscale pictures (frames, slices) to and from PNG through ITK.
#include <cstdint>
#include <filesystem>
#include <vector>

namespace fluoroplan {

struct Gray8Image {
  uint32_t width = 0, height = 0;
  std::vector<uint8_t> pixels; // row-major, top row first
};

Gray8Image readPng(const std::filesystem::path& path); // throws std::runtime_error naming the file
void writePng(const Gray8Image& image, const std::filesystem::path& path); // atomic

struct Rgb8Image {
  uint32_t width = 0, height = 0;
  std::vector<uint8_t> rgb; // 3 bytes per pixel, row-major
};
void writePng(const Rgb8Image& image, const std::filesystem::path& path); // atomic

// Greyscale picture with labels blended in colour (label 0: none).
Rgb8Image overlayLabels(const Gray8Image& grey, const std::vector<int32_t>& labels,
                        double opacity = 0.45);

// Maps values to 0..255 with a window (centre, width), as a viewer shows them.
Gray8Image windowToGray8(const std::vector<int32_t>& values, uint32_t width, uint32_t height,
                         double centre, double windowWidth);

} // namespace fluoroplan
