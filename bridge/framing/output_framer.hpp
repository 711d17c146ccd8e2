#pragma once
// Writes received messages to stdout (or a --exec program's stdin) in the framing the
// user chose: the mirror of input_framer.

#include <string>
#include <string_view>

#include "bridge/protocol/settings.hpp"
#include "bridge/protocol/ipc.hpp"

namespace wsbridge {

class output_framer {
 public:
  /// `terminal`: the output is a terminal, so every message is shown escaped, one per
  /// line, whatever the framing (untrusted bytes never reach the terminal raw).
  output_framer(const io_settings& cfg, bool terminal)
      : mode_(cfg.framing_mode), base64_(cfg.encoding == payload_encoding::base64),
        escape_newlines_(cfg.escape_newlines), terminal_(terminal), typing_(cfg.typing) {}

  /// Appends one received message to out.
  void append(ipc::frame_type type, std::string_view payload, std::string& out);

  /// Once per run: the warning that a message contained the record separator and so
  /// became several records downstream. Empty when there is nothing (new) to say.
  std::string take_warning();

 private:
  void append_payload(ipc::frame_type type, std::string_view payload, std::string& out) const;
  /// The payload, then `separator`; notes when the payload itself held the separator.
  void append_record(ipc::frame_type type, std::string_view payload, char separator, std::string& out);

  framing mode_;
  bool base64_;
  bool escape_newlines_;
  bool terminal_;
  message_typing typing_;
  bool split_seen_ = false;
  bool warned_ = false;
};

}  // namespace wsbridge
