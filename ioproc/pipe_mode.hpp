#pragma once
// Pipe mode: stdin lines become messages, messages become stdout lines.

#include "bridge/status_board.hpp"

namespace wsbridge {

/// Runs until netproc reports the end. Returns ioproc's exit status.
int run_pipe_mode(status_board& board);

}  // namespace wsbridge
