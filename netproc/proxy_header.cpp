#include "netproc/proxy_header.hpp"

#include <boost/asio/ip/address.hpp>
#include <algorithm>
#include <cstdint>
#include <vector>

namespace wsbridge::netproc {

namespace {

constexpr std::string_view v2_signature("\r\n\r\n\0\r\nQUIT\n", 12);
constexpr std::string_view v1_start = "PROXY ";
constexpr std::size_t v1_max = 107;
constexpr std::size_t v1_min = 15;  // "PROXY UNKNOWN\r\n"

proxy_header invalid(std::string why) {
  proxy_header h;
  h.status = proxy_header::state::invalid;
  h.error = std::move(why);
  return h;
}

proxy_header need(std::size_t n) {
  proxy_header h;
  h.wanted = n;
  return h;
}

bool valid_port(std::string_view p) {
  if (p.empty() || p.size() > 5 || (p.size() > 1 && p[0] == '0')) return false;
  unsigned v = 0;
  for (char c : p) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  return v <= 65535;
}

proxy_header parse_v1(std::string_view bytes) {
  const std::size_t end = bytes.find("\r\n");
  if (end == std::string_view::npos) {
    if (bytes.size() >= v1_max) return invalid("a version 1 header longer than 107 bytes");
    return need(1);  // a line: one byte at a time, so that nothing after it is read
  }
  std::vector<std::string_view> f;
  for (std::string_view line = bytes.substr(v1_start.size(), end - v1_start.size()); !line.empty();) {
    const std::size_t sp = line.find(' ');
    f.push_back(line.substr(0, sp));
    line = sp == std::string_view::npos ? std::string_view() : line.substr(sp + 1);
  }
  proxy_header h;
  h.status = proxy_header::state::complete;
  h.wanted = end + 2;  // the header's length
  if (!f.empty() && f[0] == "UNKNOWN") {
    h.local = true;
    return h;
  }
  if (f.size() != 5 || (f[0] != "TCP4" && f[0] != "TCP6")) return invalid("a malformed version 1 header");
  boost::system::error_code ec;
  const auto src = boost::asio::ip::make_address(std::string(f[1]), ec);
  if (ec || src.is_v4() != (f[0] == "TCP4") || !valid_port(f[3]) || !valid_port(f[4]))
    return invalid("a malformed version 1 header");
  boost::asio::ip::make_address(std::string(f[2]), ec);
  if (ec) return invalid("a malformed version 1 header");
  h.address = src.to_string();
  h.port = std::string(f[3]);
  return h;
}

proxy_header parse_v2(std::string_view bytes) {
  if (bytes.size() < 16) return need(16 - bytes.size());
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(bytes[i]); };
  const std::size_t length = 16 + (static_cast<std::size_t>(byte(14)) << 8 | byte(15));
  if ((byte(12) & 0xf0) != 0x20) return invalid("a version 2 header of another version");
  const unsigned command = byte(12) & 0x0f;
  if (command > 1) return invalid("a version 2 header with an unknown command");
  if (length > max_proxy_header) return invalid("a version 2 header longer than 4096 bytes");
  if (bytes.size() < length) return need(length - bytes.size());
  proxy_header h;
  h.status = proxy_header::state::complete;
  h.wanted = length;
  const unsigned family = byte(13);
  if (command == 0 || (family >> 4) == 0 || (family & 0x0f) != 1) {  // LOCAL, UNSPEC, or not a stream
    h.local = true;
    return h;
  }
  const auto port_at = [&](std::size_t i) { return std::to_string(byte(i) << 8 | byte(i + 1)); };
  if (family == 0x11) {  // TCP over IPv4: source, destination, their ports
    if (length < 16 + 12) return invalid("a version 2 header too short for its addresses");
    boost::asio::ip::address_v4::bytes_type a;
    for (std::size_t i = 0; i < 4; ++i) a[i] = byte(16 + i);
    h.address = boost::asio::ip::address_v4(a).to_string();
    h.port = port_at(24);
    return h;
  }
  if (family == 0x21) {  // TCP over IPv6
    if (length < 16 + 36) return invalid("a version 2 header too short for its addresses");
    boost::asio::ip::address_v6::bytes_type a;
    for (std::size_t i = 0; i < 16; ++i) a[i] = byte(16 + i);
    h.address = boost::asio::ip::address_v6(a).to_string();
    h.port = port_at(48);
    return h;
  }
  h.local = true;  // a Unix socket's addresses name no client
  return h;
}

}  // namespace

proxy_header parse_proxy_header(std::string_view bytes) {
  // The first bytes decide the version; until there are enough to tell, ask for the
  // shortest header's length.
  if (bytes.size() < v1_min) return need(v1_min - bytes.size());
  if (bytes.starts_with(v1_start)) return parse_v1(bytes);
  if (bytes.substr(0, v2_signature.size()) == v2_signature.substr(0, std::min(bytes.size(), v2_signature.size())))
    return parse_v2(bytes);
  return invalid("no PROXY protocol header");
}

}  // namespace wsbridge::netproc
