#include "bridge/protocol/ipc.hpp"

#include <boost/endian/conversion.hpp>
#include <array>
#include <cctype>
#include <cstring>

namespace wsbridge::ipc {

const char* to_string(frame_type t) {
  switch (t) {
    case frame_type::text: return "text";
    case frame_type::binary: return "binary";
    case frame_type::input_end: return "input_end";
    case frame_type::opened: return "opened";
    case frame_type::closed: return "closed";
    case frame_type::close_request: return "close_request";
    case frame_type::ping: return "ping";
    case frame_type::pong: return "pong";
    case frame_type::notice: return "notice";
    case frame_type::redirect: return "redirect";
    case frame_type::ended: return "ended";
    case frame_type::unsent: return "unsent";
    case frame_type::file_request: return "file_request";
    case frame_type::file_answer: return "file_answer";
    case frame_type::program_start: return "program_start";
    case frame_type::program_pipes: return "program_pipes";
    case frame_type::program_exit: return "program_exit";
    case frame_type::connection: return "connection";
  }
  return "unknown";
}

void append_frame(std::string& out, frame_type type, std::string_view payload) {
  unsigned char h[header_size];
  boost::endian::store_big_u32(h, static_cast<std::uint32_t>(payload.size()));
  h[4] = static_cast<unsigned char>(type);
  out.append(reinterpret_cast<const char*>(h), header_size);
  out.append(payload);
}

frame_decoder::frame_decoder(std::size_t max_payload) : max_payload_(max_payload) {}

std::span<char> frame_decoder::prepare(std::size_t min) {
  const std::size_t held = end_ - begin_;
  if (held == 0) begin_ = end_ = 0;
  const std::size_t want = std::max(min, need_ > held ? need_ - held : 0);
  if (buf_.size() - end_ < want) {
    // Move the partial frame to the front before growing, so the buffer stays
    // about one frame plus one read large.
    if (begin_ > 0) {
      std::memmove(buf_.data(), buf_.data() + begin_, held);
      begin_ = 0;
      end_ = held;
    }
    if (buf_.size() - end_ < want) buf_.resize(end_ + want);
  }
  return {buf_.data() + end_, buf_.size() - end_};
}

void frame_decoder::commit(std::size_t n) {
  end_ += n;
  buf_.filled(n);
}

frame_decoder::result frame_decoder::next(frame& out, std::string* err) {
  const std::size_t held = end_ - begin_;
  if (held < header_size) return result::need_more;
  const auto* p = reinterpret_cast<const unsigned char*>(buf_.data() + begin_);
  const std::size_t len = boost::endian::load_big_u32(p);
  const std::uint8_t type = p[4];
  if (type == 0 || type > max_frame_type) {
    if (err) *err = "unknown frame type " + std::to_string(type);
    return result::error;
  }
  if (len > max_payload_) {
    if (err) *err = "frame of " + std::to_string(len) + " bytes exceeds the limit of " +
                    std::to_string(max_payload_);
    return result::error;
  }
  if (held < header_size + len) {
    need_ = header_size + len;
    return result::need_more;
  }
  need_ = 0;
  out.type = static_cast<frame_type>(type);
  out.payload = std::string_view(buf_.data() + begin_ + header_size, len);
  begin_ += header_size + len;
  return result::frame;
}

std::string encode_close(const close_info& c) {
  std::string s(3, '\0');
  boost::endian::store_big_u16(reinterpret_cast<unsigned char*>(s.data()), c.code);
  s[2] = c.by_server ? 1 : 0;
  s.append(c.reason.substr(0, limits::max_close_reason));
  return s;
}

bool decode_close(std::string_view payload, close_info& out, std::string* err) {
  if (payload.size() < 3 || payload.size() > 3 + limits::max_close_reason ||
      static_cast<unsigned char>(payload[2]) > 1) {
    if (err) *err = "malformed close payload";
    return false;
  }
  out.code = boost::endian::load_big_u16(reinterpret_cast<const unsigned char*>(payload.data()));
  out.by_server = payload[2] == 1;
  out.reason.assign(payload.substr(3));
  return true;
}

std::string encode_redirect(const redirect_report& r) {
  std::string s(4, '\0');
  boost::endian::store_big_u32(reinterpret_cast<unsigned char*>(s.data()), r.status);
  s.append(r.location.substr(0, limits::max_redirect_url + 1));
  return s;
}

bool decode_redirect(std::string_view payload, redirect_report& out, std::string* err) {
  if (payload.size() < 4 || payload.size() > 4 + limits::max_redirect_url + 1) {
    if (err) *err = "malformed redirect payload";
    return false;
  }
  out.status = boost::endian::load_big_u32(reinterpret_cast<const unsigned char*>(payload.data()));
  out.location.assign(payload.substr(4));
  return true;
}

std::string encode_end(const end_report& e) {
  std::string s(17, '\0');  // status u32 | retry u32 | certificate u8 | unsent u64 | close payload
  auto* p = reinterpret_cast<unsigned char*>(s.data());
  boost::endian::store_big_u32(p, e.http_status);
  boost::endian::store_big_u32(p + 4, e.retry_after);
  p[8] = e.certificate_refused ? 1 : 0;
  boost::endian::store_big_u64(p + 9, e.unsent_messages);
  return s + encode_close(e.close);
}

bool decode_end(std::string_view payload, end_report& out, std::string* err) {
  if (payload.size() < 17 || static_cast<unsigned char>(payload[8]) > 1 ||
      !decode_close(payload.substr(17), out.close, err)) {
    if (err) *err = "malformed end payload";
    return false;
  }
  const auto* p = reinterpret_cast<const unsigned char*>(payload.data());
  out.http_status = boost::endian::load_big_u32(p);
  out.retry_after = boost::endian::load_big_u32(p + 4);
  out.certificate_refused = p[8] == 1;
  out.unsent_messages = boost::endian::load_big_u64(p + 9);
  return true;
}

bool program_variable_allowed(std::string_view line) {
  static constexpr std::array<std::string_view, 20> cgi = {
      "GATEWAY_INTERFACE", "SERVER_SOFTWARE", "SERVER_PROTOCOL", "SERVER_NAME", "SERVER_PORT", "REMOTE_ADDR",
      "REMOTE_HOST",       "REMOTE_PORT",     "REQUEST_METHOD",  "REQUEST_URI", "SCRIPT_NAME", "PATH_INFO",
      "QUERY_STRING",      "HTTPS",           "WSBRIDGE_REMOTE", "WSBRIDGE_SUBPROTOCOL", "AUTH_TYPE", "REMOTE_USER",
      "PATH_TRANSLATED",   "UNIQUE_ID"};
  const std::size_t eq = line.find('=');
  if (eq == std::string_view::npos || line.find('\0') != std::string_view::npos) return false;
  const std::string_view name = line.substr(0, eq);
  for (std::string_view c : cgi)
    if (name == c) return true;
  if (!name.starts_with("HTTP_") || name.size() == 5 || name == "HTTP_PROXY") return false;
  for (char c : name)
    if (!(std::isupper(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '_'))
      return false;
  return true;
}

}  // namespace wsbridge::ipc
