#include "ioproc/display.hpp"

#include <algorithm>

#include "bridge/protocol/close_codes.hpp"
#include "bridge/safe_text.hpp"

namespace wsbridge {

void append_for_terminal(std::string& out, ipc::frame_type type, std::string_view payload) {
  if (type != ipc::frame_type::binary) {
    append_safe_text(out, payload, /*keep_newlines=*/true);
    return;
  }
  out += "(binary, " + std::to_string(payload.size()) + (payload.size() == 1 ? " byte)" : " bytes)");
  const std::size_t shown = std::min<std::size_t>(payload.size(), 32);
  if (shown) out += ' ';
  for (std::size_t i = 0; i < shown; ++i) {
    append_hex(out, static_cast<unsigned char>(payload[i]));
  }
  if (shown < payload.size()) out += "...";
}

std::string close_text(const ipc::close_info& c, const char* peer) {
  const std::string who = std::string("connection closed") + (c.by_server ? std::string(" by ") + peer : "");
  if (c.code == 1005) return who + " (no status code)";  // RFC 6455 §7.1.5
  std::string line = who + ": " + std::to_string(c.code) + " (" + close_code_meaning(c.code) + ")";
  if (!c.reason.empty()) line += " \"" + safe_text(c.reason) + "\"";
  return line;
}

std::string count_text(std::uint64_t n, std::string_view what, std::string_view after) {
  return std::to_string(n) + " " + std::string(what) + (n == 1 ? "" : "s") + std::string(after);
}

std::string traffic_text(const status_board& board) {
  const auto bytes = [](std::uint64_t n) { return " (" + count_text(n, "byte") + ")"; };
  return "sent " + count_text(board.messages_sent.load(std::memory_order_relaxed), "message") +
         bytes(board.bytes_sent.load(std::memory_order_relaxed)) + ", received " +
         count_text(board.messages_received.load(std::memory_order_relaxed), "message") +
         bytes(board.bytes_received.load(std::memory_order_relaxed));
}

std::string undelivered_text(const status_board& board, std::string_view what, std::string_view after,
                             bool must_end) {
  const std::uint64_t read = board.input_messages.load(std::memory_order_relaxed);
  const std::uint64_t sent = board.messages_sent.load(std::memory_order_relaxed);
  const bool ended = board.input_ended.load(std::memory_order_relaxed) != 0;
  if (read <= sent && (ended || !must_end)) return {};
  std::string line = read > sent ? count_text(read - sent, what, after) + (read - sent == 1 ? " was" : " were") +
                                       " not sent: the connection closed first"
                                 : std::string("the connection closed before all input was sent");
  if (!ended) line += " (input was not read to its end)";
  return line;
}

}  // namespace wsbridge
