#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "imaging/core/atomic_file.h"

namespace fs = std::filesystem;
using namespace fluoroplan;

namespace {
std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}
fs::path dir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const fs::path d = fs::path(::testing::TempDir()) / ("fp-atomic-" + std::string(info->name()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}
} // namespace

TEST(AtomicFile, WritesAndReplaces) {
  const fs::path f = dir() / "case.json";
  writeFileAtomically(f, std::string_view("first"));
  EXPECT_EQ(slurp(f), "first");
  writeFileAtomically(f, std::string_view("second"));
  EXPECT_EQ(slurp(f), "second");
  // No temporary left behind.
  int files = 0;
  for (const auto& e : fs::directory_iterator(f.parent_path()))
    files += e.is_regular_file();
  EXPECT_EQ(files, 1);
}

TEST(AtomicFile, FailedProducerKeepsOldFileAndLeavesNoTemporary) {
  const fs::path f = dir() / "plan.json";
  writeFileAtomically(f, std::string_view("good"));
  EXPECT_THROW(writeFileAtomicallyVia(f,
                                      [](const fs::path& tmp) {
                                        std::ofstream(tmp) << "half";
                                        throw std::runtime_error("disk full");
                                      }),
               std::runtime_error);
  EXPECT_EQ(slurp(f), "good");
  int files = 0;
  for (const auto& e : fs::directory_iterator(f.parent_path()))
    files += e.is_regular_file();
  EXPECT_EQ(files, 1);
}

TEST(AtomicFile, UnwritableFolderNamesTheFile) {
  try {
    writeFileAtomically("/proc/fluoroplan-cannot-write/x.json", std::string_view("x"));
    FAIL() << "expected an error";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("fluoroplan-cannot-write"), std::string::npos) << e.what();
  }
}
