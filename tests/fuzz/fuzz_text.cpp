// base64 and UTF-8: decode(encode(x)) == x; whatever decodes re-encodes to an input that
// decodes the same; utf8_valid_prefix agrees with a plain reference decoder; safe_text
// never lets a control character, C1 control or bidi override through.
#include <cstddef>
#include <cstdint>
#include <string>

#include "bridge/common/base64.hpp"
#include "bridge/common/safe_text.hpp"

using namespace wsbridge;

namespace {

/// Reference: length of the longest valid UTF-8 prefix (RFC 3629 §4), one byte at a time.
std::size_t reference_valid_prefix(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    std::size_t len = 0;
    unsigned lo = 0x80, hi = 0xbf;
    if (b < 0x80) len = 1;
    else if (b >= 0xc2 && b <= 0xdf) len = 2;
    else if (b >= 0xe0 && b <= 0xef) { len = 3; if (b == 0xe0) lo = 0xa0; if (b == 0xed) hi = 0x9f; }
    else if (b >= 0xf0 && b <= 0xf4) { len = 4; if (b == 0xf0) lo = 0x90; if (b == 0xf4) hi = 0x8f; }
    else return i;
    if (i + len > s.size()) return i;
    for (std::size_t k = 1; k < len; ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      if (c < (k == 1 ? lo : 0x80) || c > (k == 1 ? hi : 0xbf)) return i;
    }
    i += len;
  }
  return i;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  std::string encoded, decoded;
  append_base64(encoded, in);
  if (!append_base64_decoded(decoded, encoded) || decoded != in) __builtin_trap();
  std::string d1;
  if (append_base64_decoded(d1, in)) {
    std::string e2, d2;
    append_base64(e2, d1);
    if (!append_base64_decoded(d2, e2) || d2 != d1) __builtin_trap();
  }
  bool incomplete = false;
  const std::size_t valid = utf8_valid_prefix(in, &incomplete);
  if (valid != reference_valid_prefix(in)) __builtin_trap();
  if (incomplete && valid == in.size()) __builtin_trap();
  const std::string shown = safe_text(in);
  for (const char ch : shown)
    if (const auto c = static_cast<unsigned char>(ch); c < 0x20 || c == 0x7f) __builtin_trap();
  if (utf8_valid_prefix(shown) != shown.size()) __builtin_trap();  // escaping leaves valid UTF-8
  for (const char* bad : {"\xc2\x80", "\xc2\x9f", "\xe2\x80\xae", "\xe2\x81\xa6"})  // C1, RLO, LRI
    if (shown.find(bad) != std::string::npos) __builtin_trap();
  return 0;
}
