#include "netproc/netproc.hpp"

#include <boost/beast/websocket/stream.hpp>
#include <csignal>
#include <cstdio>
#include <openssl/rand.h>
#include <random>
#include <ctime>

#include "bridge/exit_codes.hpp"
#include "bridge/process_spawn.hpp"
#include "bridge/status_board.hpp"
#include "netproc/session.hpp"

namespace wsbridge {

int run_netproc(const config& cfg, status_board& board) {
  // EPIPE on a pipe or socket means the peer has gone; it must not kill us.
  std::signal(SIGPIPE, SIG_IGN);
  // Seed what would otherwise seed itself later from files or system calls the
  // sandbox refuses: Beast's mask generator, and for TLS OpenSSL's random generator
  // and the time zone, which OpenSSL's certificate checks would open later. Plain
  // ws:// leaves OpenSSL alone (its initialisation is most of our start-up).
  std::random_device rd;
  std::seed_seq seed{rd(), rd(), rd(), rd(), rd(), rd(), rd(), rd()};
  boost::beast::websocket::seed_prng(seed);
  if (cfg.target.tls) {
    unsigned char warm[16];
    RAND_bytes(warm, sizeof warm);
    ::tzset();
  }
  return netproc::run_session(cfg, board);
}

}  // namespace wsbridge
