// netproc's session for ws:// and ws+unix:// (wss:// runs in the TLS module,
// tls_session.cpp): which stages run, on which layer.
#include "netproc/session.hpp"

#include "netproc/stages.hpp"
#include "netproc/tls_module.hpp"

namespace wsbridge::netproc {

int run_session(const net_settings& cfg, std::string_view replay, status_board& board) {
  std::string err;
  // wss:// runs in the TLS module, the only code linked with OpenSSL (tls_module.hpp),
  // with its own event loop.
  const tls_session_fn tls_session = cfg.target.tls ? load_tls_module(&err) : nullptr;
  if (tls_session) return tls_session(cfg, replay, board);
  net::io_context ioc{1};
  if (cfg.server())
    return !cfg.unix_socket ? serve_accepted<plain_layer>(cfg, board, ioc) : serve_accepted<unix_layer>(cfg, board, ioc);
  if (cfg.target.tls) {  // the module could not be loaded: said the usual way
    session_parts p(ioc, cfg, board);
    p.end.fail("tls", err, exit_failure);  // ioproc waits for a `closed` frame: the usual path
    run_loop(ioc);
    return exit_failure;
  }
  if (!cfg.target.unix_path.empty()) {
    // Connected as the user who ran wsbridge (the socket file's permissions are theirs
    // to pass), then root is dropped. A Unix socket connects at once or fails.
    unix_stream::socket_type socket(ioc.get_executor());
    error_code ec;
    socket.connect(net::local::stream_protocol::endpoint(cfg.target.unix_path), ec);
    if (!drop_root(cfg)) return exit_failure;
    session_parts p(ioc, cfg, board);
    if (ec) {
      p.end.fail("connect", cfg.target.unix_path + ": " + ec.message(), exit_connect_failed);
    } else {
      auto connector = std::make_shared<client_connector<unix_layer>>(p);
      connector->adopt(std::move(socket));
      connect_then_relay(p, connector, replay);
    }
    run_loop(ioc);
    return exit_failure;
  }
  if (!drop_root(cfg)) return exit_failure;
  session_parts p(ioc, cfg, board);
  connect_then_relay(p, std::make_shared<client_connector<plain_layer>>(p), replay);
  run_loop(ioc);
  return exit_failure;  // every path ends in _exit; running out of work is a bug
}

}  // namespace wsbridge::netproc
