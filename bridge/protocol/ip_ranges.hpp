#pragma once
// --trusted-proxy CIDR,...: address ranges, parsed by the command line (a bad one is a
// usage error) and matched by netproc against a connection's peer and the addresses a
// proxy's headers list.

#include <boost/asio/ip/address.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace wsbridge {

struct ip_range {
  boost::asio::ip::address base;
  unsigned prefix = 0;  ///< bits that must match
  bool contains(const boost::asio::ip::address& a) const;
};

/// "127.0.0.1,10.0.0.0/8,::1,fd00::/8" (an address alone is its own /32 or /128).
/// Returns false and fills *err naming the bad item.
bool parse_ip_ranges(std::string_view list, std::vector<ip_range>& out, std::string* err);

/// True when `address` (text; an IPv4-mapped IPv6 address counts as its IPv4 one) is
/// in one of `ranges`.
bool in_ranges(std::string_view address, const std::vector<ip_range>& ranges);

}  // namespace wsbridge
