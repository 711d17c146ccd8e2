#pragma once
// Server mode with --exec: starting a connection's program, in the listener (the one
// monitor), with Boost.Process v2. The program gets three fresh pipes: their far ends
// go to the connection's netproc, which frames them (netproc/program_endpoint.hpp).
//
// What a child must not get from us, it does not: its own process group (so that what
// it starts can be ended with it), the parent-death signal (it never outlives the
// listener), default signal dispositions and an empty signal mask (we block signals
// for our signalfd), the descriptor limit we started with, and with --user another
// user and no supplementary group. Its environment is ours plus the variables netproc
// proposed, each checked against ipc::program_variable_allowed: netproc parsed the
// client's bytes and is not trusted.

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "bridge/common/fd_util.hpp"

namespace wsbridge {

struct program_spec {
  std::vector<std::string> argv;  ///< --exec CMD ARGS...
  long uid = -1, gid = -1;        ///< --user as root: who the program runs as
  unsigned long nofile = 1024;    ///< RLIMIT_NOFILE's soft limit for the program
};

/// A started program: its pid (also its process group) and our ends of its pipes, for
/// netproc.
struct started_program {
  pid_t pid = -1;
  unique_fd to_stdin, from_stdout, from_stderr;
};

class program_launcher {
 public:
  explicit program_launcher(program_spec spec);

  /// Starts the program with `opened` (the `opened` payload netproc proposes:
  /// subprotocol, extensions, then environment lines). Returns false and fills *err
  /// ("exec foo: No such file or directory") when it could not start; *status is then
  /// the wait status a shell would give (127: not found, 126: cannot run).
  bool start(std::string_view opened, started_program& out, std::string* err, int* status);

 private:
  /// The environment: ours, with `opened`'s variables that are allowed.
  std::vector<std::string> environment(std::string_view opened) const;

  program_spec spec_;
  std::vector<std::string> base_env_;  ///< ours at start, but those a program must not inherit
};

}  // namespace wsbridge
