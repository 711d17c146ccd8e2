// URL, proxy, no_proxy and redirect resolution on hostile input: no crash, no Boost.URL
// assertion (a debug build has them on), and what is accepted holds its promises: a
// followed redirect is ws:// or wss://, never down from wss://, and passes the same
// check again unchanged (the supervisor's re-check); --connect-to/--resolve rules never
// change the host the Host header and the certificate check use.
#include <cstddef>
#include <cstdint>
#include <string>

#include "bridge/cli/config.hpp"

using namespace wsbridge;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string in(reinterpret_cast<const char*>(data), size);
  // Up to three parts separated by NUL: a URL, a redirect Location, a no_proxy list.
  const std::size_t a = in.find('\0');
  const std::string url = in.substr(0, a);
  const std::string location = a == std::string::npos ? std::string() : in.substr(a + 1, in.find('\0', a + 1) - a - 1);
  const std::size_t b = a == std::string::npos ? std::string::npos : in.find('\0', a + 1);
  const std::string no_proxy = b == std::string::npos ? std::string() : in.substr(b + 1);

  ws_target target;
  std::string err;
  if (!parse_ws_url(url, target, &err)) {
    if (err.empty() || err.find('\n') != std::string::npos) __builtin_trap();  // one line, always
    target = ws_target{};
    if (!parse_ws_url("wss://example.test:8443/a/b?c", target, &err)) __builtin_trap();
  }
  proxy_target proxy;
  parse_proxy_url(url, proxy, &err);
  no_proxy_matches(no_proxy, target.host);
  // --connect-to and --resolve rules from the same text: refused in one line, or applied.
  for (const bool resolve : {false, true}) {
    connect_rule rule;
    if (!parse_connect_rule(url, resolve, rule, &err)) {
      if (err.empty() || err.find('\n') != std::string::npos) __builtin_trap();
      continue;
    }
    ws_target routed = target;
    apply_connect_rules({rule}, routed);
    if (routed.host != target.host || routed.host_header != target.host_header) __builtin_trap();  // kept
  }
  std::string next, why;
  if (resolve_redirect(target, location, 0, 10, next, &why)) {
    ws_target followed;
    if (!parse_ws_url(next, followed, &err) || !followed.unix_path.empty()) __builtin_trap();
    if (target.tls && !followed.tls) __builtin_trap();
    if (!(next.starts_with("ws://") || next.starts_with("wss://"))) __builtin_trap();
    std::string again;
    if (!resolve_redirect(target, next, 1, 10, again, &why) || again != next) __builtin_trap();
    config cfg;
    cfg.target = target;
    apply_redirect(cfg, next, &err);
  }
  return 0;
}
