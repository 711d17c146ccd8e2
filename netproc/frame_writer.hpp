#pragma once
// Data frames written by netproc itself (RFC 6455 §5.2; a client's masked, §5.3, a
// server's not), for the
// common case with no extension negotiated: one message is one frame, appended to the
// transport layer's buffer in place, with no allocation and no completion to wait for.
// Beast's async_write costs a composed operation and a posted completion per message,
// which bounded small messages to a few hundred thousand per second.
//
// With permessage-deflate negotiated, Beast writes the messages (it owns the deflate
// stream); control frames (pings, pongs, Close replies) are always Beast's.

#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "bridge/protocol/byte_buffer.hpp"

namespace wsbridge::netproc {

/// Fills `out` from the kernel's CSPRNG (getrandom(2), allowed in the sandbox). Not
/// OpenSSL's RNG: its first use loads OpenSSL's configuration and providers, about a
/// fifth of the start-up of a ws:// connection that needs no TLS.
void random_bytes(unsigned char* out, std::size_t n);

/// Masking keys: RFC 6455 §10.3 wants them unpredictable, so they come from
/// random_bytes, drawn 4 KiB at a time.
class mask_keys {
 public:
  std::uint32_t next();

 private:
  std::array<unsigned char, 4096> pool_{};
  std::size_t used_ = sizeof(pool_);
};

/// The masking key of a client's frame; none for a server's (RFC 6455 §5.1: a client
/// masks every frame, a server none).
using frame_mask = std::optional<std::uint32_t>;

/// Appends one frame (FIN set) with this opcode (RFC 6455 §5.2) and `payload`, masked
/// with `key` if given: the one frame writer, data and control alike.
void append_frame(byte_buffer& out, unsigned opcode, std::string_view payload, frame_mask key);

/// Appends one data frame (FIN set; text or binary) carrying `payload`.
void append_data_frame(byte_buffer& out, bool binary, std::string_view payload, frame_mask key);

/// A Close frame with `code` and `reason` (cut to the 123 bytes RFC 6455 §5.5 allows),
/// written by the session rather than by Beast's async_close (see
/// session_transport.hpp for why).
std::string make_close_frame(std::uint16_t code, std::string_view reason, frame_mask key);

}  // namespace wsbridge::netproc
