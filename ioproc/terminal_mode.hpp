#pragma once
// Terminal mode: stdin and stdout are a terminal; an interactive client with a line
// editor (libedit), history, / commands, and messages printed above the input line.
//
// It lives in a module, wsbridge-term.so, the only part of wsbridge linked with libedit,
// which ioproc loads (before its sandbox) only when it runs on a terminal: loading
// libedit and the three libraries it needs cost every start about 1 ms, pipes included
// (see bridge/common/module_loader.hpp).

#include "bridge/protocol/settings.hpp"
#include "bridge/protocol/status_board.hpp"

namespace wsbridge {

/// The module's entry point: runs until the connection ends and returns ioproc's exit
/// status.
extern "C" int wsbridge_terminal_mode(const io_settings& cfg, status_board& board);
using terminal_mode_fn = decltype(&wsbridge_terminal_mode);
inline constexpr const char* terminal_entry_point = "wsbridge_terminal_mode";

}  // namespace wsbridge
