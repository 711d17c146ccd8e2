#pragma once
// The descriptors every child finds at start, placed by the supervisor
// (process_spawn.hpp); each number means one thing. What flows on the pipes is
// ipc.hpp's frames.

namespace wsbridge::child_fd {

inline constexpr int peer_in = 3;     ///< frames from the other child
inline constexpr int peer_out = 4;    ///< frames to the other child
inline constexpr int control_in = 5;  ///< frames from the supervisor; EOF: it is gone
inline constexpr int count = 3;
/// netproc only: frames to the supervisor (`redirect`, `ended`, `unsent`), read with
/// the supervisor's own dispatch table.
inline constexpr int to_supervisor = 6;
/// Server mode, netproc only: the accepted connection (the listener accepted it; the
/// sandboxed netproc may not create sockets of its own).
inline constexpr int socket = 7;
/// --log, ioproc only: the transcript file, opened by the supervisor (the sandboxed
/// ioproc may not open files).
inline constexpr int log = 8;
/// Server mode with --exec, netproc only: the file of every connection's board
/// (status_board.hpp, board_file); netproc maps its own page and closes it at once.
inline constexpr int boards = 8;
/// Server mode, a connection's supervisor (the listener's child): the accepted
/// connection, which it hands on to its netproc as `socket`.
inline constexpr int accepted = 3;

}  // namespace wsbridge::child_fd
