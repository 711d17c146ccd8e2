#pragma once
// What the stages of one session share (client_connector or server_acceptor, then
// relay, and web_responder): the settings, the status board, the frames to ioproc,
// the supervisor's channels, and the one end.

#include <optional>

#include <boost/asio/io_context.hpp>

#include "bridge/protocol/child_fd.hpp"
#include "bridge/protocol/exit_codes.hpp"
#include "bridge/protocol/settings.hpp"
#include "bridge/protocol/status_board.hpp"
#include "netproc/io_outbox.hpp"
#include "netproc/session_end.hpp"
#include "netproc/supervisor_link.hpp"

namespace wsbridge::netproc {

/// What every stage of one session shares: the frames to ioproc, the supervisor's
/// pipes, and the one end. Until the connection opens, a close request (Ctrl+C) ends
/// the attempt, and ioproc gone ends the process; the relay takes both over. A server
/// whose 101 is on its way keeps the request for the relay instead: its client will
/// read that 101 and is owed a Close (1001 on shutdown), not a dropped connection.
struct session_parts {
  /// The descriptors are netproc's (child_fd); a test gives pipes of its own.
  session_parts(boost::asio::io_context& io, const net_settings& settings, status_board& b, int to_io = child_fd::peer_out,
                int requests = child_fd::control_in, int reports = child_fd::to_supervisor)
      : ioc(io), cfg(settings), board(b), out(io, to_io), link(io, requests, reports), end(settings, b, out, link) {
    link.on_close_request = [this](const ipc::close_info& c) {
      board.close_requested.store(1, std::memory_order_relaxed);
      if (answer_sent) return void(kept_close = c);
      end.finish(exit_ok, {}, connection_state::failed);
    };
    out.on_gone = [this] { end.exit_now(); };
    link.watch();
  }
  session_parts(const session_parts&) = delete;
  session_parts& operator=(const session_parts&) = delete;

  boost::asio::io_context& ioc;
  const net_settings& cfg;
  status_board& board;
  io_outbox out;
  supervisor_link link;
  session_end end;
  /// Set once a server's 101 is decided (the handshake's decorator): from then on a
  /// close request waits in kept_close for the relay (relay::start).
  bool answer_sent = false;
  std::optional<ipc::close_info> kept_close;
};

}  // namespace wsbridge::netproc
