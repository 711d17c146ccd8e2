#pragma once
// Where the listener's spare network processes are forked from: a small process forked
// once, before any connection, that forks each spare on request.
//
// Why not fork them from the listener: a forked process gets its own copy of every page
// of its parent's heap it writes to, and malloc in the child reuses free chunks spread
// all over that heap. The listener's heap grows with its connections, so each spare
// cost more than the last (measured: 184 kB of its own pages for a netproc forked
// beside 1 connection, 330 kB beside 1,000). The factory's heap stays as it was at
// start.
//
// The spares are still the listener's children (clone with CLONE_PARENT): it reaps them,
// reads their exit status, and they die with it (PR_SET_PDEATHSIG).

#include <sys/types.h>

#include <cstddef>
#include <functional>
#include <string>

#include "bridge/common/fd_util.hpp"

namespace wsbridge {

class spare_factory {
 public:
  /// What runs in each spare: given its board's page; the spare's channel is at
  /// child_fd::control_in and child_fd::to_supervisor, the board file at child_fd::boards.
  using spare_body = std::function<int(std::size_t page)>;

  /// Forks the factory, which keeps `boards` (the board file) for the spares and runs
  /// `prepare` (if given) once before the first. The caller's other descriptors are
  /// closed in it.
  bool start(int boards, void (*prepare)(), spare_body body, std::string* err);

  /// A new spare, the caller's child, holding `channel` and board page `page`: its pid,
  /// or -1 (err says why; the factory is then stopped, and the caller forks its own).
  pid_t spawn(int channel, std::size_t page, std::string* err);

  bool running() const { return !!socket_; }
  pid_t pid() const { return pid_; }

  /// The factory has ended (reaped by the caller): nothing more is asked of it.
  void forget() {
    pid_ = -1;
    socket_.reset();
  }

  /// Ends the factory (SIGKILL; the caller reaps it).
  void stop();

 private:
  pid_t pid_ = -1;
  unique_fd socket_;
};

}  // namespace wsbridge
