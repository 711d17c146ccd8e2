#pragma once
// Server mode (--listen): the listener accepts connections and hands each one to a
// connection supervisor of its own, a fork that runs the client's supervisor for that
// socket: its own sandboxed netproc (which parses the client's bytes) and ioproc (and
// the --exec program). As sshd forks a privilege-separated child per connection, the
// listener never reads a byte a client sends, and one connection's processes cannot
// touch another's.

#include "bridge/cli/config.hpp"
#include "bridge/supervisor/supervisor.hpp"

namespace wsbridge {

/// Runs the server until Ctrl+C/SIGTERM (or, without --exec, until its one connection
/// ends). Returns the process exit status (exit_codes.hpp).
int run_listener(const config& cfg, child_roles roles);

}  // namespace wsbridge
