#pragma once
// Server mode: accepted connections whose upgrade request has not fully arrived yet,
// held by the listener at the cost of one descriptor each (nginx's way), so that a
// client sending half a request and waiting (slowloris) costs no process. A connection
// leaves the gate when its request head is complete, and only then gets its processes.
//
// The listener parses nothing a client sends: it only looks (MSG_PEEK) for the blank
// line that ends every HTTP head (RFC 9112 §2.1), and netproc reads the same bytes again.

#include <poll.h>

#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "bridge/common/fd_util.hpp"

namespace wsbridge {

class request_gate {
 public:
  using clock = std::chrono::steady_clock;

  /// `capacity`: connections held at most (when full, the one waiting longest is
  /// closed for a new one). `deadline`: how long one may wait for its head.
  /// `encrypted`: TLS, whose head cannot be seen; a connection then leaves the gate
  /// with its first bytes (the ClientHello).
  request_gate(std::size_t capacity, std::chrono::milliseconds deadline, bool encrypted)
      : capacity_(capacity), deadline_(deadline), encrypted_(encrypted) {}

  /// Takes a newly accepted connection. Returns the peer of a connection closed to
  /// make room for it, or nothing.
  std::optional<std::string> admit(unique_fd fd, std::string peer);

  /// Appends one pollfd per held connection, in order, for service().
  void add_polls(std::vector<pollfd>& fds) const;

  using handler = std::function<void(unique_fd, const std::string&)>;

  /// After poll(): `polled` are the entries add_polls() added. Each connection whose
  /// head is complete (or longer than a head may be: netproc answers it) goes to
  /// `ready`, each whose time is up to `expired` (the listener answers 408); those
  /// that left are closed.
  void service(const pollfd* polled, std::size_t count, const handler& ready, const handler& expired);

  /// Time until the next deadline, if any connection is held.
  std::optional<std::chrono::milliseconds> next_deadline() const;

  std::size_t size() const { return held_.size(); }
  void clear() { held_.clear(); }

 private:
  struct held {
    unique_fd fd;
    std::string peer;
    clock::time_point until;
    /// Not polled before this (a Unix socket, whose poll ignores SO_RCVLOWAT).
    clock::time_point next_look{};
  };
  enum class look { waiting, complete, gone };
  /// Peeks at what the client has sent so far. While it waits, `h` is not reported
  /// readable again until more arrives (look_later).
  look look_at(held& h) const;
  /// A peek leaves the bytes unread, so poll would report the socket readable at
  /// once, again and again: a listener spinning on every half-open connection. The
  /// low-water mark makes it wait for one byte more than `seen`; a Unix socket, whose
  /// poll ignores it, is looked at again after a pause instead.
  static void look_later(held& h, std::size_t seen);

  std::deque<held> held_;  ///< oldest first
  const std::size_t capacity_;
  const std::chrono::milliseconds deadline_;
  const bool encrypted_;
};

}  // namespace wsbridge
