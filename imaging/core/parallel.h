#pragma once
// parallelFor: runs fn(i) for i in [0, count) on `threads` threads (0: all
// cores). The calling thread works too and is the only one that calls the
// progress callback, so callbacks need no locking. An exception from any task
// (or Cancelled from the callback) stops the remaining work and is rethrown.
#include <atomic>
#include <cstddef>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "imaging/core/progress.h"

namespace fluoroplan {

inline unsigned resolveThreadCount(unsigned requested) {
  if (requested > 0) return requested;
  const unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : hw;
}

template <class Fn>
void parallelFor(std::size_t count, unsigned threads, Fn&& fn,
                 const ProgressCallback& progress = {}, const std::string& stage = {}) {
  std::atomic<std::size_t> next{0};
  std::atomic<std::size_t> done{0};
  std::atomic<bool> stop{false};
  std::exception_ptr error;
  std::mutex errorMutex;
  auto work = [&](bool reports) {
    while (!stop.load(std::memory_order_relaxed)) {
      const std::size_t i = next.fetch_add(1);
      if (i >= count) break;
      try {
        fn(i);
        const std::size_t d = done.fetch_add(1) + 1;
        if (reports && progress) reportProgress(progress, double(d) / double(count), stage);
      } catch (...) {
        std::lock_guard lock(errorMutex);
        if (!error) error = std::current_exception();
        stop = true;
      }
    }
  };
  const unsigned n =
      std::min<std::size_t>(resolveThreadCount(threads), std::max<std::size_t>(count, 1));
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < n; ++t)
    pool.emplace_back(work, false);
  work(true);
  for (auto& t : pool)
    t.join();
  if (error) std::rethrow_exception(error);
  // The workers may have finished everything: always close with 100%.
  if (progress) reportProgress(progress, 1.0, stage);
}

} // namespace fluoroplan
