#pragma once
// Pipe mode: input (stdin, or a --exec program's stdout) becomes messages, messages
// become output (stdout, or the program's stdin), in the framing the user chose.

#include "bridge/protocol/settings.hpp"
#include "bridge/protocol/status_board.hpp"

namespace wsbridge {

class wrapped_program;

/// Runs until netproc reports the end (and, with a program, until it has exited).
/// Returns ioproc's exit status.
int run_pipe_mode(const io_settings& cfg, status_board& board, wrapped_program* program);

/// If the supervisor has died, says so (it no longer can) and exits (ioproc.cpp).
void leave_if_supervisor_gone();

}  // namespace wsbridge
