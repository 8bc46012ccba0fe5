#pragma once
// Text and JSON renderings of a StudyInventory for `fluoroplan info`.
#include <nlohmann/json.hpp>
#include <ostream>

#include "imaging/dicom/study_inventory.h"

namespace fluoroplan::cli {

void printInventory(const StudyInventory& inventory, std::ostream& out);
nlohmann::json inventoryToJson(const StudyInventory& inventory);

} // namespace fluoroplan::cli
