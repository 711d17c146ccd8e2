#pragma once
// Starting a child role (netproc or ioproc): a fork of the supervisor that runs the
// role's function and exits, without exec (OpenSSH's privilege-separated child is
// made the same way). The program, its libraries and the parsed command line are
// already in memory; exec would load and initialise them all again, three times the
// start-up cost for one connection (README "Performance").

#include <array>
#include <functional>
#include <string>
#include <sys/types.h>

#include "bridge/protocol/child_fd.hpp"

namespace wsbridge {

struct child_spec {
  const char* name;                          ///< process name (ps, top, pgrep): "wsbridge-net"
  std::array<int, child_fd::count> fds{};    ///< placed at 3, 4, 5 in the child
  int parent_death_signal = 0;               ///< PR_SET_PDEATHSIG
  int extra = -1;  ///< placed at 6 if not -1: child_fd::socket (netproc) or child_fd::log (ioproc)
};

/// Forks a child that runs `body` and exits with what it returns. Before `body`: the
/// descriptors are placed and every other one above them closed (the child must not
/// hold the other ends of its pipes, or EOF would never come), the signal mask is
/// emptied (the supervisor blocks signals for its signalfd), SIGINT, SIGQUIT, SIGTERM
/// and SIGHUP are ignored (a terminal, or `kill` aimed at the process group, sends
/// them to all three of us; the supervisor alone decides what they mean and ends
/// children with SIGKILL), the process is named, and the parent-death signal armed.
/// The caller must be single-threaded (the child continues with only the forking
/// thread). Returns the pid, or -1 and fills *err.
pid_t spawn_child(const child_spec& spec, const std::function<int()>& body, std::string* err);

}  // namespace wsbridge
