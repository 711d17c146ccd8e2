#include "bridge/protocol/status_board.hpp"

#include <sys/mman.h>

#include <boost/interprocess/anonymous_shared_memory.hpp>
#include <new>

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

bool status_board_mapping::create(std::string* err) {
  // Anonymous shared memory (MAP_SHARED | MAP_ANONYMOUS): it has no name anywhere, so
  // nothing is left behind if the supervisor is killed, and the children, forks of the
  // supervisor, inherit the mapping.
  try {
    region_ = boost::interprocess::anonymous_shared_memory(sizeof(status_board));
  } catch (const std::exception& e) {
    if (err) *err = std::string("status board: ") + e.what();
    return false;
  }
  board_ = new (region_.get_address()) status_board();
  return true;
}

void status_board_mapping::keep_from_later_forks() {
  if (board_) ::madvise(region_.get_address(), region_.get_size(), MADV_DONTFORK);
}

}  // namespace wsbridge
