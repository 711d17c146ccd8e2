#pragma once
// The one IPC codec that the supervisor, netproc, ioproc and the tests share.
//
// A frame on a pipe is   u32 payload length (big-endian) | u8 type | payload.
// The length is checked against a hard cap before anything is allocated, unknown
// types are errors, and each reader also rejects known types that are out of place
// in its state (netproc's table is io_frame_rule in netproc/handshake.hpp): anything unexpected
// is fatal, as in OpenSSH's monitor.

#include "bridge/protocol/byte_buffer.hpp"
#include "bridge/protocol/limits.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace wsbridge::ipc {

enum class frame_type : std::uint8_t {
  text = 1,           ///< a text message (ioproc <-> netproc)
  binary = 2,         ///< a binary message (ioproc <-> netproc)
  input_end = 3,      ///< ioproc -> netproc: input ended; close once everything is sent
  opened = 4,         ///< netproc -> ioproc: handshake done; payload: what was negotiated (below)
  closed = 5,         ///< netproc -> ioproc: nothing more will come; payload: close_info
  close_request = 6,  ///< supervisor or ioproc -> netproc: start the closing handshake
  ping = 7,           ///< ioproc -> netproc: send a ping with this payload
  pong = 8,           ///< netproc -> ioproc: a pong arrived; payload: its data
  notice = 9,         ///< netproc -> ioproc: one line for the user ("connect: refused")
  // netproc -> supervisor (child_fd::to_supervisor), read with the supervisor's own table:
  redirect = 10,      ///< a 3xx with a Location; payload: redirect_report. netproc then leaves
  ended = 11,         ///< --reconnect: how the connection ended; payload: end_report
  unsent = 12,        ///< --reconnect, after `ended`: a piece of the IPC frames netproc took
                      ///< from ioproc and did not give the kernel, for the next netproc
  file_request = 13,  ///< --static-dir: the file a request names; payload: its path, checked
                      ///< (static_path); the supervisor opens it (netproc cannot)
  // supervisor -> netproc (child_fd::control_in), beside close_request:
  file_answer = 14,   ///< payload: file_found (the descriptor comes with the frame,
                      ///< SCM_RIGHTS), file_is_directory, or file_missing
  // Server mode with --exec, where netproc frames the program's pipes itself:
  program_start = 15, ///< netproc -> supervisor: the connection is open, start the program;
                      ///< payload: as `opened`'s (subprotocol, extensions, environment)
  program_pipes = 16, ///< supervisor -> netproc: the program runs; its stdin, stdout and
                      ///< stderr pipes come with the frame (SCM_RIGHTS); payload: its pid
  program_exit = 17,  ///< supervisor -> netproc: the program has exited (or could not
                      ///< start); payload: its wait status, in decimal
  connection = 18,    ///< supervisor -> a netproc forked ahead of time: its connection;
                      ///< the accepted socket comes with the frame (SCM_RIGHTS);
                      ///< payload: the client's address ("127.0.0.1:40312")
};
inline constexpr std::uint8_t max_frame_type = 18;

/// Payloads of `file_answer`: file_found is followed by " SIZE MTIME" (bytes, and
/// seconds since the epoch), measured by the supervisor, which opened the file (netproc's
/// sandbox refuses stat calls, as glibc makes fstat one).
inline constexpr std::string_view file_found = "file";
inline constexpr std::string_view file_is_directory = "directory";
inline constexpr std::string_view file_missing = "missing";

/// Payload of `input_end` asking netproc to close without lingering (interactive Ctrl+D).
/// Otherwise the payload is empty, or a `close_info` (encode_close) with the code and
/// reason of the Close that ends the connection (server mode: 1011 when the --exec
/// program failed).
inline constexpr std::string_view input_end_close_now = "now";
/// Payload of `input_end` when the input was refused (a line that cannot be a message):
/// netproc waits only for the answers to what was sent before it (none: it closes at
/// once), then closes.
inline constexpr std::string_view input_end_refused = "refused";

inline constexpr std::size_t header_size = 5;

/// Name of a frame type for error messages ("text", "closed", ...).
const char* to_string(frame_type t);

/// A decoded frame. `payload` points into the decoder's buffer and stays valid
/// until the next call to frame_decoder::prepare().
struct frame {
  frame_type type{};
  std::string_view payload;
};

/// Appends one frame to `out`. Several frames appended to one buffer go out in one
/// write, which is what makes small messages cheap. The caller keeps payloads within
/// limits::max_ipc_payload. There is no way to write a header apart from its payload:
/// a header whose length does not match what follows would let the rest of a peer's
/// bytes be read as frames.
void append_frame(std::string& out, frame_type type, std::string_view payload);

/// Incremental decoder for a byte stream of frames that arrives in arbitrary pieces.
class frame_decoder {
 public:
  explicit frame_decoder(std::size_t max_payload = limits::max_ipc_payload);

  /// Returns writable space of at least `min` bytes (more if a frame in progress
  /// needs it). Invalidates views returned by next().
  std::span<char> prepare(std::size_t min = limits::read_chunk);
  /// Marks `n` bytes of the space from prepare() as filled.
  void commit(std::size_t n);
  /// Before the first read from `fd` into the space from prepare(): see
  /// byte_buffer::first_read_from().
  void first_read_from(int fd) { buf_.first_read_from(fd); }

  enum class result { frame, need_more, error };
  /// Decodes the next complete frame. On error, fills *err; the stream is then unusable.
  result next(frame& out, std::string* err);

  /// True when no partial frame is buffered (an EOF here is a clean end).
  bool empty() const { return begin_ == end_; }
  /// The bytes received and not yet decoded (the start of a frame).
  std::string_view undecoded() const { return {buf_.data() + begin_, end_ - begin_}; }

 private:
  byte_buffer buf_;
  std::size_t begin_ = 0;  ///< first undecoded byte
  std::size_t end_ = 0;    ///< one past the last received byte
  std::size_t max_payload_;
  std::size_t need_ = 0;   ///< bytes the frame at begin_ needs in all, 0 if unknown
};

/// Payload of `closed` and `close_request`.
struct close_info {
  std::uint16_t code = 0;     ///< 0: no close code (connection lost or never opened)
  bool by_server = false;     ///< the server sent its Close first
  std::string reason;
};
std::string encode_close(const close_info& c);
bool decode_close(std::string_view payload, close_info& out, std::string* err);

/// Payload of `redirect`: the status and the Location as the server sent it (at most
/// limits::max_redirect_url + 1 bytes of it: one more says "too long to follow").
struct redirect_report {
  std::uint32_t status = 0;
  std::string location;
};
std::string encode_redirect(const redirect_report& r);
bool decode_redirect(std::string_view payload, redirect_report& out, std::string* err);

/// Payload of `ended`: what the supervisor's reconnect policy decides by.
struct end_report {
  close_info close;                 ///< the Close (code 0: none: lost, refused, never opened)
  std::uint32_t http_status = 0;    ///< a refused upgrade's HTTP status
  std::uint32_t retry_after = 0;    ///< its Retry-After, in seconds
  bool certificate_refused = false; ///< the server's certificate failed verification
  std::uint64_t unsent_messages = 0;  ///< messages in the `unsent` pieces that follow
};
std::string encode_end(const end_report& e);
bool decode_end(std::string_view payload, end_report& out, std::string* err);

// Payload of `opened`: the subprotocol, a line break, the extensions; in server mode
// then one line per variable of the --exec program's environment ("NAME=value").
/// A line of the environment netproc proposes for the --exec program ("NAME=value")
/// that ioproc's launcher may set: websocketd's CGI variables, HTTP_* headers (not
/// HTTP_PROXY: httpoxy, CVE-2016-5385) and WSBRIDGE_REMOTE/SUBPROTOCOL. netproc parsed
/// untrusted bytes: anything else (LD_PRELOAD, PATH) would run code outside its
/// sandbox, so the launcher checks each line with this.
bool program_variable_allowed(std::string_view line);


}  // namespace wsbridge::ipc
