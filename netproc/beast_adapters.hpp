#pragma once
// The workarounds of Boost.Beast 1.81's websocket that session_transport applies, one
// named class each, with the Beast behaviour it works around. Each looks only at bytes
// (Beast's writes, the server's answer), so each is tested on its own
// (tests/unit/transport.tests.cpp), and through the transport with Beast on top.

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "bridge/protocol/limits.hpp"

namespace wsbridge::netproc {

/// Beast's client handshake reads a refused answer (not 101) to the end of its body,
/// and a body with neither Content-Length nor chunked coding runs until the server
/// closes the connection (RFC 9112 §6.3), which a server may never do: the handshake
/// would then hang until --connect-timeout. The head is all wsbridge reports of a
/// refusal, so once armed (during the upgrade), this finds the end of the answer's
/// head, and if the answer is such a refusal, reads end there (EOF ends such a body).
class refusal_head_cut {
 public:
  void arm() { armed_ = true; }

  /// How far Beast may read in buf[pos, end), the bytes of one read from the socket;
  /// scans what it has not seen yet.
  std::size_t readable_end(const char* buf, std::size_t pos, std::size_t end) {
    if (!armed_) return cut_ ? std::min(cut_, end) : end;
    for (std::size_t i = std::max(pos, scanned_); i < end; ++i) {
      head_ += static_cast<char>(std::tolower(static_cast<unsigned char>(buf[i])));
      if (head_.size() > max_head) {  // Beast refuses it anyway (its header limit)
        armed_ = false;
        break;
      }
      if (!head_.ends_with("\r\n\r\n")) continue;
      armed_ = false;
      if (head_.size() >= 12 && head_.substr(9, 3) != "101" && head_.find("\ncontent-length:") == std::string::npos &&
          head_.find("\ntransfer-encoding:") == std::string::npos) {
        ended_ = true;
        cut_ = i + 1;
        return cut_;
      }
      break;
    }
    scanned_ = end;
    return end;
  }

  /// A new read replaced the buffer: scanning starts at its beginning.
  void new_buffer() { scanned_ = 0; }

  /// The refused answer's head has been cut: once Beast has it all, reads end (EOF).
  bool ended() const { return ended_; }

  /// The start of the answer as read so far (lower case), for telling a TLS record or
  /// no answer at all from an HTTP answer.
  std::string_view head() const { return head_; }

 private:
  static constexpr std::size_t max_head = limits::max_upgrade_head;
  bool armed_ = false;
  bool ended_ = false;
  std::size_t cut_ = 0;      ///< end of the head in the buffer, once cut
  std::size_t scanned_ = 0;  ///< bytes of the buffer already scanned
  std::string head_;
};

/// Beast's Close frames, as they pass through the transport (Beast writes each frame
/// with one write; a Close starts with 0x88, RFC 6455 §5.2):
/// - Beast does not say with which code it failed a connection (RFC 6455 §7.1.7); this
///   learns it from the first Close Beast writes.
/// - Beast 1.81 (detail::is_valid_close_code) takes a received code of 5000 or more as
///   valid and echoes it in its reply; RFC 6455 §7.4.2 leaves those unused on the wire,
///   and a peer that sends one is failed with 1002 (Autobahn 7.13.1-2). Beast's echo is
///   the only Close it writes with a code it did not choose, so such a frame is
///   rewritten as a Close 1002 with no reason.
/// - wsbridge writes its own Close rather than use async_close, which discards every
///   message that arrives before the peer's Close (session_transport.hpp); Beast's read
///   then answers the peer's Close with a second Close of its own. After ours, every
///   Close from Beast is dropped (RFC 6455 §5.5.1: one Close per side).
class close_frame_watch {
 public:
  static constexpr unsigned char close_byte = 0x88;  // FIN | opcode 8
  static constexpr std::uint16_t protocol_error = 1002;

  enum class action { pass, drop, rewrite };

  /// What to do with one write of Beast's, given its first bytes (up to 8: the frame's
  /// header, masking key and close code).
  action on_write(std::string_view head) {
    if (head.empty() || static_cast<unsigned char>(head[0]) != close_byte) return action::pass;
    if (dropping_) return action::drop;
    const std::uint16_t code = code_of(head);
    const bool valid = code < 5000;
    if (code_ == 0) code_ = valid ? code : protocol_error;
    return valid ? action::pass : action::rewrite;
  }

  /// From now on (our own Close is out), Beast's Close frames are dropped.
  void drop_from_now() { dropping_ = true; }

  /// The close code of the first Close Beast wrote (failing the connection, or
  /// answering the peer's Close), or 0.
  std::uint16_t beast_code() const { return code_; }

  /// The Close 1002 that replaces Beast's frame `head`, masked with the frame's own
  /// key when it has one (a client's, RFC 6455 §5.3).
  static std::string rewritten(std::string_view head) {
    const auto byte = [&](std::size_t i) {
      return i < head.size() ? static_cast<unsigned char>(head[i]) : static_cast<unsigned char>(0);
    };
    const bool masked = head.size() >= 6 && (byte(1) & 0x80) != 0;
    std::string out{static_cast<char>(close_byte), static_cast<char>(masked ? 0x82 : 0x02)};
    unsigned char key[4] = {0, 0, 0, 0};
    if (masked)
      for (std::size_t k = 0; k < 4; ++k) out += static_cast<char>(key[k] = byte(2 + k));
    out += static_cast<char>((protocol_error >> 8) ^ key[0]);
    out += static_cast<char>((protocol_error & 0xff) ^ key[1]);
    return out;
  }

  /// The status code in a Close frame (RFC 6455 §5.5.1: the first two bytes of the
  /// payload, after the 2-byte header and, in a client's frame, the 4-byte masking
  /// key), or 0 if it has none.
  static std::uint16_t code_of(std::string_view f) {
    const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(f[i]); };
    if (f.size() < 4 || (byte(1) & 0x7f) < 2) return 0;
    if ((byte(1) & 0x80) == 0) return static_cast<std::uint16_t>(byte(2) << 8 | byte(3));  // a server's
    if (f.size() < 8) return 0;
    return static_cast<std::uint16_t>((byte(6) ^ byte(2)) << 8 | (byte(7) ^ byte(3)));
  }

 private:
  bool dropping_ = false;
  std::uint16_t code_ = 0;
};

}  // namespace wsbridge::netproc
