#pragma once
// Vertebral level names and their label numbers: VerSe numbering (C1=1..C7=7,
// T1=8..T12=19, L1=20..L5=24, L6=25, sacrum=26, T13=28), the one table every
// layer uses, and the mapping from TotalSegmentator v2's numbers.
#include <cstdint>
#include <string>

namespace fluoroplan {

// Label values of label maps (truth and segmentation alike).
namespace spine_label {
constexpr int16_t kSacrum = 26;
constexpr int16_t kT13 = 28;
constexpr int16_t kDiscBase = 100;    // disc below vertebra v: 100 + v
constexpr int16_t kSpinalCanal = 200; // bony canal contents: dura, CSF, cord, epidural fat
constexpr int16_t kNeuralForamen = 201;
constexpr int16_t kExitingRoot = 202;
constexpr int16_t kLung = 210;
constexpr int16_t kKidney = 211;
constexpr int16_t kAorta = 212;
constexpr int16_t kVenaCava = 213;
constexpr int16_t kVertebralArtery = 214;
constexpr int16_t kRib = 220;
constexpr int16_t kIlium = 221;
// A vertebra's label: C1..L6, the sacrum or T13.
constexpr bool isVertebra(int l) {
  return (l >= 1 && l <= kSacrum) || l == kT13;
}
} // namespace spine_label

std::string verseLevelName(int verseLabel); // "T12", "L6", "sacrum", "T13"; "?" if none
int verseLabelOf(const std::string& level); // 0 when not a level name; "S1" means the sacrum
int verseFromTotalSegmentator(int totalSegmentatorLabel); // 0 when not a vertebra

} // namespace fluoroplan
