#include "imaging/core/atomic_file.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <random>
#include <stdexcept>
#include <string>
#include <unistd.h>

namespace fluoroplan {
namespace fs = std::filesystem;

namespace {

std::runtime_error ioError(const fs::path& p, const std::string& what) {
  return std::runtime_error(p.string() + ": " + what + ": " + std::strerror(errno));
}

fs::path temporarySibling(const fs::path& target) {
  std::random_device rd;
  std::string name = ".";
  name.append(target.filename().string()).append(".tmp-");
  name.append(std::to_string(::getpid())).append("-").append(std::to_string(rd()));
  return target.parent_path() / name;
}

void syncPath(const fs::path& p, int flags) {
  const int fd = ::open(p.c_str(), flags);
  if (fd < 0) throw ioError(p, "cannot open to sync");
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) throw ioError(p, "fsync failed");
}

void commit(const fs::path& tmp, const fs::path& target) {
  syncPath(tmp, O_RDONLY);
  if (::rename(tmp.c_str(), target.c_str()) != 0) throw ioError(target, "rename failed");
  // Make the rename itself durable.
  const fs::path dir = target.parent_path().empty() ? fs::path(".") : target.parent_path();
  syncPath(dir, O_RDONLY | O_DIRECTORY);
}

} // namespace

void writeFileAtomicallyVia(const fs::path& target,
                            const std::function<void(const fs::path& tmp)>& produce) {
  if (!target.parent_path().empty()) fs::create_directories(target.parent_path());
  const fs::path tmp = temporarySibling(target);
  try {
    produce(tmp);
    commit(tmp, target);
  } catch (...) {
    std::error_code ec;
    fs::remove(tmp, ec);
    throw;
  }
}

void writeFileAtomically(const fs::path& target, std::span<const uint8_t> bytes) {
  writeFileAtomicallyVia(target, [&](const fs::path& tmp) {
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) throw ioError(tmp, "cannot create");
    std::size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
      if (n < 0) {
        if (errno == EINTR) continue;
        ::close(fd);
        throw ioError(tmp, "write failed");
      }
      done += static_cast<std::size_t>(n);
    }
    if (::close(fd) != 0) throw ioError(tmp, "close failed");
  });
}

void writeFileAtomically(const fs::path& target, std::string_view text) {
  writeFileAtomically(
      target, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

} // namespace fluoroplan
