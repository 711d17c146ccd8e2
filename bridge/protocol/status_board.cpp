#include "bridge/protocol/status_board.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>

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

namespace {
constexpr std::size_t board_page = 4096;
static_assert(sizeof(status_board) <= board_page);
}  // namespace

bool board_file::create(std::string* err) {
  fd_ = ::memfd_create("wsbridge-boards", MFD_CLOEXEC);
  if (fd_ < 0 && err) *err = std::string("status boards: memfd_create: ") + std::strerror(errno);
  return fd_ >= 0;
}

std::optional<std::size_t> board_file::take() {
  std::size_t slot;
  if (!free_.empty()) {
    slot = free_.back();
    free_.pop_back();
  } else {
    slot = slots_;
    if (::ftruncate(fd_, static_cast<off_t>((slots_ + 1) * board_page)) != 0) return std::nullopt;
    ++slots_;
  }
  // Zero bytes are a fresh board (every field's initial value is 0).
  static const char zeros[sizeof(status_board)] = {};
  if (::pwrite(fd_, zeros, sizeof zeros, static_cast<off_t>(slot * board_page)) != sizeof zeros) return std::nullopt;
  return slot;
}

template <class T>
T board_file::read_field(std::size_t slot, std::size_t offset) const {
  T value{};
  if (::pread(fd_, &value, sizeof value, static_cast<off_t>(slot * board_page + offset)) != sizeof value) return T{};
  return value;
}

connection_state board_file::state(std::size_t slot) const {
  return static_cast<connection_state>(read_field<std::uint32_t>(slot, offsetof(status_board, state)));
}

std::int32_t board_file::sandbox_syscall(std::size_t slot) const {
  return read_field<std::int32_t>(slot, offsetof(status_board, sandbox_syscall));
}

status_board* board_file::map(int fd, std::size_t slot) {
  void* p = ::mmap(nullptr, board_page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, static_cast<off_t>(slot * board_page));
  return p == MAP_FAILED ? nullptr : static_cast<status_board*>(p);
}

}  // namespace wsbridge
