#pragma once
// What a wrapped program's stderr and exit become in wsbridge's own output: shared by
// ioproc (the client's --exec, and server mode's connection supervisor) and netproc (a
// server's --exec program, which it frames itself).

#include <string>
#include <string_view>

namespace wsbridge {

/// A program's stderr as log lines: each whole line, and a long line in pieces of at
/// most `piece` bytes, after `prefix` (whose program it is) and made terminal-safe:
/// a program may pass on what a peer sent (`cat >&2`).
class error_lines {
 public:
  explicit error_lines(std::string prefix, std::size_t piece = 4096) : prefix_(std::move(prefix)), piece_(piece) {}

  /// Bytes read from the program's stderr; returns the lines they complete, ready to
  /// write (empty if none).
  std::string add(std::string_view bytes);

  /// The program's stderr has ended: what is left as one last line (or nothing).
  std::string finish();

 private:
  std::string prefix_;
  std::size_t piece_;
  std::string pending_;
};

/// A wait status as a shell reports it: the exit code, or 128 + the signal.
int exit_status_code(int wait_status);

}  // namespace wsbridge
