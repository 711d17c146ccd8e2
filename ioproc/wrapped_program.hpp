#pragma once
// The program of --exec: messages received go to its stdin, its stdout becomes
// messages, its stderr is ours.
//
// ioproc sandboxes itself early and its filter refuses execve, yet the program can
// only start once the connection is open (it is told the negotiated subprotocol). So
// ioproc forks a launcher before it locks down: the launcher waits on a pipe, and
// start() sends it the subprotocol; then it execs the program. A launcher that gets
// EOF instead (the connection never opened) exits without running anything.

#include <atomic>
#include <mutex>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>

#include "bridge/protocol/settings.hpp"
#include "bridge/common/fd_util.hpp"

namespace wsbridge {

class wrapped_program {
 public:
  /// Forks the launcher. Call before any thread starts and before the sandbox.
  /// Returns false and fills *err.
  bool prepare(const io_settings& cfg, std::string* err);

  /// Lets the launcher exec the program, with WSBRIDGE_SUBPROTOCOL set from the
  /// `opened` payload (ipc.hpp), and in server mode the environment it proposes.
  void start(std::string_view opened);
  bool started() const { return started_; }

  /// Our ends of its stdin and stdout.
  int input_fd() const { return to_program_.get(); }
  int output_fd() const { return from_program_.get(); }
  /// Server mode: our end of its stderr (-1 otherwise: it writes to ours directly).
  int errors_fd() const { return errors_from_program_.get(); }
  /// Readable once the process has exited (pidfd_open), -1 if unavailable.
  int exit_fd() const { return pidfd_.get(); }
  pid_t pid() const { return pid_; }

  /// If the program has exited, reaps it. Returns true once it is reaped.
  bool poll_exit();

  /// From another thread than poll_exit's: waits up to `wait` for the program to exit
  /// and returns its wait status without reaping it, or nothing if it is still running.
  std::optional<int> peek_exit(std::chrono::milliseconds wait) const;

  /// Closes its stdin (EOF), then waits: `grace`, SIGTERM, `grace` again, SIGKILL
  /// (each signal to its process group); then ends what is left of its group
  /// (end_group). A launcher never started just exits. Returns the wait status;
  /// *killed_by_us tells whether our signal ended the program.
  int finish(std::chrono::milliseconds grace, bool* killed_by_us);

  bool reaped() const { return reaped_; }
  int wait_status() const { return wait_status_; }

 private:
  bool wait_exit(std::chrono::milliseconds timeout);
  /// After the program has exited: SIGTERM to what is left of its process group,
  /// `grace`, SIGKILL; reaps them.
  void end_group(std::chrono::milliseconds grace);

  pid_t pid_ = -1;
  unique_fd go_;            ///< to the launcher: the subprotocol, then EOF
  unique_fd to_program_;
  unique_fd from_program_;
  unique_fd errors_from_program_;
  unique_fd pidfd_;
  bool started_ = false;
  std::atomic<bool> reaped_{false};  ///< wait_status_ is set (peek_exit reads it)
  mutable std::mutex reap_mutex_;    ///< one of waitpid and waitid at a time (poll_exit, peek_exit)
  int wait_status_ = 0;
};

}  // namespace wsbridge
