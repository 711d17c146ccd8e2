#pragma once
// One WebSocket connection and the pipes around it. The Beast types stay inside
// session.cpp so that only one translation unit instantiates them.

#include <string_view>

#include "bridge/protocol/settings.hpp"
#include "bridge/protocol/status_board.hpp"

namespace wsbridge::netproc {

/// Connects, bridges frames between the pipes and the socket, closes, and ends the
/// process. Returns only if the event loop runs out of work.
int run_session(const net_settings& cfg, std::string_view replay, status_board& board);

}  // namespace wsbridge::netproc
