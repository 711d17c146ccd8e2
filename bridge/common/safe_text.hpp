#pragma once
// Makes untrusted text (messages, close reasons, HTTP error text from a server) safe
// to show on a terminal. Tools that printed such text raw have had CVEs
// (kubectl CVE-2021-25743, git CVE-2024-52005).

#include <string>
#include <string_view>

namespace wsbridge {

/// Decodes UTF-8 and escapes everything a terminal could act on: C0 controls
/// (including \r, and \n and \t unless `keep_newlines`), DEL, C1 (U+0080..U+009F),
/// the bidi overrides U+202A..U+202E and U+2066..U+2069, and invalid UTF-8 bytes.
/// Escapes look like \x1b, \r, \u202e, so nothing is silently lost.
std::string safe_text(std::string_view in, bool keep_newlines = false);

/// Checks UTF-8 (RFC 3629: no overlong forms, surrogates or values above U+10FFFF).
/// Returns the length of the longest valid prefix of `in`. When that is shorter than
/// `in` and `incomplete` is given, *incomplete tells whether the rest is the start of a
/// sequence cut off by the end of `in` (more bytes may complete it) rather than invalid.
std::size_t utf8_valid_prefix(std::string_view in, bool* incomplete = nullptr);

/// Appends safe_text(in) to out (no temporary for the hot path).
void append_safe_text(std::string& out, std::string_view in, bool keep_newlines = false);

/// Appends the two lowercase hex digits of `b`.
inline void append_hex(std::string& out, unsigned char b) {
  static constexpr char digits[] = "0123456789abcdef";
  out += digits[b >> 4];
  out += digits[b & 15];
}

/// The length a UTF-8 sequence declares in its lead byte (RFC 3629 §3): 1 to 4, or 0
/// for a continuation byte or one that never appears in UTF-8.
constexpr int utf8_sequence_length(unsigned char b) {
  return b < 0x80 ? 1 : (b & 0xe0) == 0xc0 ? 2 : (b & 0xf0) == 0xe0 ? 3 : (b & 0xf8) == 0xf0 ? 4 : 0;
}

constexpr bool is_utf8_continuation(unsigned char b) { return (b & 0xc0) == 0x80; }

}  // namespace wsbridge
