#pragma once
// The terminal and stdin/stdout process: turns input into messages for netproc and
// messages from netproc into output. It never touches the network.

#include "bridge/protocol/settings.hpp"
#include "bridge/protocol/status_board.hpp"

namespace wsbridge {

/// Runs ioproc with the descriptors of process_spawn.hpp and the status board
/// mapped by the supervisor before the fork. Returns (or _exits with)
/// its exit status (exit_codes.hpp).
int run_ioproc(const io_settings& cfg, status_board& board);

}  // namespace wsbridge
