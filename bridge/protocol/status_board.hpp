#pragma once
// The status board: a page of shared memory (Boost.Interprocess) where netproc
// publishes the true connection state and counters the moment they change, and
// ioproc publishes how much input it has read. Gauges only: what netproc reports to
// the supervisor (a redirect, how a connection ended) travels as frames on its
// channel (child_fd::to_supervisor), checked as they arrive. The supervisor and ioproc read it at
// any time without asking anyone: there is no event loop whose turn must come first
// (the stale-OPEN failure of python-websockets that motivated wsbridge).
//
// Every field is a lock-free atomic; counters are published before the frames that
// report them are written.

#include <atomic>
#include <boost/interprocess/mapped_region.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "bridge/protocol/limits.hpp"

namespace wsbridge {

enum class connection_state : std::uint32_t {
  starting = 0,     ///< netproc not running yet
  resolving = 1,
  connecting = 2,
  tls_handshake = 3,
  upgrading = 4,    ///< HTTP upgrade request sent
  open = 5,
  closing = 6,      ///< a Close frame was sent or received, handshake not finished
  closed = 7,       ///< closing handshake done or connection lost
  failed = 8,       ///< never opened
};

const char* to_string(connection_state s);

struct status_board {
  std::atomic<connection_state> state{connection_state::starting};
  // Written by netproc. How the connection closed travels in netproc's `closed` frame,
  // in order after the messages; the board holds what must be readable at any time.
  std::atomic<std::uint64_t> messages_sent{0};     ///< taken by the kernel (docs/guide.md)
  std::atomic<std::uint64_t> bytes_sent{0};
  std::atomic<std::uint64_t> messages_received{0}; ///< handed to ioproc
  std::atomic<std::uint64_t> bytes_received{0};
  std::atomic<std::uint32_t> opened{0};           ///< the handshake succeeded at some point
  std::atomic<std::int32_t> sandbox_syscall{0};   ///< a call netproc's filter trapped
  std::atomic<std::uint32_t> close_requested{0};   ///< a close was asked for (/close, Ctrl+C)
  std::atomic<std::uint64_t> opened_count{0};      ///< connections opened, each attempt adds one
  // Written by ioproc.
  std::atomic<std::uint64_t> input_messages{0};   ///< messages framed from input
  std::atomic<std::uint64_t> output_messages{0};  ///< messages written to stdout
  std::atomic<std::uint32_t> input_ended{0};      ///< stdin reached EOF
  std::atomic<std::int32_t> program_pid{0};       ///< --exec: the running program, 0 if none
  std::atomic<std::uint32_t> reconnect_requested{0};  ///< /reconnect (terminal mode)
};

static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
static_assert(std::atomic<connection_state>::is_always_lock_free);

/// A status board in shared memory. The supervisor creates it before it forks the
/// children, which inherit the mapping (MAP_SHARED: all three see the same page).
class status_board_mapping {
 public:
  /// Creates a new zeroed board. Returns false and fills *err.
  bool create(std::string* err);

  status_board* get() const { return board_; }

 private:
  boost::interprocess::mapped_region region_;
  status_board* board_ = nullptr;
};

/// Server mode with --exec: the boards of every connection in one file (a memfd), a
/// page each, so that a netproc that maps its own sees no other. The listener maps
/// none of them: a fork copies the parent's mappings one by one, and with one per
/// connection a fork took 8.6 ms at 10,000 of them (0.24 ms at none). It reads the
/// few fields it acts on with pread instead.
class board_file {
 public:
  /// Returns false and fills *err.
  bool create(std::string* err);
  int fd() const { return fd_; }

  /// A free page, zeroed (a fresh board), or nothing if the file cannot grow.
  std::optional<std::size_t> take();
  void give_back(std::size_t slot) { free_.push_back(slot); }

  /// The fields the listener reads (netproc writes them; untrusted).
  connection_state state(std::size_t slot) const;
  std::int32_t sandbox_syscall(std::size_t slot) const;

  /// In the child: maps `slot` of the file at `fd`; null on failure.
  static status_board* map(int fd, std::size_t slot);

 private:
  template <class T>
  T read_field(std::size_t slot, std::size_t offset) const;

  int fd_ = -1;  ///< never closed: the listener's for its lifetime
  std::size_t slots_ = 0;
  std::vector<std::size_t> free_;
};

}  // namespace wsbridge
