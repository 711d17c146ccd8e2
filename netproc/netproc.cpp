#include "netproc/netproc.hpp"

#include <csignal>
#include <cstdio>

#include "bridge/exit_codes.hpp"
#include "bridge/process_spawn.hpp"
#include "bridge/status_board.hpp"
#include "netproc/session.hpp"

namespace wsbridge {

int run_netproc(const config& cfg) {
  // EPIPE on a pipe or socket means the peer has gone; it must not kill us.
  std::signal(SIGPIPE, SIG_IGN);
  status_board_mapping board;
  std::string err;
  if (!board.attach(child_fd::board, &err)) {
    std::fprintf(stderr, "wsbridge: network process: %s\n", err.c_str());
    return exit_failure;
  }
  return netproc::run_session(cfg, *board.get());
}

}  // namespace wsbridge
