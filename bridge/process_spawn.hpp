#pragma once
// Starting a child role (netproc or ioproc) of this same executable.

#include <array>
#include <string>
#include <sys/types.h>
#include <vector>

namespace wsbridge {

/// Descriptor numbers every child finds at start: the same for both roles.
namespace child_fd {
inline constexpr int peer_in = 3;     ///< frames from the other child
inline constexpr int peer_out = 4;    ///< frames to the other child
inline constexpr int control_in = 5;  ///< frames from the supervisor; EOF: it is gone
inline constexpr int board = 6;       ///< the status board's memfd
inline constexpr int count = 4;
}  // namespace child_fd

struct child_spec {
  std::string role;                          ///< "netproc" or "ioproc"
  std::vector<std::string> args;             ///< the user's arguments (after argv[0])
  std::array<int, child_fd::count> fds{};    ///< placed at 3, 4, 5, 6 in the child
  int parent_death_signal = 0;               ///< PR_SET_PDEATHSIG
};

/// Starts `/proc/self/exe --role=ROLE ARGS...` with Boost.Process. In the child,
/// before exec: the descriptors are placed, the signal mask is emptied (the
/// supervisor blocks signals for its signalfd), SIGINT, SIGQUIT, SIGTERM and SIGHUP
/// are ignored (a terminal, or `kill` aimed at the process group, sends them to all
/// three of us; the supervisor alone decides what they mean and ends children with
/// SIGKILL), and the parent-death signal is armed. Returns the pid, or -1 and fills *err.
pid_t spawn_child(const child_spec& spec, std::string* err);

}  // namespace wsbridge
