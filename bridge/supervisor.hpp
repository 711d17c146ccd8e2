#pragma once
// The supervisor: starts netproc and ioproc, owns signals, lifetimes, the terminal's
// saved settings and the exit status. It never touches the network or the data, so it
// can always act: a blocking socket call in a child cannot trap the user.

#include <string>
#include <vector>

#include "bridge/config.hpp"

namespace wsbridge {

/// Runs the whole bridge. `args` are the user's arguments (argv[1..]), passed on to
/// the children. Returns the process exit status (see exit_codes.hpp).
int run_supervisor(const config& cfg, const std::vector<std::string>& args);

}  // namespace wsbridge
