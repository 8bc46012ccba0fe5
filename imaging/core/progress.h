#pragma once
// Progress reporting and cancellation for long work (load, segment, register).
// The callback receives the fraction done (0..1) and a short stage name and
// returns false to ask for cancellation; the worker then throws Cancelled at
// its next check.
#include <functional>
#include <stdexcept>
#include <string_view>

namespace fluoroplan {

struct Cancelled : std::runtime_error {
  Cancelled() : std::runtime_error("cancelled by the user") {}
};

using ProgressCallback = std::function<bool(double fraction, std::string_view stage)>;

// Calls the callback (if any) and throws Cancelled when it asks to stop.
inline void reportProgress(const ProgressCallback& cb, double fraction, std::string_view stage) {
  if (cb && !cb(fraction, stage)) throw Cancelled();
}

} // namespace fluoroplan
