#include "ioproc/display.hpp"

#include <algorithm>

#include "bridge/close_codes.hpp"
#include "bridge/safe_text.hpp"

namespace wsbridge {

void append_for_terminal(std::string& out, ipc::frame_type type, std::string_view payload) {
  if (type != ipc::frame_type::binary) {
    append_safe_text(out, payload, /*keep_newlines=*/true);
    return;
  }
  static const char digits[] = "0123456789abcdef";
  out += "(binary, " + std::to_string(payload.size()) + (payload.size() == 1 ? " byte)" : " bytes)");
  const std::size_t shown = std::min<std::size_t>(payload.size(), 32);
  if (shown) out += ' ';
  for (std::size_t i = 0; i < shown; ++i) {
    const auto b = static_cast<unsigned char>(payload[i]);
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  if (shown < payload.size()) out += "...";
}

std::string close_text(const ipc::close_info& c) {
  std::string line = std::string("connection closed") + (c.by_server ? " by server" : "") + ": " +
                     std::to_string(c.code) + " (" + close_code_meaning(c.code) + ")";
  if (!c.reason.empty()) line += " \"" + safe_text(c.reason) + "\"";
  return line;
}

std::string undelivered_text(const status_board& board, const std::string& what) {
  const std::uint64_t read = board.input_messages.load(std::memory_order_relaxed);
  const std::uint64_t sent = board.messages_sent.load(std::memory_order_relaxed);
  if (read <= sent) return {};
  std::string line = std::to_string(read - sent) + " " + what + (read - sent == 1 ? " was" : "s were") +
                     " not sent: the connection closed first";
  if (!board.input_ended.load(std::memory_order_relaxed)) line += " (input was not read to its end)";
  return line;
}

}  // namespace wsbridge
