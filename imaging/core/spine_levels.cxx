#include "imaging/core/spine_levels.h"

#include <cstdlib>

namespace fluoroplan {

std::string verseLevelName(int v) {
  if (v >= 1 && v <= 7) return "C" + std::to_string(v);
  if (v >= 8 && v <= 19) return "T" + std::to_string(v - 7);
  if (v >= 20 && v <= 24) return "L" + std::to_string(v - 19);
  if (v == 25) return "L6";
  if (v == 26) return "sacrum";
  if (v == 28) return "T13";
  return "?";
}

int verseLabelOf(const std::string& level) {
  if (level == "sacrum" || level == "S1") return 26;
  if (level == "T13") return 28;
  if (level == "L6") return 25;
  if (level.size() < 2) return 0;
  const int n = std::atoi(level.c_str() + 1);
  switch (level[0]) {
  case 'C':
    return n >= 1 && n <= 7 ? n : 0;
  case 'T':
    return n >= 1 && n <= 12 ? 7 + n : 0;
  case 'L':
    return n >= 1 && n <= 5 ? 19 + n : 0;
  }
  return 0;
}

int verseFromTotalSegmentator(int t) {
  if (t == 26) return 26;                       // S1 -> sacrum
  if (t >= 27 && t <= 31) return 24 - (t - 27); // L5..L1
  if (t >= 32 && t <= 43) return 19 - (t - 32); // T12..T1
  if (t >= 44 && t <= 50) return 7 - (t - 44);  // C7..C1
  return 0;
}

} // namespace fluoroplan
