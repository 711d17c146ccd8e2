#pragma once
// Base64 (RFC 4648 §4) for --base64 and Basic authentication. Our own, not OpenSSL's:
// plain ws:// does not load OpenSSL at all (see docs/performance.md).

#include <string>
#include <string_view>

namespace wsbridge {

/// Appends the base64 encoding of `in` (padded, no line breaks) to out.
void append_base64(std::string& out, std::string_view in);

/// Decodes `in` (padding optional) and appends the bytes to out. Returns false on a
/// character outside the alphabet or a length no encoding has.
bool append_base64_decoded(std::string& out, std::string_view in);

}  // namespace wsbridge
