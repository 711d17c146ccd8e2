#pragma once
// The moment netproc locks itself down (sandbox.hpp): once connected (client) or
// before the client's first byte is read (server), with nothing left to open.

#include "bridge/protocol/settings.hpp"
#include "bridge/protocol/status_board.hpp"
#include "netproc/io_outbox.hpp"
#include "netproc/session_end.hpp"

namespace wsbridge::netproc {

/// Applies the sandbox when --sandbox is on. False when the session cannot go on (a
/// limit could not be set): the end is then under way.
bool lock_down(const net_settings& cfg, status_board& board, io_outbox& out, session_end& end);

/// Started as root: become nobody once the certificates are loaded and before we
/// connect (sandbox.hpp). False, said on stderr, if that failed.
bool drop_root(const net_settings& cfg);

}  // namespace wsbridge::netproc
