#pragma once
// The terminal and stdin/stdout process: turns input into messages for netproc and
// messages from netproc into output. It never touches the network.

#include "bridge/config.hpp"

namespace wsbridge {

/// Runs ioproc with the descriptors of process_spawn.hpp. Returns (or _exits with)
/// its exit status (exit_codes.hpp).
int run_ioproc(const config& cfg);

}  // namespace wsbridge
