#pragma once
// Atomic file writes: data goes to a temporary file in the same folder, is
// flushed to disk, then renamed over the target, so a reader (or a crash)
// sees either the old file or the complete new one, never a partial one.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <string_view>

namespace fluoroplan {

void writeFileAtomically(const std::filesystem::path& target, std::span<const uint8_t> bytes);
void writeFileAtomically(const std::filesystem::path& target, std::string_view text);

// For writers that need a path (DCMTK, ITK): `produce` writes the temporary
// path it is given; on success the file is synced and renamed to `target`,
// on any exception the temporary file is removed and the error rethrown.
void writeFileAtomicallyVia(const std::filesystem::path& target,
                            const std::function<void(const std::filesystem::path& tmp)>& produce);

} // namespace fluoroplan
