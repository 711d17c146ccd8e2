// What a reverse proxy says about the client: the PROXY protocol header
// (netproc/proxy_header.hpp) and the forwarding headers behind --trusted-proxy
// (netproc/forwarded.hpp), with the address ranges they are matched against.
#include <catch2/catch.hpp>
#include <string>

#include "bridge/protocol/ip_ranges.hpp"
#include "netproc/forwarded.hpp"
#include "netproc/proxy_header.hpp"

using namespace wsbridge;
using netproc::parse_proxy_header;
using state = netproc::proxy_header::state;

namespace {
std::string v2(unsigned char command, unsigned char family, const std::string& addresses) {
  std::string h("\r\n\r\n\0\r\nQUIT\n", 12);
  h += static_cast<char>(0x20 | command);
  h += static_cast<char>(family);
  h += static_cast<char>(addresses.size() >> 8);
  h += static_cast<char>(addresses.size() & 0xff);
  return h + addresses;
}
}  // namespace

TEST_CASE("PROXY header: version 1, read a byte at a time up to its line's end", "[proxy-protocol]") {
  const std::string line = "PROXY TCP4 198.51.100.4 127.0.0.1 40001 443\r\n";
  std::string got;
  for (;;) {
    const auto h = parse_proxy_header(got);
    if (h.status == state::complete) {
      CHECK(h.wanted == line.size());
      CHECK(h.address == "198.51.100.4");
      CHECK(h.port == "40001");
      break;
    }
    REQUIRE(h.status == state::need_more);
    REQUIRE(got.size() + h.wanted <= line.size());  // never asks past the header
    got += line.substr(got.size(), h.wanted);
  }
  CHECK(parse_proxy_header("PROXY TCP6 2001:db8::1 ::1 5 6\r\n").address == "2001:db8::1");
  CHECK(parse_proxy_header("PROXY UNKNOWN\r\n").local);
  for (const char* bad : {"PROXY TCP4 ::1 127.0.0.1 1 2\r\n", "PROXY TCP4 1.2.3.4 5.6.7.8 99999 2\r\n",
                          "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", "PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n",
                          "GET / HTTP/1.1\r\nHost: x\r\n\r\n"})
    CHECK(parse_proxy_header(bad).status == state::invalid);
  CHECK(parse_proxy_header("PROXY TCP4 " + std::string(120, '1')).status == state::invalid);
}

TEST_CASE("PROXY header: version 2, its length read exactly", "[proxy-protocol]") {
  const std::string v4 = v2(1, 0x11, std::string("\xcb\x00\x71\x05\x7f\x00\x00\x01\x9c\x42\x00\x50", 12));
  const auto partial = parse_proxy_header(v4.substr(0, 15));
  REQUIRE(partial.status == state::need_more);
  CHECK(partial.wanted == 1);
  const auto head = parse_proxy_header(v4.substr(0, 16));
  REQUIRE(head.status == state::need_more);
  CHECK(head.wanted == 12);
  const auto h = parse_proxy_header(v4);
  REQUIRE(h.status == state::complete);
  CHECK(h.wanted == v4.size());
  CHECK(h.address == "203.0.113.5");
  CHECK(h.port == "40002");
  std::string six(36, '\0');
  six[15] = 1;  // ::1
  six[32] = 0x12;
  six[33] = 0x34;
  CHECK(parse_proxy_header(v2(1, 0x21, six)).address == "::1");
  CHECK(parse_proxy_header(v2(1, 0x21, six)).port == std::to_string(0x1234));
  CHECK(parse_proxy_header(v2(0, 0x00, "")).local);  // LOCAL: a health check
  CHECK(parse_proxy_header(v2(1, 0x11, "short")).status == state::invalid);
  CHECK(parse_proxy_header(v2(2, 0x11, std::string(12, '\0'))).status == state::invalid);
  std::string huge = v2(1, 0x11, "");
  huge[14] = '\x20';  // 8 KiB of addresses
  CHECK(parse_proxy_header(huge).status == state::invalid);
}

TEST_CASE("trusted proxies: the right-most address not itself trusted", "[proxy-protocol]") {
  std::vector<ip_range> trusted;
  std::string err;
  REQUIRE(parse_ip_ranges("127.0.0.1, 10.0.0.0/8,::1", trusted, &err));
  CHECK(in_ranges("10.200.3.4", trusted));
  CHECK(in_ranges("::ffff:127.0.0.1", trusted));
  CHECK_FALSE(in_ranges("11.0.0.1", trusted));
  std::vector<ip_range> none;
  for (const char* bad : {"", "10.0.0.0/33", "not-an-address", "10.0.0.0/", "::/129"})
    CHECK_FALSE(parse_ip_ranges(bad, none, &err));

  const auto xff = netproc::client_behind_proxies("", "198.51.100.1, 203.0.113.9, 10.1.1.1", "a.example, b.example",
                                                  trusted);
  REQUIRE(xff);
  CHECK(xff->address == "203.0.113.9");
  CHECK(xff->host == "b.example");
  const auto fwd = netproc::client_behind_proxies(
      "for=192.0.2.60;host=first.example, for=\"[2001:db8::7]:4711\";host=\"chat.example:8443\";proto=https, "
      "for=10.0.0.2",
      "198.51.100.1", "", trusted);
  REQUIRE(fwd);  // Forwarded wins over X-Forwarded-For
  CHECK(fwd->address == "2001:db8::7");
  CHECK(fwd->port == "4711");
  CHECK(fwd->host == "chat.example:8443");
  CHECK(netproc::client_behind_proxies("", "10.0.0.1, 127.0.0.1", "", trusted)->address == "10.0.0.1");
  CHECK_FALSE(netproc::client_behind_proxies("for=unknown", "", "", trusted));
  CHECK_FALSE(netproc::client_behind_proxies("", "", "", trusted));
  CHECK_FALSE(netproc::client_behind_proxies("", "203.0.113.9, garbage", "", trusted));
}
