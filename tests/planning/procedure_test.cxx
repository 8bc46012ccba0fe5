#include <gtest/gtest.h>

#include "planning/procedure.h"

using namespace fluoroplan;

TEST(Procedure, JointsAndLevels) {
  EXPECT_EQ(jointLevels("L4-L5"), (std::pair<std::string, std::string>{"L4", "L5"}));
  EXPECT_EQ(jointLevels("L5-S1"), (std::pair<std::string, std::string>{"L5", "sacrum"}));
  EXPECT_EQ(jointLevels("T12-L1"), (std::pair<std::string, std::string>{"T12", "L1"}));
  EXPECT_THROW(jointLevels("L4-L6x"), std::invalid_argument);
  EXPECT_THROW(jointLevels("L3-L5"), std::invalid_argument);
  EXPECT_THROW(jointLevels("L4"), std::invalid_argument);
  EXPECT_EQ(parseJoints("L4-L5,L5-S1").size(), 2u);
  EXPECT_EQ(parseSide("both"), Side::Both);
  EXPECT_THROW(parseSide("up"), std::invalid_argument);
  EXPECT_EQ(parseProcedure("scs"), Procedure::Scs);
}

TEST(Procedure, ScsEntryFromTheTip) {
  EXPECT_EQ(defaultScsEntry("T8"), "T12-L1");
  EXPECT_EQ(defaultScsEntry("T10"), "T12-L1");
  EXPECT_EQ(defaultScsEntry("T12"), "L2-L3");
  EXPECT_EQ(defaultScsEntry("C5"), "C7-T1");
  EXPECT_THROW(defaultScsEntry("X9"), std::invalid_argument);
}
