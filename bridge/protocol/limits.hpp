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

/// From the start to the open connection: TCP (all resolved addresses together), the
/// proxy, TLS and the upgrade answer, one deadline for all, as curl's
/// --connect-timeout. Beast's client preset gives the upgrade 30 s too.
/// Option: --connect-timeout.
inline constexpr auto default_connect_timeout = 30s;

/// Server mode: writing the 101 answer to a client that has sent its request.
inline constexpr auto handshake_timeout = 30s;

/// How long we wait for the server's answer to our Close frame (beast #365: a
/// peer that never answers Close is ours to time out). Option: --close-timeout.
inline constexpr auto default_close_timeout = 5s;

/// While the peer still has our Close to acknowledge, how often netproc looks at the
/// kernel's count of unacknowledged bytes: the --close-timeout for the peer's answer
/// starts when it reaches 0 (a TCP ACK of our Close is not an answer to it).
inline constexpr auto close_delivery_poll = 100ms;

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
/// -v with --exec: a program that has read all it was sent and written nothing for this
/// long is probably holding its output in a buffer; wsbridge says so, once.
inline constexpr auto program_idle_hint = 3s;

/// Redirects followed at most, by default (curl's -L has 50, browsers about 20).
/// Option: --max-redirects.
inline constexpr unsigned default_max_redirects = 10;

/// Server mode with --exec: connections (each a program and three processes) at once.
inline constexpr unsigned default_max_connections = 64;

/// Server mode with --exec: connections still in their upgrade (TLS, the request) at
/// once, apart from --max-connections, which counts open ones. When a new one comes,
/// the oldest still in its upgrade is dropped: clients that send half a request and
/// wait push out each other, never an open connection nor a real client for long.
inline constexpr std::size_t max_upgrading = 64;
/// ... and only one in its upgrade for this long is dropped for a newer one: a burst
/// of fresh connections is not an attack.
inline constexpr auto upgrade_stuck = 1s;

/// Server mode with --exec: network processes forked ahead of time, waiting for a
/// connection (the listener's pool, as Apache's prefork keeps spare servers), so that
/// a fork is not on a connection's way in. Each idle one costs its private pages.
inline constexpr std::size_t netproc_pool = 4;

/// Server mode: accepted connections whose request head has not fully arrived, held by
/// the listener at one descriptor each (no process yet); the oldest is closed for a new
/// one. Also at most a quarter of the listener's descriptor limit.
inline constexpr std::size_t max_waiting_requests = 4096;

/// Server mode, --listen unix:PATH: a connection whose request head is incomplete is
/// looked at again after this (on TCP the socket's low-water mark wakes the listener
/// when more arrives instead; poll ignores it on Unix sockets).
inline constexpr auto request_look_pause = 100ms;

/// Server mode: how long a client has for TLS and its whole upgrade request (a client
/// that sends half a request and waits holds processes: slowloris). Shorter than
/// nginx's client_header_timeout (60 s): a WebSocket client sends one small request
/// at once. Option: --connect-timeout with --listen.
inline constexpr auto request_timeout = 5s;
/// After a page or file is sent (--static-dir, --dev-console): how long to wait for the
/// client to close its side, so that closing ours never resets a connection whose
/// answer the client has not read yet (what nginx's lingering_close does).
inline constexpr auto web_linger = 2s;

/// Longest redirect target we follow (netproc reports at most one byte more).
inline constexpr std::size_t max_redirect_url = 4096;

/// Pipes between the processes, and stdin/stdout when they are pipes, are grown to
/// this (from 64 KiB): each side then moves a whole read_chunk per system call, with a
/// quarter of the context switches. Best effort: a smaller pipe only costs speed.
inline constexpr int pipe_size = 1 << 20;

/// netproc's socket layer (session_transport.hpp): a burst of frames is written out once
/// this much has gathered, and the socket is read this much at a time.
inline constexpr std::size_t socket_batch = 256u << 10;

/// Longest HTTP head of an upgrade answer the socket layer scans for a refusal (Beast
/// refuses a longer one anyway).
inline constexpr std::size_t max_upgrade_head = 16u << 10;

/// Pongs and Close replies waiting for a server that does not read: past this, netproc
/// stops reading the socket (a ping flood cannot grow its memory).
inline constexpr std::size_t max_control_backlog = 64u << 10;

/// netproc's rlimits once connected (sandbox.cpp): descriptors, and address space,
/// which leaves room for the largest message (64 MiB) several times over.
inline constexpr unsigned network_max_files = 32;
inline constexpr unsigned long long network_max_address_space = 1ull << 30;

/// A child that cannot set itself up (its descriptors, its parent gone) or was trapped
/// by its sandbox leaves with this status, the shell's "cannot execute".
inline constexpr int child_setup_failed = 126;

/// Longest close reason RFC 6455 §5.5 allows (125-byte control payload less the code).
inline constexpr std::size_t max_close_reason = 123;

}  // namespace wsbridge::limits
