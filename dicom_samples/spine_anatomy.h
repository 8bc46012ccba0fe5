#pragma once
// Sizes of the phantom's vertebrae, from published morphometry. Internal to
// dicom_samples.
#include <string>
#include <vector>

namespace fluoroplan::samples {

struct VertebraSize {
  std::string name;
  int label = 0;
  char region = 'L';                                   // 'C', 'T', 'L', 'S'
  double bodyHeight = 0, bodyWidth = 0, bodyDepth = 0; // mm
  double canalWidth = 0, canalDepth = 0;
  double pedicleWidth = 0, pedicleHeight = 0;
  double transverseReach = 0; // TP tip, lateral distance from the midline
  double spinousLength = 0;   // from the lamina, posteriorly
  double discBelow = 0;       // disc height under this vertebra
  double facetAngleDeg = 0;   // joint plane from the sagittal plane (axial view)
  bool ribs = false;
};

// Cranial to caudal, ending with the sacrum, as PhantomOptions asks.
std::vector<VertebraSize> thoracolumbarLevels(const std::string& top, bool t13, bool l6,
                                              bool sacralisedL5);
std::vector<VertebraSize> cervicalLevels(); // C2..T1

} // namespace fluoroplan::samples
