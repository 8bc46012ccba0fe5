#pragma once
// Drawing on RGB pictures for the command line's PNGs: pixels, discs,
// lines, and text in a 5x7 bitmap font (upper case, digits, a few signs),
// so a picture carries its own labels and units.
#include <array>
#include <string>

#include "imaging/io/image_2d.h"

namespace fluoroplan::cli {

using Rgb = std::array<uint8_t, 3>;

void setPixel(Rgb8Image& img, int c, int r, Rgb rgb);
void disc(Rgb8Image& img, double c, double r, int radius, Rgb rgb);
void line(Rgb8Image& img, double c0, double r0, double c1, double r1, Rgb rgb);
Rgb8Image toRgb(const Gray8Image& g);
// Text with its top-left at (c, r), each font pixel `scale` pixels wide, on
// a dark box so it reads over any image. Lower case is drawn as upper case;
// characters the font lacks as '?'. Returns the width drawn.
int drawText(Rgb8Image& img, int c, int r, const std::string& text, Rgb rgb, int scale = 1);

} // namespace fluoroplan::cli
