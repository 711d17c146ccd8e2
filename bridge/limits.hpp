#pragma once
// Every duration and size limit of wsbridge, with its default and the reason for it.
// Options that let the user change one of these say so here.

#include <chrono>
#include <cstddef>

namespace wsbridge::limits {

using namespace std::chrono_literals;

/// Largest payload one IPC frame may carry. Checked before allocating (OpenSSH's
/// rule): a corrupted or compromised peer cannot make another process allocate more.
/// It must hold the largest WebSocket message we accept, plus a little.
inline constexpr std::size_t max_ipc_payload = 64u << 20;

/// Default largest incoming WebSocket message. Beast's own default is 16 MB
/// (beast #1125); we set it on purpose rather than inherit it.
inline constexpr std::size_t default_max_message = 16u << 20;

/// How much a process reads from stdin or a pipe at once. Large reads carry many
/// small messages per system call.
inline constexpr std::size_t read_chunk = 256u << 10;

/// Bytes of outgoing messages netproc holds before it stops reading from ioproc.
/// ioproc then blocks on its pipe write and stops reading stdin: that is the
/// backpressure that keeps memory bounded when the server is slow.
inline constexpr std::size_t max_send_queue = 1u << 20;

/// Bytes of received messages netproc holds for ioproc before it stops reading
/// the socket (a slow stdout consumer pushes back on the server through TCP).
inline constexpr std::size_t max_receive_backlog = 1u << 20;

/// TCP connect (all resolved addresses together). Option: --connect-timeout.
inline constexpr auto default_connect_timeout = 30s;

/// The HTTP upgrade. Beast's client preset uses 30 s as well.
inline constexpr auto handshake_timeout = 30s;

/// How long we wait for the server's answer to our Close frame (beast #365: a
/// peer that never answers Close is ours to time out). Option: --close-timeout.
inline constexpr auto default_close_timeout = 5s;

/// At the end of input, wsbridge waits until the server has been quiet this long
/// before it sends Close. Many servers stop answering once they receive a Close
/// (python-websockets drops replies its handler has not sent yet), so closing at once
/// would lose the answers to the last lines; like `nc -q`, but the wait restarts with
/// each message received, so a server that keeps streaming keeps being heard.
/// Option: --linger (0 closes at once).
inline constexpr auto default_linger = 500ms;

/// After Ctrl+C on an open connection: how long the supervisor lets netproc say
/// goodbye before it kills it. The Close frame goes out at once (unsent data is dropped
/// in front of it); this only bounds the wait for the server's answer, and it is what
/// keeps the interrupt latency under its 150 ms target in every phase.
inline constexpr auto interrupt_grace = 50ms;

/// --exec: after the connection closes, the program's stdin ends; it has this long to
/// exit before SIGTERM, and as long again before SIGKILL.
inline constexpr auto exec_grace = 2s;

/// Redirects followed at most, by default (curl's -L has 50, browsers about 20).
/// Option: --max-redirects.
inline constexpr unsigned default_max_redirects = 10;

/// Longest redirect target we follow (the status board holds it).
inline constexpr std::size_t max_redirect_url = 4096;

/// Longest close reason RFC 6455 §5.5 allows (125-byte control payload less the code).
inline constexpr std::size_t max_close_reason = 123;

}  // namespace wsbridge::limits
