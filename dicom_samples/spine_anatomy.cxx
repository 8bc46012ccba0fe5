#include "dicom_samples/spine_anatomy.h"

#include <algorithm>
#include <stdexcept>

namespace fluoroplan::samples {

namespace {

// Thoracic bodies, canals and pedicles: Panjabi MM et al., "Thoracic human
// vertebrae. Quantitative three-dimensional anatomy", Spine 1991;16:888-901
// (body height ~19 mm at T6 to ~23 mm at T12, width 30-38 mm, depth 27-32 mm,
// canal width 14.5-17.5 mm). Lumbar: Panjabi MM et al., "Human lumbar
// vertebrae. Quantitative three-dimensional anatomy", Spine 1992;17:299-306
// (body height ~25-27 mm, width 40-49 mm, depth 33-35 mm, canal width
// 22-24 mm, depth ~17-18 mm). Pedicle widths: Zindrick MR et al., Spine
// 1987;12:160-166 (T6 ~4.5 mm, T12 ~7.8 mm, L1 8.7 mm rising to L5 ~18 mm).
// Disc heights: thoracic ~5-6 mm, lumbar ~9-12 mm with L4-L5 the tallest.
// Facet orientation (joint plane to the sagittal plane): lumbar ~30-50
// degrees, more coronal at L5-S1; thoracic facets are near coronal (~70).
//                 name  lab reg  bodyH bodyW bodyD canW canD pedW pedH  TP   SP  disc facet ribs
const VertebraSize kThoracolumbar[] = {
    {"T1", 8, 'T', 15.0, 28.0, 18.0, 18.0, 14.0, 7.5, 9.0, 40.0, 28.0, 4.0, 70, true},
    {"T2", 9, 'T', 16.0, 27.0, 19.0, 16.0, 14.5, 6.0, 10.0, 40.0, 30.0, 4.5, 70, true},
    {"T3", 10, 'T', 17.0, 27.0, 21.0, 15.0, 14.5, 5.0, 10.5, 39.0, 30.0, 4.5, 70, true},
    {"T4", 11, 'T', 17.5, 28.0, 23.0, 14.5, 14.5, 4.5, 10.5, 38.0, 30.0, 4.5, 70, true},
    {"T5", 12, 'T', 18.0, 29.0, 25.0, 14.5, 14.5, 4.5, 11.0, 37.0, 30.0, 5.0, 70, true},
    {"T6", 13, 'T', 19.0, 30.0, 27.0, 14.5, 15.0, 4.7, 11.0, 36.0, 30.0, 5.0, 70, true},
    {"T7", 14, 'T', 19.5, 31.0, 28.0, 14.8, 15.0, 5.0, 11.5, 35.0, 30.0, 5.0, 70, true},
    {"T8", 15, 'T', 20.0, 32.0, 29.0, 15.0, 15.0, 5.5, 12.0, 35.0, 29.0, 5.5, 70, true},
    {"T9", 16, 'T', 20.5, 33.0, 30.0, 15.5, 15.5, 6.0, 12.5, 34.0, 28.0, 5.5, 70, true},
    {"T10", 17, 'T', 21.5, 34.0, 30.5, 16.0, 15.5, 6.5, 13.5, 33.0, 27.0, 6.0, 65, true},
    {"T11", 18, 'T', 22.0, 36.0, 31.0, 17.0, 16.0, 7.5, 15.0, 30.0, 27.0, 6.5, 45, true},
    {"T12", 19, 'T', 23.0, 38.0, 32.0, 17.5, 16.5, 7.8, 15.5, 28.0, 27.0, 7.5, 35, true},
    {"L1", 20, 'L', 24.5, 40.0, 33.0, 21.6, 17.7, 8.7, 15.5, 36.0, 27.0, 9.0, 30, false},
    {"L2", 21, 'L', 25.0, 42.0, 33.5, 22.0, 17.5, 8.9, 15.0, 40.0, 27.0, 10.0, 32, false},
    {"L3", 22, 'L', 25.5, 44.0, 34.0, 22.5, 17.0, 10.3, 14.5, 45.0, 27.0, 11.0, 35, false},
    {"L4", 23, 'L', 25.5, 46.0, 34.5, 23.0, 17.5, 12.9, 14.0, 42.0, 25.0, 12.0, 40, false},
    {"L5", 24, 'L', 25.0, 49.0, 35.0, 24.0, 18.0, 18.0, 13.5, 44.0, 20.0, 10.0, 50, false},
};

const VertebraSize kSacrum{"S1", 26,   'S',  30.0, 50.0, 34.0, 26.0, 14.0,
                           20.0, 16.0, 55.0, 15.0, 0.0,  55,   false};

// Cervical: C3-C7 bodies ~15 mm wide x 15 mm deep x 14 mm high, canal
// ~23 x 14 mm, lateral masses at ~22 mm from the midline (Panjabi MM et al.,
// "Cervical human vertebrae", Spine 1991;16:861-869). Facets are tilted
// ~45 degrees to the axial plane; here the joint plane is near coronal.
const VertebraSize kCervical[] = {
    {"C2", 2, 'C', 22.0, 17.0, 16.0, 24.0, 15.0, 7.0, 9.0, 26.0, 30.0, 4.5, 80, false},
    {"C3", 3, 'C', 14.0, 16.0, 15.5, 23.5, 14.0, 5.0, 7.0, 25.0, 22.0, 4.5, 80, false},
    {"C4", 4, 'C', 13.5, 16.5, 15.5, 24.0, 14.0, 5.0, 7.0, 25.0, 22.0, 5.0, 80, false},
    {"C5", 5, 'C', 13.5, 17.5, 16.0, 24.5, 14.0, 5.3, 7.0, 26.0, 24.0, 5.0, 80, false},
    {"C6", 6, 'C', 13.5, 19.0, 16.5, 24.5, 14.0, 5.5, 7.0, 27.0, 28.0, 5.0, 80, false},
    {"C7", 7, 'C', 14.5, 21.0, 17.0, 24.0, 14.0, 6.0, 7.5, 33.0, 40.0, 4.5, 75, false},
};

} // namespace

std::vector<VertebraSize> thoracolumbarLevels(const std::string& top, bool t13, bool l6,
                                              bool sacralisedL5) {
  std::vector<VertebraSize> out;
  bool on = false;
  for (const auto& v : kThoracolumbar) {
    if (v.name == top) on = true;
    if (!on) continue;
    out.push_back(v);
    if (v.name == "T12" && t13) {
      VertebraSize t = v; // a rib-bearing transitional vertebra, sized between T12 and L1
      t.name = "T13";
      t.label = 28;
      t.bodyHeight = 24;
      t.bodyWidth = 39;
      t.discBelow = 8;
      out.push_back(t);
    }
    if (v.name == "L5" && l6) {
      out.back().discBelow = 11;
      VertebraSize s = v;
      s.name = "L6";
      s.label = 25;
      s.pedicleWidth = 18.5;
      s.discBelow = 9.0;
      out.push_back(s);
    }
  }
  if (out.empty()) throw std::invalid_argument("unknown top level " + top);
  if (sacralisedL5) {
    // Transitional L5: wide transverse processes meeting the sacral ala and
    // a rudimentary L5-S1 disc (Castellvi type III).
    for (auto& v : out)
      if (v.name == "L5") {
        v.transverseReach = 55;
        v.discBelow = 3.0;
      }
  }
  out.push_back(kSacrum);
  return out;
}

std::vector<VertebraSize> cervicalLevels() {
  std::vector<VertebraSize> out(std::begin(kCervical), std::end(kCervical));
  VertebraSize t1 = kThoracolumbar[0];
  t1.ribs = true;
  out.push_back(t1);
  return out;
}

} // namespace fluoroplan::samples
