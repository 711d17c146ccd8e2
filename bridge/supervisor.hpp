#pragma once
// The supervisor: starts netproc and ioproc, owns signals, lifetimes, the terminal's
// saved settings and the exit status. It never touches the network or the data, so it
// can always act: a blocking socket call in a child cannot trap the user.

#include "bridge/config.hpp"
#include "bridge/protocol/status_board.hpp"

namespace wsbridge {

/// What each child runs after its fork (run_netproc, run_ioproc: the supervisor does
/// not depend on their code).
struct child_roles {
  int (*netproc)(const config&, status_board&);
  int (*ioproc)(const config&, status_board&);
};

/// Runs the whole bridge. Returns the process exit status (see exit_codes.hpp).
/// `board`: the status board to use, made by the caller (the listener, which reads
/// whether the connection is open yet); null: the supervisor makes its own.
int run_supervisor(const config& cfg, child_roles roles, status_board_mapping* board = nullptr);

}  // namespace wsbridge
