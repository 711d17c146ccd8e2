#pragma once
// How a session's stages are put together, for ws:// and ws+unix:// (session.cpp) and
// for wss:// (the TLS module, tls_session.cpp): the parts every stage shares, then a
// client connector or a server acceptor, which hands the open websocket to the relay.

#include <sys/socket.h>

#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "bridge/protocol/child_fd.hpp"
#include "bridge/protocol/exit_codes.hpp"
#include "netproc/client_connector.hpp"
#include "netproc/event_loop.hpp"
#include "netproc/io_outbox.hpp"
#include "netproc/lock_down.hpp"
#include "netproc/program_endpoint.hpp"
#include "netproc/relay.hpp"
#include "netproc/server_acceptor.hpp"
#include "netproc/session_parts.hpp"
#include "netproc/session_end.hpp"
#include "netproc/supervisor_link.hpp"

namespace wsbridge::netproc {

/// The client: connects with `connector`, then relays, sending `replay` first.
template <class Layer>
void connect_then_relay(session_parts& p, const std::shared_ptr<client_connector<Layer>>& connector,
                        std::string_view replay) {
  connector->run([&p, replay = std::string(replay)](websocket::stream<Layer>&& ws, websocket::response_type&& res) {
    auto r = std::make_shared<relay<Layer>>(p, child_fd::peer_in, std::move(ws), std::move(res));
    r->start(replay);
  });
}

/// The socket the listener accepted (child_fd::socket), as the stream's own.
inline void assign_accepted(tcp_stream::socket_type& socket, error_code& ec) {
  sockaddr_storage local{};
  socklen_t len = sizeof local;
  ::getsockname(child_fd::socket, reinterpret_cast<sockaddr*>(&local), &len);
  socket.assign(local.ss_family == AF_INET6 ? tcp::v6() : tcp::v4(), child_fd::socket, ec);
}

inline void assign_accepted(unix_stream::socket_type& socket, error_code& ec) {
  socket.assign(net::local::stream_protocol(), child_fd::socket, ec);
}

/// netproc's part of server mode: the accepted socket becomes the session's, root is
/// dropped, the request is answered, then the relay runs. With --exec, the program's
/// end is here too (program_endpoint.hpp): the relay's frames go to it and come from
/// it instead of ioproc's pipes. Ends with _exit.
template <class Layer, class... StreamArgs>
int serve_accepted(const net_settings& cfg, status_board& board, net::io_context& ioc, StreamArgs&... stream_args) {
  typename beast::lowest_layer_type<Layer>::socket_type socket(ioc.get_executor());
  error_code ec;
  assign_accepted(socket, ec);
  if (!drop_root(cfg)) return exit_failure;
  std::optional<program_endpoint> program;
  int to_io = child_fd::peer_out, from_io = child_fd::peer_in;
  if (frames_program_here(cfg)) {
    std::string err;
    if (!program.emplace(ioc, cfg, board).make_pipes(&err)) {
      std::fprintf(stderr, "wsbridge: %s%s\n", cfg.side.who().c_str(), err.c_str());
      return exit_failure;
    }
    to_io = program->outbox_fd();
    from_io = program->relay_input_fd();
  }
  session_parts p(ioc, cfg, board, to_io);
  if (program) program->start(p);
  auto acceptor = std::make_shared<server_acceptor<Layer>>(p, stream_args...);
  if (ec) {
    p.end.fail("accept", ec.message(), exit_failure);
  } else {
    acceptor->adopt(std::move(socket));
    acceptor->serve([&p, from_io](websocket::stream<Layer>&& ws, websocket::response_type&& res, std::string&& env) {
      auto r = std::make_shared<relay<Layer>>(p, from_io, std::move(ws), std::move(res), std::move(env));
      r->start();
    });
  }
  run_loop(ioc);
  return exit_failure;  // every path ends in _exit
}

}  // namespace wsbridge::netproc
