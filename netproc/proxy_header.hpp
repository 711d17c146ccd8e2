#pragma once
// --proxy-protocol: the header HAProxy's PROXY protocol puts before a connection's
// first byte, naming the client (version 1, text, and version 2, binary; the PROXY
// protocol specification, haproxy.org/download/2.6/doc/proxy-protocol.txt). Pure code,
// unit-tested: it says how many more bytes it needs, so that the caller reads exactly
// the header and not one byte of what follows (the request, or TLS).

#include <cstddef>
#include <string>
#include <string_view>

namespace wsbridge::netproc {

struct proxy_header {
  enum class state { need_more, invalid, complete } status = state::need_more;
  std::size_t wanted = 0;  ///< need_more: read this many more bytes, then ask again
  bool local = false;      ///< complete: LOCAL or UNKNOWN: the connection's own peer is the client
  std::string address;     ///< complete, not local: the client's address
  std::string port;
  std::string error;       ///< invalid: why, in one phrase
};

/// Longest header accepted: version 1's 107 bytes, or version 2's 16 and its addresses
/// and extensions (TLVs), which HAProxy keeps well under this.
inline constexpr std::size_t max_proxy_header = 4096;

/// Looks at the bytes read so far (`bytes`, the connection's first ones).
proxy_header parse_proxy_header(std::string_view bytes);

}  // namespace wsbridge::netproc
