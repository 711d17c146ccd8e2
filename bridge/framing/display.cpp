#include "bridge/framing/display.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>

#include "bridge/protocol/close_codes.hpp"
#include "bridge/common/safe_text.hpp"

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

std::string hex_dump(std::string_view bytes) {
  std::string out;
  for (std::size_t line = 0; line < bytes.size(); line += 16) {
    char offset[24];
    std::snprintf(offset, sizeof offset, "%08zx ", line);
    out += offset;
    const std::string_view chunk = bytes.substr(line, 16);
    for (std::size_t i = 0; i < 16; ++i) {
      out += i == 8 ? "  " : " ";
      if (i < chunk.size()) append_hex(out, static_cast<unsigned char>(chunk[i]));
      else out += "  ";
    }
    out += "  |";
    for (const char c : chunk) out += c >= 0x20 && c < 0x7f ? c : '.';
    out += "|\n";
  }
  return out;
}

std::string time_text(bool utc) {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  if (utc) ::gmtime_r(&t, &tm);
  else ::localtime_r(&t, &tm);
  const int ms = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000);
  char buf[80];
  if (utc)
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                  tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
  else
    std::snprintf(buf, sizeof buf, "%02d:%02d:%02d.%03d ", tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
  return buf;
}

std::string extension_names(std::string_view header) {
  std::string names;
  for (std::size_t pos = 0; pos < header.size();) {
    std::size_t end = header.find(',', pos);
    if (end == std::string_view::npos) end = header.size();
    std::string_view item = header.substr(pos, end - pos);
    item = item.substr(0, item.find(';'));
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (!item.empty()) names += (names.empty() ? "" : ", ") + std::string(item);
    pos = end + 1;
  }
  return names;
}

}  // namespace wsbridge
