#pragma once
// The network process: owns the WebSocket connection (Boost.Beast over Asio, one
// thread, asynchronous only, so every step can be timed out and nothing blocks).

#include "bridge/config.hpp"
#include "bridge/protocol/status_board.hpp"

namespace wsbridge {

/// Runs netproc with the descriptors of process_spawn.hpp and the status board
/// mapped by the supervisor before the fork. Returns its exit status
/// (exit_codes.hpp); most paths end in _exit once the last frame is written.
int run_netproc(const config& cfg, status_board& board);

}  // namespace wsbridge
