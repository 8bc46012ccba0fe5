#pragma once
// Vertebral level names and their label numbers: VerSe numbering (C1=1..C7=7,
// T1=8..T12=19, L1=20..L5=24, L6=25, sacrum=26, T13=28), the one table every
// layer uses, and the mapping from TotalSegmentator v2's numbers.
#include <string>

namespace fluoroplan {

std::string verseLevelName(int verseLabel); // "T12", "L6", "sacrum", "T13"; "?" if none
int verseLabelOf(const std::string& level); // 0 when not a level name; "S1" means the sacrum
int verseFromTotalSegmentator(int totalSegmentatorLabel); // 0 when not a vertebra

} // namespace fluoroplan
