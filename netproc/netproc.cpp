#include "netproc/netproc.hpp"

#include <boost/beast/http/field.hpp>

#include <csignal>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bridge/common/fd_util.hpp"
#include "bridge/protocol/exit_codes.hpp"
#include "bridge/protocol/child_fd.hpp"
#include "bridge/protocol/ipc.hpp"
#include "bridge/protocol/status_board.hpp"
#include "netproc/session.hpp"
#include "netproc/tls_module.hpp"

namespace wsbridge {
namespace {

/// A netproc of the listener's pool: waits, blocking (nothing else to do), for the
/// `connection` frame and the socket that comes with it, which is placed at
/// child_fd::socket; the client's address goes into the settings. Until then it has
/// read nothing from any client. False: the listener is gone, or broke the protocol.
bool take_connection(net_settings& cfg) {
  ipc::frame_decoder decoder(4096);
  std::vector<int> fds;
  for (;;) {
    auto space = decoder.prepare(4096);
    const ssize_t n = recv_with_fds(child_fd::control_in, space.data(), space.size(), fds);
    if (n <= 0) return false;
    decoder.commit(static_cast<std::size_t>(n));
    ipc::frame f;
    std::string err;
    const auto r = decoder.next(f, &err);
    if (r == ipc::frame_decoder::result::need_more) continue;
    // One frame, with one descriptor: the socket.
    if (r == ipc::frame_decoder::result::error || f.type != ipc::frame_type::connection || fds.size() != 1 ||
        !decoder.empty())
      return false;
    if (::dup2(fds[0], child_fd::socket) < 0) return false;
    ::close(fds[0]);
    cfg.side.peer = std::string(f.payload);
    cfg.program_io.side.peer = cfg.side.peer;
    cfg.program_io.display = "client " + cfg.side.peer;
    return true;
  }
}

}  // namespace

void prepare_netprocs() {
  // Any lookup builds the whole table (16 KiB, a function-local static).
  [[maybe_unused]] const auto f = boost::beast::http::string_to_field("Host");
}

int run_netproc(const net_settings& given, std::string_view replay, status_board& board) {
  net_settings taken;
  if (given.pooled) {
    taken = given;
    if (!take_connection(taken)) return exit_process_died;
    ::prctl(PR_SET_NAME, "wsbridge-net");  // a spare no longer
  }
  const net_settings& cfg = given.pooled ? taken : given;
  // EPIPE on a pipe or socket means the peer has gone; it must not kill us.
  std::signal(SIGPIPE, SIG_IGN);
  // Seed what would otherwise seed itself later from files or system calls the
  // sandbox refuses: Beast's mask generator. (wss:// seeds OpenSSL in the TLS module,
  // which plain ws:// never loads: see tls_module.hpp.)
  netproc::seed_beast_prng();
  return netproc::run_session(cfg, replay, board);
}

}  // namespace wsbridge
