#include <catch2/catch.hpp>

#include <cstring>
#include <string>

#include "netproc/frame_writer.hpp"

using namespace wsbridge;

namespace {

/// Parses one client frame the way a server does (RFC 6455 §5.2): returns the
/// unmasked payload, and the opcode through *opcode.
std::string unmask(const byte_buffer& f, std::size_t& at, int* opcode) {
  const auto* p = reinterpret_cast<const unsigned char*>(f.data() + at);
  REQUIRE((p[0] & 0x80) != 0);  // FIN
  *opcode = p[0] & 0x0f;
  REQUIRE((p[1] & 0x80) != 0);  // a client frame is masked
  std::uint64_t n = p[1] & 0x7f;
  std::size_t h = 2;
  if (n == 126) {
    n = (std::uint64_t{p[2]} << 8) | p[3];
    h = 4;
  } else if (n == 127) {
    n = 0;
    for (int i = 0; i < 8; ++i) n = (n << 8) | p[2 + i];
    h = 10;
  }
  const unsigned char* key = p + h;
  h += 4;
  std::string out(n, '\0');
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<char>(p[h + i] ^ key[i % 4]);
  at += h + n;
  return out;
}

}  // namespace

TEST_CASE("client frames unmask to their payload at every length class and block remainder", "[frame_writer]") {
  // Lengths around the 7-bit/16-bit/64-bit boundaries and around the 32-byte blocks.
  for (std::size_t n : {0u, 1u, 3u, 4u, 31u, 32u, 33u, 63u, 64u, 65u, 125u, 126u, 127u, 1000u, 65535u, 65536u, 70001u}) {
    std::string payload(n, '\0');
    for (std::size_t i = 0; i < n; ++i) payload[i] = static_cast<char>(i * 131 + 7);
    byte_buffer out;
    out.append("xxx");  // frames are appended after what is there
    netproc::append_data_frame(out, n % 2 == 1, payload, 0xa1b2c3d4u);
    netproc::append_data_frame(out, false, "next", 0x01020304u);
    std::size_t at = 3;
    int opcode = 0;
    CHECK(unmask(out, at, &opcode) == payload);
    CHECK(opcode == (n % 2 == 1 ? 2 : 1));
    CHECK(unmask(out, at, &opcode) == "next");
    CHECK(at == out.size());
    CHECK(std::string(out.data(), 3) == "xxx");
  }
}

TEST_CASE("server frames are not masked and carry the payload as it is", "[frame_writer]") {
  for (std::size_t n : {0u, 5u, 125u, 126u, 65535u, 65536u}) {
    const std::string payload(n, 'p');
    byte_buffer out;
    netproc::append_data_frame(out, true, payload, std::nullopt);
    const auto* p = reinterpret_cast<const unsigned char*>(out.data());
    CHECK(p[0] == 0x82);              // FIN, binary
    CHECK((p[1] & 0x80) == 0);        // RFC 6455 §5.1: a server never masks
    const std::size_t head = n < 126 ? 2 : n < 65536 ? 4 : 10;
    REQUIRE(out.size() == head + n);
    CHECK(std::string(out.data() + head, n) == payload);
  }
  const std::string close = netproc::make_close_frame(1001, "bye", std::nullopt);
  CHECK(close == std::string("\x88\x05\x03\xe9" "bye", 7));
}
