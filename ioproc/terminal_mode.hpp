#pragma once
// Terminal mode: stdin and stdout are a terminal; an interactive client with a line
// editor (libedit), history, / commands, and messages printed above the input line.

#include "bridge/config.hpp"
#include "bridge/status_board.hpp"

namespace wsbridge {

/// Runs until the connection ends. Returns ioproc's exit status.
int run_terminal_mode(const config& cfg, status_board& board);

}  // namespace wsbridge
