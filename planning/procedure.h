#pragma once
// What the pain specialist asks for: the procedure, the facet joints or the
// SCS levels, the side, the needle; and which nerves that means.
#include <string>
#include <vector>

namespace fluoroplan {

enum class Procedure { FacetBlock, FacetRf, Scs };
enum class Side { Left, Right, Both };

struct Needle {
  double gauge = 18;
  double lengthMm = 100;
  double activeTipMm = 10; // RF only
};

struct ProcedureRequest {
  Procedure procedure = Procedure::FacetRf;
  std::vector<std::string> joints; // "L4-L5", "L5-S1", "T11-T12"
  Side side = Side::Left;
  bool prone = true; // lumbar and thoracic facets and SCS are done prone
  Needle needle;
  std::string scsEntry; // interlaminar entry "T12-L1"; empty: chosen from the tip level
  std::string scsTip;   // lead-tip level "T8"
};

Procedure parseProcedure(const std::string& s);             // "facet-rf", "facet-block", "scs"
Side parseSide(const std::string& s);                       // "left", "right", "both"
std::vector<std::string> parseJoints(const std::string& s); // "L4-L5,L5-S1"
std::string procedureName(Procedure p);
std::vector<std::string> sidesOf(Side s); // {"left"}, {"right"} or both

// The two vertebrae of a facet joint "L4-L5" -> {"L4", "L5"}; "L5-S1" ->
// {"L5", "sacrum"}. Throws std::invalid_argument for anything else.
std::pair<std::string, std::string> jointLevels(const std::string& joint);

// Interlaminar entry for an SCS lead tip (DESIGN.md section 3: T12-L1,
// L1-L2 or L2-L3 for a T8-T10 target; L2-L3 lies below the conus, the
// safest). Cervical targets: C7-T1.
std::string defaultScsEntry(const std::string& tipLevel);

} // namespace fluoroplan
