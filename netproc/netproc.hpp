#pragma once
// The network process: owns the WebSocket connection (Boost.Beast over Asio, one
// thread, asynchronous only, so every step can be timed out and nothing blocks).

#include <string>
#include <string_view>

#include "bridge/protocol/settings.hpp"
#include "bridge/protocol/status_board.hpp"

namespace wsbridge {

/// Runs netproc with the descriptors of process_spawn.hpp and the status board
/// mapped by the supervisor before the fork. `replay`: --reconnect, the frames the
/// previous netproc took from ioproc and did not send, sent first. Returns its exit
/// status (exit_codes.hpp); most paths end in _exit once the last frame is written.
int run_netproc(const net_settings& cfg, std::string_view replay, status_board& board);

/// In the process a server's spare network processes are forked from, before the
/// first: builds what netproc's libraries build on first use and never change again
/// (Beast's table of HTTP field names), so that the spares share one copy instead of
/// each writing its own.
void prepare_netprocs();

/// Server mode with --tls-cert: loads the TLS module and the certificate and key, so
/// that a bad file is reported once, before listening, rather than per connection.
/// Returns false and fills *err.
bool check_server_tls(const net_settings& cfg, std::string* err);

}  // namespace wsbridge
