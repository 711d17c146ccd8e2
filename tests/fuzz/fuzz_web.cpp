// What a client or a proxy in front of the server controls before any WebSocket frame:
// the path a request names for --static-dir (static_path), the PROXY protocol header
// (parse_proxy_header) and the forwarding headers behind --trusted-proxy
// (client_behind_proxies). The first byte picks one; the oracles:
// - a path static_path accepts is one the supervisor's own check accepts, with no
//   "." or ".." segment and no segment starting with '.';
// - the PROXY header parser, fed the input as a reader would (only the bytes it asks
//   for), never asks past max_proxy_header, and a complete header's length is what it
//   was fed; feeding the whole input at once gives the same verdict;
// - the client named behind proxies is an address that parses.
#include <boost/asio/ip/address.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "bridge/protocol/ip_ranges.hpp"
#include "bridge/protocol/static_files.hpp"
#include "netproc/forwarded.hpp"
#include "netproc/proxy_header.hpp"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

void fuzz_static_path(std::string_view target) {
  const auto path = wsbridge::static_path(target);
  if (!path) return;
  check(wsbridge::static_path_allowed(*path));
  std::string_view rest = *path;
  if (rest.ends_with('/')) rest.remove_suffix(1);
  while (!rest.empty()) {
    const std::size_t slash = rest.find('/');
    const std::string_view segment = rest.substr(0, slash);
    check(!segment.empty() && segment.front() != '.');
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
  }
}

void fuzz_proxy_header(std::string_view input) {
  using wsbridge::netproc::proxy_header;
  std::string fed;
  proxy_header h;
  for (;;) {
    h = wsbridge::netproc::parse_proxy_header(fed);
    if (h.status != proxy_header::state::need_more) break;
    check(h.wanted > 0 && fed.size() + h.wanted <= wsbridge::netproc::max_proxy_header + 16);
    if (fed.size() + h.wanted > input.size()) return;  // the connection ended inside the header
    fed.append(input.substr(fed.size(), h.wanted));
  }
  if (h.status == proxy_header::state::complete) {
    check(h.wanted == fed.size());
    if (!h.local) {
      boost::system::error_code ec;
      boost::asio::ip::make_address(h.address, ec);
      check(!ec);
    }
  }
  const proxy_header whole = wsbridge::netproc::parse_proxy_header(fed);
  check(whole.status == h.status);
}

void fuzz_forwarded(std::string_view input) {
  const std::size_t a = input.find('\n');
  const std::size_t b = a == std::string_view::npos ? a : input.find('\n', a + 1);
  const std::string_view forwarded = input.substr(0, a);
  const std::string_view xff = a == std::string_view::npos ? std::string_view() : input.substr(a + 1, b - a - 1);
  const std::string_view xfh = b == std::string_view::npos ? std::string_view() : input.substr(b + 1);
  static const std::vector<wsbridge::ip_range> trusted = [] {
    std::vector<wsbridge::ip_range> r;
    std::string err;
    wsbridge::parse_ip_ranges("127.0.0.0/8,10.0.0.0/8,::1", r, &err);
    return r;
  }();
  const auto client = wsbridge::netproc::client_behind_proxies(forwarded, xff, xfh, trusted);
  if (!client) return;
  boost::system::error_code ec;
  boost::asio::ip::make_address(client->address, ec);
  check(!ec);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0:
      fuzz_static_path(input);
      break;
    case 1:
      fuzz_proxy_header(input);
      break;
    default:
      fuzz_forwarded(input);
  }
  return 0;
}
