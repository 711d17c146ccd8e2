#pragma once
// Cuts an input byte stream (stdin, or a --exec program's stdout) into messages and
// appends them as IPC frames to a caller's buffer, so one read becomes one pipe write.

#include <cstdint>
#include <string>
#include <string_view>

#include "bridge/protocol/settings.hpp"
#include "bridge/protocol/limits.hpp"

namespace wsbridge {

class input_framer {
 public:
  input_framer(framing mode, payload_encoding encoding, std::size_t max_message = limits::max_ipc_payload,
               message_typing typing = {})
      : mode_(mode), encoding_(encoding), max_message_(max_message), typing_(std::move(typing)) {}

  /// Frames every complete message in `data` and keeps the rest for the next call.
  /// Returns false and fills *err (one line naming the message) when the input cannot
  /// become a message: invalid UTF-8 for a text message, bad base64, a message over
  /// the limit. The messages before that one are in `frames`.
  bool feed(std::string_view data, std::string& frames, std::string* err);

  /// At end of input: frames what is left (a last line without '\n'). Returns false
  /// and fills *err if that cannot be a message (input ended inside one).
  bool finish(std::string& frames, std::string* err);

  /// Messages framed so far.
  std::uint64_t messages() const { return messages_; }

 private:
  bool feed_delimited(std::string_view data, char delimiter, std::string& frames, std::string* err);
  bool feed_length_prefixed(std::string_view data, std::string& frames, std::string* err);
  bool feed_raw(std::string_view data, std::string& frames, std::string* err);
  /// --raw: `bytes` as messages of at most the limit each.
  bool emit_raw(std::string_view bytes, std::string& frames, std::string* err);
  /// Appends one message of the type `encoding` says; false and *err if it cannot be one.
  bool emit(std::string_view payload, payload_encoding encoding, std::string& frames, std::string* err);
  /// A record of lines or -0: its type from its prefix (message_typing), else the default.
  bool emit_record(std::string_view record, std::string& frames, std::string* err);
  /// "line 3", "message 3": how an error names the message being framed.
  std::string current_name() const;

  framing mode_;
  payload_encoding encoding_;
  std::size_t max_message_;
  message_typing typing_;
  std::string partial_;          ///< bytes of a message not yet complete
  std::uint64_t messages_ = 0;   ///< messages framed so far
  std::string decoded_;          ///< scratch for base64
  std::uint64_t raw_offset_ = 0; ///< --raw text: input bytes sent so far (for error positions)
};

}  // namespace wsbridge
