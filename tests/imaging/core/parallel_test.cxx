#include <gtest/gtest.h>

#include <atomic>

#include "imaging/core/parallel.h"

using namespace fluoroplan;

TEST(Parallel, RunsEveryIndexOnce) {
  std::vector<std::atomic<int>> hits(1000);
  parallelFor(hits.size(), 4, [&](std::size_t i) { hits[i]++; });
  for (auto& h : hits)
    EXPECT_EQ(h.load(), 1);
}

TEST(Parallel, ReportsProgressUpToOne) {
  double last = 0;
  int calls = 0;
  parallelFor(
      100, 2, [](std::size_t) {},
      [&](double f, std::string_view stage) {
        EXPECT_EQ(stage, "stage");
        last = f;
        ++calls;
        return true;
      },
      "stage");
  EXPECT_GT(calls, 0);
  EXPECT_LE(last, 1.0);
}

TEST(Parallel, CancellationStopsWork) {
  std::atomic<int> ran{0};
  EXPECT_THROW(
      parallelFor(
          100000, 1, [&](std::size_t) { ran++; }, [](double, std::string_view) { return false; }),
      Cancelled);
  EXPECT_LT(ran.load(), 100000);
}

TEST(Parallel, TaskExceptionIsRethrown) {
  EXPECT_THROW(parallelFor(50, 2,
                           [](std::size_t i) {
                             if (i == 17) throw std::runtime_error("bad slice");
                           }),
               std::runtime_error);
}
