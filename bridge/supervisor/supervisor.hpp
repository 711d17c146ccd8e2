#pragma once
// The supervisor: starts netproc and ioproc, owns signals, lifetimes, the terminal's
// saved settings and the exit status. It never touches the network or the data, so it
// can always act: a blocking socket call in a child cannot trap the user.

#include <string>
#include <string_view>

#include "bridge/cli/config.hpp"
#include "bridge/protocol/status_board.hpp"

namespace wsbridge {

/// What each child runs after its fork (run_netproc, run_ioproc: the supervisor does
/// not depend on their code), with the settings made for it (protocol/settings.hpp).
struct child_roles {
  int (*netproc)(const net_settings&, std::string_view replay, status_board&);
  int (*ioproc)(const io_settings&, status_board&);
  void (*prepare_netprocs)() = nullptr;  ///< before forking many netprocs from one process
};

/// Server mode: the connection a listener accepted, for the supervisor it starts.
struct accepted_connection {
  int socket = -1;                       ///< handed to netproc at child_fd::socket
  std::string peer;                      ///< the client's address ("127.0.0.1:40312")
  status_board_mapping* board = nullptr; ///< made by the listener, which reads whether it is open
};

/// Runs the whole bridge. Returns the process exit status (see exit_codes.hpp).
/// `accepted`: in server mode, the connection; null for the client.
int run_supervisor(const config& cfg, child_roles roles, const accepted_connection* accepted = nullptr);

}  // namespace wsbridge
