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
    netproc::append_client_frame(out, n % 2 == 1, payload, 0xa1b2c3d4u);
    netproc::append_client_frame(out, false, "next", 0x01020304u);
    std::size_t at = 3;
    int opcode = 0;
    CHECK(unmask(out, at, &opcode) == payload);
    CHECK(opcode == (n % 2 == 1 ? 2 : 1));
    CHECK(unmask(out, at, &opcode) == "next");
    CHECK(at == out.size());
    CHECK(std::string(out.data(), 3) == "xxx");
  }
}
