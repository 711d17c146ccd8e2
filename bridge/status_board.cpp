#include "bridge/status_board.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <new>
#include <sys/mman.h>
#include <unistd.h>

#include "bridge/fd_util.hpp"

namespace wsbridge {

const char* to_string(connection_state s) {
  switch (s) {
    case connection_state::starting: return "starting";
    case connection_state::resolving: return "resolving";
    case connection_state::connecting: return "connecting";
    case connection_state::tls_handshake: return "tls_handshake";
    case connection_state::upgrading: return "upgrading";
    case connection_state::open: return "open";
    case connection_state::closing: return "closing";
    case connection_state::closed: return "closed";
    case connection_state::failed: return "failed";
  }
  return "unknown";
}

void status_board::publish_close(std::uint16_t code, bool by_server, const std::string& r,
                                 connection_state final_state) {
  const std::size_t n = std::min(r.size(), sizeof close_reason);
  std::memcpy(close_reason, r.data(), n);
  close_reason_size.store(static_cast<std::uint32_t>(n), std::memory_order_relaxed);
  close_code.store(code, std::memory_order_relaxed);
  closed_by_server.store(by_server ? 1 : 0, std::memory_order_relaxed);
  state.store(final_state, std::memory_order_release);
}

bool status_board_mapping::create(std::string* err) {
  // A memfd has no name in /dev/shm, so nothing is left behind if the supervisor is
  // killed; once mapped, its descriptor is not needed (the forks inherit the mapping).
  unique_fd fd(::memfd_create("wsbridge-status", MFD_CLOEXEC));
  if (!fd || ::ftruncate(fd.get(), sizeof(status_board)) != 0) {
    if (err) *err = "status board: " + errno_text(errno);
    return false;
  }
  try {
    // Boost.Interprocess maps by name; /proc/self/fd/N names our own descriptor.
    const std::string path = "/proc/self/fd/" + std::to_string(fd.get());
    boost::interprocess::file_mapping file(path.c_str(), boost::interprocess::read_write);
    region_ = boost::interprocess::mapped_region(file, boost::interprocess::read_write, 0,
                                                 sizeof(status_board));
  } catch (const std::exception& e) {
    if (err) *err = std::string("status board: ") + e.what();
    return false;
  }
  board_ = new (region_.get_address()) status_board();
  return true;
}

}  // namespace wsbridge
