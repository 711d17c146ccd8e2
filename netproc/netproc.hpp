#pragma once
// The network process: owns the WebSocket connection (Boost.Beast over Asio, one
// thread, asynchronous only, so every step can be timed out and nothing blocks).

#include "bridge/config.hpp"

namespace wsbridge {

/// Runs netproc with the descriptors of process_spawn.hpp. Returns its exit status
/// (exit_codes.hpp); most paths end in _exit once the last frame is written.
int run_netproc(const config& cfg);

}  // namespace wsbridge
