#include "netproc/forwarded.hpp"

#include <boost/asio/ip/address.hpp>
#include <algorithm>
#include <cctype>

namespace wsbridge::netproc {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  for (std::size_t pos = 0; pos <= s.size();) {
    std::size_t end = s.find(sep, pos);
    if (end == std::string_view::npos) end = s.size();
    out.push_back(trim(s.substr(pos, end - pos)));
    pos = end + 1;
  }
  return out;
}

bool iequal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

/// "203.0.113.7", "203.0.113.7:4711", "[2001:db8::1]", "[2001:db8::1]:4711", or a bare
/// IPv6 address (X-Forwarded-For has no ports in practice, but some proxies add one).
std::optional<forwarded_client> node(std::string_view text) {
  if (text.size() >= 2 && text.front() == '"' && text.back() == '"') text = text.substr(1, text.size() - 2);
  forwarded_client c;
  if (!text.empty() && text.front() == '[') {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    c.address = std::string(text.substr(1, close - 1));
    if (close + 1 < text.size()) {
      if (text[close + 1] != ':') return std::nullopt;
      c.port = std::string(text.substr(close + 2));
    }
  } else if (std::count(text.begin(), text.end(), ':') == 1) {
    const std::size_t colon = text.find(':');
    c.address = std::string(text.substr(0, colon));
    c.port = std::string(text.substr(colon + 1));
  } else {
    c.address = std::string(text);
  }
  boost::system::error_code ec;
  boost::asio::ip::make_address(c.address, ec);
  if (ec) return std::nullopt;  // "unknown", "_hidden": no address to use
  for (char ch : c.port)
    if (!std::isdigit(static_cast<unsigned char>(ch))) return std::nullopt;
  return c;
}

/// The right-most hop not in `trusted`, else the left-most.
std::optional<forwarded_client> pick(const std::vector<forwarded_client>& hops, const std::vector<ip_range>& trusted) {
  if (hops.empty()) return std::nullopt;
  for (auto it = hops.rbegin(); it != hops.rend(); ++it)
    if (!in_ranges(it->address, trusted)) return *it;
  return hops.front();
}

}  // namespace

std::optional<forwarded_client> client_behind_proxies(std::string_view forwarded, std::string_view x_forwarded_for,
                                                      std::string_view x_forwarded_host,
                                                      const std::vector<ip_range>& trusted) {
  std::vector<forwarded_client> hops;
  if (!trim(forwarded).empty()) {
    for (std::string_view element : split(forwarded, ',')) {
      std::optional<forwarded_client> hop;
      std::string host;
      for (std::string_view pair : split(element, ';')) {
        const std::size_t eq = pair.find('=');
        if (eq == std::string_view::npos) continue;
        const std::string_view name = trim(pair.substr(0, eq));
        std::string_view value = trim(pair.substr(eq + 1));
        if (iequal(name, "for")) hop = node(value);
        if (iequal(name, "host")) {
          if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
          host = std::string(value);
        }
      }
      if (!hop) return std::nullopt;  // a hop we cannot place: the chain cannot be trusted
      hop->host = host;
      hops.push_back(*hop);
    }
    return pick(hops, trusted);
  }
  if (trim(x_forwarded_for).empty()) return std::nullopt;
  for (std::string_view item : split(x_forwarded_for, ',')) {
    auto hop = node(item);
    if (!hop) return std::nullopt;
    hops.push_back(*hop);
  }
  auto client = pick(hops, trusted);
  if (client) {
    const auto hosts = split(x_forwarded_host, ',');
    client->host = hosts.empty() ? std::string() : std::string(hosts.back());
  }
  return client;
}

}  // namespace wsbridge::netproc
