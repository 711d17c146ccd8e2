#include "bridge/common/base64.hpp"

#include <array>
#include <cstdint>

namespace wsbridge {
namespace {

constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Each byte's value in the alphabet, or -1.
constexpr std::array<std::int8_t, 256> make_values() {
  std::array<std::int8_t, 256> v{};
  for (auto& x : v) x = -1;
  for (int i = 0; i < 64; ++i) v[static_cast<unsigned char>(alphabet[i])] = static_cast<std::int8_t>(i);
  return v;
}
constexpr auto values = make_values();

}  // namespace

void append_base64(std::string& out, std::string_view in) {
  const auto* p = reinterpret_cast<const unsigned char*>(in.data());
  std::size_t i = 0;
  out.reserve(out.size() + 4 * ((in.size() + 2) / 3));
  for (; i + 3 <= in.size(); i += 3) {
    const std::uint32_t v = std::uint32_t{p[i]} << 16 | std::uint32_t{p[i + 1]} << 8 | p[i + 2];
    out += alphabet[v >> 18];
    out += alphabet[v >> 12 & 63];
    out += alphabet[v >> 6 & 63];
    out += alphabet[v & 63];
  }
  if (const std::size_t rest = in.size() - i; rest > 0) {
    const std::uint32_t v = std::uint32_t{p[i]} << 16 | (rest == 2 ? std::uint32_t{p[i + 1]} << 8 : 0);
    out += alphabet[v >> 18];
    out += alphabet[v >> 12 & 63];
    out += rest == 2 ? alphabet[v >> 6 & 63] : '=';
    out += '=';
  }
}

bool append_base64_decoded(std::string& out, std::string_view in) {
  // Padding is optional (RFC 4648 §3.2 allows leaving '=' out), but only at the end.
  std::size_t pad = 0;
  while (pad < 2 && pad < in.size() && in[in.size() - 1 - pad] == '=') ++pad;
  if (pad > 0 && in.size() % 4 != 0) return false;
  const std::string_view digits = in.substr(0, in.size() - pad);
  if (digits.size() % 4 == 1) return false;  // no encoding has this length
  const std::size_t start = out.size();
  std::uint32_t acc = 0;
  int bits = 0;
  for (const char c : digits) {
    const int v = values[static_cast<unsigned char>(c)];
    if (v < 0) {  // outside the alphabet, blanks and misplaced '=' included
      out.resize(start);
      return false;
    }
    acc = acc << 6 | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>(acc >> bits & 0xff);
    }
  }
  return true;
}

}  // namespace wsbridge
