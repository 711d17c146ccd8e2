#pragma once
// --trusted-proxy: who the client is behind a reverse proxy. Used only when the TCP peer
// is a trusted proxy (a client could send any of these headers itself): the client is
// the right-most address of the chain that is not itself trusted, as nginx's realip
// module takes it (real_ip_recursive on), and the Host it asked for is the one that
// proxy passed on. Pure code, unit-tested.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bridge/protocol/ip_ranges.hpp"

namespace wsbridge::netproc {

struct forwarded_client {
  std::string address;  ///< without brackets ("203.0.113.7", "2001:db8::1")
  std::string port;     ///< "" when the proxy did not say
  std::string host;     ///< the Host the client sent, "" when the proxy did not say
};

/// From `Forwarded` (RFC 7239: for=, host=; each proxy appends an element) if present,
/// else `X-Forwarded-For` (addresses, left to right) with `X-Forwarded-Host`. Each
/// header's repeats are joined with ", " (RFC 9110 §5.3). Nothing when the headers name
/// no address (absent, "unknown", an obfuscated name, or not parseable).
std::optional<forwarded_client> client_behind_proxies(std::string_view forwarded, std::string_view x_forwarded_for,
                                                      std::string_view x_forwarded_host,
                                                      const std::vector<ip_range>& trusted);

}  // namespace wsbridge::netproc
