#pragma once
// Starting and watching child processes, for the supervisor (netproc, ioproc) and the
// listener (a connection's supervisor): a fork that runs the role's function and exits,
// without exec (OpenSSH's privilege-separated child is made the same way). The
// program, its libraries and the parsed command line are already in memory; exec
// would load and initialise them all again, three times the start-up cost for one
// connection (docs/performance.md). Signals and ended children are read in the event
// loop, from a signalfd, as tini does.

#include <sys/signalfd.h>
#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

#include "bridge/common/fd_util.hpp"
#include "bridge/protocol/child_fd.hpp"

namespace wsbridge {

struct child_spec {
  const char* name;              ///< process name (ps, top, pgrep): "wsbridge-net"
  std::vector<int> fds;          ///< fds[i] is placed at 3 + i in the child (child_fd.hpp); -1: none there
  int parent_death_signal = 0;   ///< PR_SET_PDEATHSIG
  /// The child supervises others and reads its signals from a signalfd of its own (a
  /// connection's supervisor): they stay blocked, with their dispositions, so that none
  /// is lost before it watches them.
  bool supervises = false;
};

/// Forks a child that runs `body` and exits with what it returns. Before `body`: the
/// descriptors are placed and every other one above them closed (the child must not
/// hold the other ends of its pipes, or EOF would never come, nor another client's
/// socket), the process is named, and the parent-death signal armed. Unless it
/// `supervises`: the signal mask is emptied (the supervisor blocks signals for its
/// signalfd), and SIGINT, SIGQUIT, SIGTERM and SIGHUP are ignored (a terminal, or `kill`
/// aimed at the process group, sends them to all three of us; the supervisor alone
/// decides what they mean and ends children with SIGKILL). The caller must be
/// single-threaded (the child continues with only the forking thread). Returns the
/// pid, or -1 and fills *err.
pid_t spawn_child(const child_spec& spec, const std::function<int()>& body, std::string* err);

/// Blocks the signals a supervisor acts on (SIGCHLD, SIGINT, SIGTERM, SIGHUP, SIGQUIT)
/// and returns a signalfd that reads them, so that none is lost between checks and no
/// handler runs at an awkward moment; SIGPIPE is ignored (a child that goes away shows
/// as EPIPE). Returns an empty descriptor and fills *err on failure.
unique_fd watch_signals(std::string* err);

/// Every signal waiting on a watch_signals() descriptor, each passed to `on`.
void read_signals(int fd, const std::function<void(const signalfd_siginfo&)>& on);

/// Every child that has ended, reaped (waitpid(-1, WNOHANG) until none is left), each
/// passed to `on` with its wait status.
void reap_children(const std::function<void(pid_t, int)>& on);

}  // namespace wsbridge
