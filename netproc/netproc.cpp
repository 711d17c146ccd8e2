#include "netproc/netproc.hpp"

#include <csignal>
#include <cstdio>

#include "bridge/protocol/exit_codes.hpp"
#include "bridge/protocol/child_fd.hpp"
#include "bridge/protocol/status_board.hpp"
#include "netproc/session.hpp"
#include "netproc/tls_module.hpp"

namespace wsbridge {

int run_netproc(const net_settings& cfg, std::string_view replay, status_board& board) {
  // EPIPE on a pipe or socket means the peer has gone; it must not kill us.
  std::signal(SIGPIPE, SIG_IGN);
  // Seed what would otherwise seed itself later from files or system calls the
  // sandbox refuses: Beast's mask generator. (wss:// seeds OpenSSL in the TLS module,
  // which plain ws:// never loads: see tls_module.hpp.)
  netproc::seed_beast_prng();
  return netproc::run_session(cfg, replay, board);
}

}  // namespace wsbridge
