// URLs: the target (parse_ws_url), proxies (--proxy and the environment) and the
// redirect policy (resolve_redirect, apply_redirect), all with Boost.URL.
#include "bridge/cli/config.hpp"

#include <boost/url/ipv4_address.hpp>
#include <boost/url/ipv6_address.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>
#include <boost/url/url_view.hpp>
#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "bridge/protocol/limits.hpp"
#include "bridge/common/safe_text.hpp"

namespace wsbridge {
namespace {

std::string lowercase(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

/// Position of the first byte that no URL may contain as it is (RFC 3986 §2: controls,
/// space, DEL, and anything not ASCII, which must be percent-encoded), or npos.
std::size_t first_control_or_space(std::string_view s) {
  for (std::size_t i = 0; i < s.size(); ++i)
    if (const auto c = static_cast<unsigned char>(s[i]); c <= 0x20 || c >= 0x7f) return i;
  return std::string_view::npos;
}

bool has_control_or_space(std::string_view s) { return first_control_or_space(s) != std::string_view::npos; }

/// True when `s` starts with a scheme (RFC 3986 §3.1) not followed by "//": no URL
/// wsbridge follows has that shape ("mailto:x", "wq:#"), and Boost.URL 1.81 asserts on
/// some of them (an empty path before '#' or '?') in debug builds.
bool scheme_without_authority(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size() && (std::isalnum(static_cast<unsigned char>(s[i])) || s[i] == '+' || s[i] == '-' || s[i] == '.'))
    ++i;
  if (i == 0 || i == s.size() || s[i] != ':' || !std::isalpha(static_cast<unsigned char>(s[0]))) return false;
  return s.substr(i + 1, 2) != "//";
}

/// 1-65535 (Boost.URL has already checked that it is digits).
bool valid_port(const std::string& port) {
  return !port.empty() && port.size() <= 5 && std::stoul(port) >= 1 && std::stoul(port) <= 65535;
}

/// "user:password" from a URL (percent-decoded, for Basic auth), and the URL as it
/// may be shown: with its password replaced by ***.
void take_userinfo(const boost::urls::url_view& u, std::string& userinfo, std::string& display) {
  userinfo.clear();
  if (u.has_userinfo()) {
    userinfo = std::string(u.user());
    if (u.has_password()) (userinfo += ':') += u.password();  // not ":" + string: GCC 12's -Wrestrict misfires on it
  }
  boost::urls::url shown(u);
  if (shown.has_password()) shown.set_password("***");
  display = std::string(shown.buffer());
}

/// The host names that mean this machine: environment proxies are not used for them
/// (Go's net/http rule), so a proxy set for the outside world does not capture tests
/// and local servers. An explicit --proxy always applies.
bool is_loopback_host(const std::string& host) {
  const std::string h = lowercase(host);
  return h == "localhost" || h.ends_with(".localhost") || h.starts_with("127.") || h == "::1";
}

const char* getenv_either(const char* lower, const char* upper) {
  if (const char* v = std::getenv(lower); v && *v) return v;
  if (upper)
    if (const char* v = std::getenv(upper); v && *v) return v;
  return nullptr;
}

}  // namespace

bool choose_proxy(config& cfg, std::string* err) {
  const bool given = cfg.proxy_given;
  const std::string& url = cfg.proxy_url;
  cfg.proxy = proxy_target{};
  std::string chosen = url;
  std::string source = "--proxy";
  if (!cfg.target.unix_path.empty()) {
    if (given && !url.empty()) {
      *err = "--proxy: not with a Unix domain socket";
      return false;
    }
    return true;
  }
  if (!given) {
    if (is_loopback_host(cfg.target.host)) return true;
    // Only the lower-case http_proxy for plain connections (as curl, against httpoxy:
    // CGI puts a request's "Proxy:" header into HTTP_PROXY).
    const char* v = cfg.target.tls ? getenv_either("https_proxy", "HTTPS_PROXY") : getenv_either("http_proxy", nullptr);
    source = cfg.target.tls ? "https_proxy" : "http_proxy";
    if (!v) {
      v = getenv_either("all_proxy", "ALL_PROXY");
      source = "all_proxy";
    }
    if (!v) return true;
    if (const char* np = getenv_either("no_proxy", "NO_PROXY"); np && no_proxy_matches(np, cfg.target.host))
      return true;
    chosen = v;
  }
  if (chosen.empty()) return true;  // --proxy '': no proxy, whatever the environment says
  if (!parse_proxy_url(chosen, cfg.proxy, err)) {
    *err = source + ": " + *err;
    return false;
  }
  return true;
}

bool apply_redirect(config& cfg, const std::string& url, std::string* err) {
  const ws_target first = cfg.target;
  if (!parse_ws_url(url, cfg.target, err)) return false;
  apply_connect_rules(cfg.connect_rules, cfg.target);  // curl applies them to every request
  // Credentials were meant for the origin the user named (curl and browsers agree).
  if (same_origin(first, cfg.target)) {
    cfg.target.userinfo = first.userinfo;
  } else {
    cfg.user.clear();
    cfg.target.userinfo.clear();
    std::erase_if(cfg.headers, [](const auto& h) {
      const std::string name = lowercase(h.first);
      return name == "authorization" || name == "cookie" || name == "proxy-authorization";
    });
  }
  return choose_proxy(cfg, err);
}

bool resolve_redirect(const ws_target& current, std::string_view location, unsigned hops, unsigned max_hops,
                      std::string& url, std::string* why) {
  if (hops >= max_hops) {
    *why = "too many redirects (" + std::to_string(max_hops) + "; see --max-redirects)";
    return false;
  }
  if (location.size() > limits::max_redirect_url) {
    *why = "the URL is too long to follow";
    return false;
  }
  // Boost.URL asserts (in debug builds) on some inputs with control characters, and
  // none belongs in a URL (RFC 3986 §2): refuse them first.
  if (has_control_or_space(location) || scheme_without_authority(location)) {
    *why = "not a valid URL";
    return false;
  }
  const std::string base_text = (current.tls ? "wss://" : "ws://") + current.host_header + current.resource;
  auto base = boost::urls::parse_uri(base_text);  // a view: base_text must outlive it
  auto ref = boost::urls::parse_uri_reference(location);
  boost::urls::url next;
  if (!base || !ref || !boost::urls::resolve(*base, *ref, next)) {
    *why = "not a valid URL";
    return false;
  }
  // Servers write http(s):// for the WebSocket endpoint they mean; nothing else is
  // followed: ws+unix:// would point us at a local socket (a Docker or database
  // socket) chosen by the server.
  const std::string scheme = lowercase(std::string(next.scheme()));
  if (scheme == "http" || scheme == "ws") next.set_scheme("ws");
  else if (scheme == "https" || scheme == "wss") next.set_scheme("wss");
  else {
    *why = "refusing to follow a redirect to a " + scheme + ":// URL (only ws, wss, http and https)";
    return false;
  }
  next.remove_fragment();
  ws_target target;
  std::string err;
  if (!parse_ws_url(std::string(next.buffer()), target, &err)) {
    *why = "cannot follow it: " + err;
    return false;
  }
  if (current.tls && !target.tls) {
    *why = "refusing to follow a redirect from wss:// to ws://";
    return false;
  }
  url = std::string(next.buffer());
  if (url.size() > limits::max_redirect_url) {
    *why = "the URL is too long to follow";
    return false;
  }
  return true;
}

bool parse_ws_url(const std::string& url, ws_target& out, std::string* err) {
  // Checked before Boost.URL sees it: 1.81 asserts on some such inputs in debug builds
  // ("nn-:\n", "B:\xf2"), and no URL contains them (RFC 3986 §2; a space must be %20).
  if (const std::size_t bad = first_control_or_space(url); bad != std::string::npos) {
    const auto c = static_cast<unsigned char>(url[bad]);
    *err = "invalid URL '" + safe_text(url) + "': " +
           (c == ' '    ? std::string("it contains a space (write %20)")
            : c >= 0x80 ? "it contains a character that is not ASCII at byte " + std::to_string(bad + 1) +
                              " (percent-encode it; a host name needs its xn-- form)"
                        : "it contains a control character at byte " + std::to_string(bad + 1));
    return false;
  }
  // The common mistake is leaving out the scheme ("localhost:8080/chat", which would
  // parse as the scheme "localhost").
  if (url.find("://") == std::string::npos) {
    // "ws:/host", "wss:host", "ws//host": a scheme whose "://" is short of a character.
    std::string suggestion = "ws://" + url;
    for (const char* scheme : {"wss", "ws", "https", "http"}) {
      const std::string_view sv(scheme);
      if (url.size() <= sv.size() || lowercase(url.substr(0, sv.size())) != sv) continue;
      std::size_t rest = sv.size();
      while (rest < url.size() && rest < sv.size() + 2 && (url[rest] == ':' || url[rest] == '/')) ++rest;
      if (rest == sv.size()) continue;
      suggestion = std::string(sv) + "://" + url.substr(rest);
      break;
    }
    *err = "invalid URL '" + safe_text(url) + "': expected ws://HOST[:PORT][/PATH] (did you mean " +
           safe_text(suggestion) + "?)";
    return false;
  }
  if (scheme_without_authority(url)) {
    *err = "invalid URL '" + safe_text(url) + "': expected ws://HOST[:PORT][/PATH]";
    return false;
  }
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) {
    // Boost.URL names the grammar rule that failed ("mismatch", "leftover"); say what
    // is wrong in the user's terms where we can tell.
    const auto open = std::count(url.begin(), url.end(), '['), close = std::count(url.begin(), url.end(), ']');
    *err = "invalid URL '" + safe_text(url) + "': " +
           (open != close ? std::string("an IPv6 address needs both brackets, as in ws://[::1]:8080/")
                          : "not a valid URL; check the host and the port (" + parsed.error().message() + ")");
    return false;
  }
  const boost::urls::url_view u = *parsed;
  const std::string scheme = lowercase(std::string(u.scheme()));
  if (scheme == "ws+unix") {
    // ws+unix:///path/to.sock:/resource (the form of websocat and Docker's clients).
    const std::string path(u.path());
    const auto colon = path.find(':');
    out = ws_target{};
    out.unix_path = path.substr(0, colon);
    out.resource = colon == std::string::npos ? "/" : path.substr(colon + 1);
    if (out.unix_path.empty() || out.unix_path[0] != '/') {
      *err = "invalid URL '" + safe_text(url) + "': expected ws+unix:///PATH/TO/SOCKET[:/RESOURCE]";
      return false;
    }
    if (out.resource.empty() || out.resource[0] != '/') out.resource.insert(0, "/");
    if (u.has_query()) out.resource += "?" + std::string(u.encoded_query());
    out.host = out.host_header = "localhost";
    out.port = "0";
    out.display = url;
    return true;
  }
  if (scheme == "ws") out.tls = false;
  else if (scheme == "wss") out.tls = true;
  else {
    *err = "invalid URL '" + safe_text(url) + "': scheme must be ws or wss, not " + scheme;
    if (scheme == "http" || scheme == "https")
      *err += " (did you mean " + std::string(scheme == "http" ? "ws" : "wss") + "://...?)";
    return false;
  }
  if (!u.has_authority() || u.encoded_host().empty()) {
    *err = "invalid URL '" + safe_text(url) + "': no host";
    return false;
  }
  take_userinfo(u, out.userinfo, out.display);
  if (u.has_fragment()) {  // RFC 6455 §3: fragment identifiers MUST NOT be used
    *err = "invalid URL '" + safe_text(url) + "': a WebSocket URL cannot have a #fragment";
    return false;
  }
  if (u.host_type() == boost::urls::host_type::ipvfuture) {
    *err = "invalid URL '" + safe_text(url) + "': unsupported host";
    return false;
  }
  out.host = std::string(u.host_address());  // percent-decoded
  // "%00evil.example" decodes to a NUL, which ends the name for the resolver (it then
  // looks up "", the local host) while the Host header keeps the encoded form.
  if (const std::size_t bad = first_control_or_space(out.host); bad != std::string::npos) {
    *err = "invalid URL '" + safe_text(url) + "': the host contains a percent-encoded " +
           (static_cast<unsigned char>(out.host[bad]) >= 0x80 ? "character that is not ASCII (a host name needs its "
                                                                 "xn-- form)"
                                                               : "control character or space");
    return false;
  }
  if (u.has_port()) {
    const std::string port(u.port());
    if (!valid_port(port)) {
      *err = "invalid URL '" + safe_text(url) + "': port must be 1-65535";
      return false;
    }
    out.port = std::string(u.port());
    out.host_header = std::string(u.encoded_host_and_port());
  } else {
    out.port = out.tls ? "443" : "80";
    out.host_header = std::string(u.encoded_host());
  }
  out.resource = std::string(u.encoded_target());
  if (out.resource.empty() || out.resource[0] != '/') out.resource.insert(0, "/");
  return true;
}

bool parse_proxy_url(const std::string& url, proxy_target& out, std::string* err) {
  // Control characters first: Boost.URL must not see them (see parse_ws_url).
  const auto parsed = boost::urls::parse_uri(has_control_or_space(url) || scheme_without_authority(url)
                                                 ? std::string_view("-")
                                                 : std::string_view(url));
  if (!parsed || !parsed->has_authority() || parsed->encoded_host().empty()) {
    *err = "invalid proxy URL '" + safe_text(url) + "': expected http://HOST[:PORT], socks5://HOST[:PORT] or socks5h://HOST[:PORT]";
    return false;
  }
  const boost::urls::url_view u = *parsed;
  const std::string scheme = lowercase(std::string(u.scheme()));
  if (scheme == "http") out.type = proxy_target::kind::http;
  else if (scheme == "socks5") out.type = proxy_target::kind::socks5;
  else if (scheme == "socks5h") out.type = proxy_target::kind::socks5h;
  else {
    *err = "proxy URL '" + safe_text(url) + "': scheme " + scheme + " is not supported (http, socks5, socks5h)";
    return false;
  }
  out.host = std::string(u.host_address());
  out.port = u.has_port() ? std::string(u.port()) : "1080";
  if (!valid_port(out.port)) {
    *err = "proxy URL '" + safe_text(url) + "': port must be 1-65535";
    return false;
  }
  take_userinfo(u, out.userinfo, out.display);
  return true;
}

bool no_proxy_matches(std::string_view list, std::string_view host) {
  const std::string h = lowercase(std::string(host));
  std::size_t pos = 0;
  while (pos <= list.size()) {
    std::size_t end = list.find(',', pos);
    if (end == std::string_view::npos) end = list.size();
    std::string entry = lowercase(std::string(list.substr(pos, end - pos)));
    pos = end + 1;
    entry.erase(0, entry.find_first_not_of(" \t"));
    entry.erase(entry.find_last_not_of(" \t") + 1);
    if (entry == "*") return true;
    // "[::1]:80", "host:80": the port does not matter here.
    if (!entry.empty() && entry.front() == '[') entry = entry.substr(1, entry.find(']') - 1);
    else if (entry.find(':') == entry.rfind(':') && entry.find(':') != std::string::npos) entry.resize(entry.find(':'));
    if (!entry.empty() && entry.front() == '.') entry.erase(0, 1);
    if (entry.empty()) continue;
    if (h == entry || (h.size() > entry.size() && h.ends_with(entry) && h[h.size() - entry.size() - 1] == '.'))
      return true;
  }
  return false;
}

bool same_origin(const ws_target& a, const ws_target& b) {
  return a.tls == b.tls && lowercase(a.host) == lowercase(b.host) && a.port == b.port;
}

bool parse_listen(const std::string& text, std::string& host, std::string& port, std::string* err) {
  const auto fail = [&](const std::string& why) {
    *err = "--listen '" + safe_text(text) + "': " + why;
    return false;
  };
  std::string addr;
  if (text.starts_with("[")) {
    const std::size_t close = text.find(']');
    if (close == std::string::npos) return fail("an IPv6 address needs its closing ']' ([::1]:8080)");
    if (text.compare(close + 1, 1, ":") != 0) return fail("expected [ADDRESS]:PORT");
    addr = text.substr(1, close - 1);
    port = text.substr(close + 2);
    if (!boost::urls::parse_ipv6_address(addr)) return fail("'" + safe_text(addr) + "' is not an IPv6 address");
  } else if (const std::size_t colon = text.rfind(':'); colon != std::string::npos) {
    addr = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (addr.find(':') != std::string::npos) return fail("an IPv6 address goes in brackets ([::1]:8080)");
    if (addr.empty()) return fail("name the address: 127.0.0.1:PORT, or 0.0.0.0:PORT for every interface");
    if (lowercase(addr) == "localhost") addr = "127.0.0.1";
    if (!boost::urls::parse_ipv4_address(addr)) return fail("'" + safe_text(addr) + "' is not an IPv4 address");
  } else {
    addr = "127.0.0.1";  // as websocat: every interface only when asked for
    port = text;
  }
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
      std::stoul(port) > 65535)
    return fail("the port must be a number from 0 (any free port) to 65535");
  host = addr;
  return true;
}

/// Splits "a:b:[::1]:d" at the colons outside brackets.
static std::vector<std::string> split_colons(const std::string& text) {
  std::vector<std::string> parts(1);
  int depth = 0;
  for (const char c : text) {
    if (c == '[') ++depth;
    if (c == ']') --depth;
    if (c == ':' && depth == 0) parts.emplace_back();
    else parts.back() += c;
  }
  return parts;
}

static std::string unbracket(const std::string& host) {
  return host.size() >= 2 && host.front() == '[' && host.back() == ']' ? host.substr(1, host.size() - 2) : host;
}

bool parse_connect_rule(const std::string& text, bool resolve, connect_rule& out, std::string* err) {
  const char* const name = resolve ? "--resolve" : "--connect-to";
  const char* const form = resolve ? "HOST:PORT:ADDRESS, e.g. example.com:443:127.0.0.1"
                                   : "HOST1:PORT1:HOST2:PORT2, e.g. example.com:443:127.0.0.1:8443";
  const std::vector<std::string> parts = split_colons(text);
  const auto port_ok = [](const std::string& p) {
    return p.empty() || (p.size() <= 5 && p.find_first_not_of("0123456789") == std::string::npos && std::stoul(p) > 0 &&
                         std::stoul(p) <= 65535);
  };
  bool ok = parts.size() == (resolve ? 3u : 4u) && !has_control_or_space(text) && port_ok(parts[1]);
  if (ok) {
    out = {lowercase(unbracket(parts[0])), parts[1], unbracket(parts[2]), resolve ? "" : parts[3]};
    ok = port_ok(out.to_port) && (!resolve || (!out.host.empty() && !out.port.empty() && !out.to_host.empty()));
  }
  if (!ok) *err = std::string(name) + " '" + safe_text(text) + "': expected " + form;
  return ok;
}

void apply_connect_rules(const std::vector<connect_rule>& rules, ws_target& target) {
  target.connect_host.clear();
  target.connect_port.clear();
  for (const connect_rule& r : rules)
    if ((r.host.empty() || r.host == lowercase(target.host)) && (r.port.empty() || r.port == target.port)) {
      target.connect_host = r.to_host.empty() ? target.host : r.to_host;
      target.connect_port = r.to_port.empty() ? target.port : r.to_port;
      return;
    }
}

}  // namespace wsbridge
