#include "netproc/handshake.hpp"

#include "bridge/common/base64.hpp"
#include "bridge/common/safe_text.hpp"
#include "bridge/common/version.hpp"

#include <algorithm>
#include <array>
#include <boost/beast/http/rfc7230.hpp>
#include <cctype>

namespace wsbridge::netproc {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

bool icontains(std::string_view haystack, std::string_view needle) {
  for (std::size_t i = 0; i + needle.size() <= haystack.size(); ++i)
    if (iequals(haystack.substr(i, needle.size()), needle)) return true;
  return false;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> upgrade_headers(const net_settings& cfg) {
  std::vector<std::pair<std::string, std::string>> headers;
  headers.emplace_back("User-Agent", std::string("wsbridge/") + version_string);
  if (!cfg.origin.empty()) headers.emplace_back("Origin", cfg.origin);
  if (const std::string& cred = cfg.user.empty() ? cfg.target.userinfo : cfg.user; !cred.empty()) {
    std::string value = "Basic ";
    append_base64(value, cred);
    headers.emplace_back("Authorization", std::move(value));
  }
  if (!cfg.subprotocols.empty()) {
    std::string offer;
    for (const auto& p : cfg.subprotocols) offer += (offer.empty() ? "" : ", ") + p;
    headers.emplace_back("Sec-WebSocket-Protocol", std::move(offer));
  }
  for (const auto& h : cfg.headers) headers.push_back(h);  // -H last: it may override
  return headers;
}

bool subprotocol_offered(std::string_view chosen, const std::vector<std::string>& offered) {
  if (chosen.empty()) return true;
  for (const auto& p : offered)
    if (p == chosen) return true;
  return false;
}

std::string unoffered_extension(std::string_view header, bool offered_deflate) {
  // Beast's ext_list parses `token *( ";" param )` elements, comma-separated
  // (RFC 6455 §9.1, RFC 9110 §5.6.1); it stops at the first malformed element.
  std::size_t seen = 0;
  for (const auto& ext : boost::beast::http::ext_list(boost::beast::string_view(header.data(), header.size()))) {
    ++seen;
    const std::string_view name(ext.first.data(), ext.first.size());
    if (!offered_deflate || !iequals(name, "permessage-deflate")) return std::string(name);
  }
  // Something that is not an extension list at all was "accepted": not offered either.
  bool blank = true;
  for (char c : header) blank = blank && (c == ' ' || c == '\t' || c == ',');
  if (seen == 0 && !blank) return std::string(header.substr(0, 64));
  return {};
}

std::string bad_deflate_parameter(std::string_view header) {
  for (const auto& ext : boost::beast::http::ext_list(boost::beast::string_view(header.data(), header.size()))) {
    if (!iequals(std::string_view(ext.first.data(), ext.first.size()), "permessage-deflate")) continue;
    for (const auto& [name_sv, value_sv] : ext.second) {
      const std::string_view name(name_sv.data(), name_sv.size()), value(value_sv.data(), value_sv.size());
      if (!iequals(name, "server_max_window_bits") && !iequals(name, "client_max_window_bits")) continue;
      // RFC 7692 §7.1.2.1-2: a decimal 8 to 15, without leading zeros; in an answer
      // client_max_window_bits has a value too.
      const bool ok = (value.size() == 1 && value[0] >= '8' && value[0] <= '9') ||
                      (value.size() == 2 && value[0] == '1' && value[1] >= '0' && value[1] <= '5');
      if (!ok) return std::string(name) + (value.empty() ? "" : "=" + std::string(value.substr(0, 16)));
    }
  }
  return {};
}

std::string shown_header_value(std::string_view name, std::string_view value) {
  if (iequals(name, "authorization") || iequals(name, "proxy-authorization")) {
    const std::size_t space = value.find(' ');
    return space == std::string_view::npos ? "***" : std::string(value.substr(0, space)) + " ***";
  }
  // The WebSocket key and accept are nonces, not secrets.
  if (iequals(name, "sec-websocket-key") || iequals(name, "sec-websocket-accept")) return std::string(value);
  static constexpr std::array<std::string_view, 8> secret = {"cookie", "token",   "secret",  "password",
                                                             "passwd", "session", "api-key", "apikey"};
  for (std::string_view word : secret)
    if (icontains(name, word)) return "***";
  return std::string(value);
}

std::string shown_target(std::string_view target) {
  const std::size_t q = target.find('?');
  if (q == std::string_view::npos) return std::string(target);
  static constexpr std::array<std::string_view, 6> secret = {"token", "key", "secret", "password", "auth", "sig"};
  std::string out(target.substr(0, q + 1));
  std::string_view query = target.substr(q + 1);
  for (bool first = true; ; first = false) {
    const std::size_t amp = query.find('&');
    const std::string_view param = query.substr(0, amp);
    if (!first) out += '&';
    const std::size_t eq = param.find('=');
    const std::string_view name = param.substr(0, eq);
    const bool hide = eq != std::string_view::npos &&
                      std::any_of(secret.begin(), secret.end(), [&](std::string_view w) { return icontains(name, w); });
    out += hide ? std::string(name) + "=***" : std::string(param);
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return out;
}

const char* to_string(io_phase p) {
  switch (p) {
    case io_phase::open: return "open";
    case io_phase::closing: return "closing";
    case io_phase::input_ended: return "input ended";
  }
  return "?";
}

std::string refusal_hint(unsigned status, std::string_view www_authenticate, std::string_view retry_after,
                         std::string_view ws_version) {
  const auto cut = [](std::string_view v) { return std::string(v.substr(0, 120)) + (v.size() > 120 ? "..." : ""); };
  std::string hint;
  if (status == 401 || status == 403) {
    if (!www_authenticate.empty()) hint += "; it asks for credentials (WWW-Authenticate: " + cut(www_authenticate) + ")";
    if (status == 401 || !www_authenticate.empty())
      hint += "; try -u USER:PASSWORD, or -H 'Authorization: ...' for a token";
  } else if (status == 426 && !ws_version.empty()) {
    hint += "; it speaks WebSocket version " + cut(ws_version) + ", wsbridge 13 (RFC 6455)";
  } else if (status == 200) {
    hint += "; not a WebSocket endpoint? (it answered as a web page does)";
  } else if (status == 404) {
    hint += "; no such path: check the URL's path";
  }
  if (!retry_after.empty()) {
    const bool seconds = retry_after.find_first_not_of("0123456789") == std::string_view::npos;
    hint += "; it says to retry after " + cut(retry_after) + (seconds ? " s" : "");
  }
  return hint;
}

std::string refusal_body_text(std::string_view content_type, std::string_view body) {
  const bool html = icontains(content_type, "html");
  const bool text = content_type.empty() || html || icontains(content_type, "text/") ||
                    icontains(content_type, "json") || icontains(content_type, "xml");
  if (!text) return {};
  std::string_view said = body.substr(0, 64 * 1024);
  if (html) {
    // The title says it in a few words ("403 Forbidden"); the markup around it would not.
    std::size_t open = std::string_view::npos;
    for (std::size_t i = 0; i + 6 <= said.size(); ++i)
      if (iequals(said.substr(i, 6), "<title")) {
        open = said.find('>', i);
        break;
      }
    if (open == std::string_view::npos) return {};
    said = said.substr(open + 1);
    said = said.substr(0, said.find('<'));
  }
  std::string line;
  for (const char c : said) {
    const bool space = c == ' ' || c == '\t' || c == '\r' || c == '\n';
    if (space && (line.empty() || line.back() == ' ')) continue;
    line += space ? ' ' : c;
    if (line.size() > max_refusal_text) break;
  }
  while (!line.empty() && line.back() == ' ') line.pop_back();
  if (line.size() > max_refusal_text) {
    std::size_t end = max_refusal_text;
    while (end > 0 && is_utf8_continuation(static_cast<unsigned char>(line[end]))) --end;  // whole characters
    line = line.substr(0, end) + "...";
  }
  return line;
}

std::string choose_subprotocol(std::string_view offered, const std::vector<std::string>& ours) {
  for (const std::string& p : ours)
    for (const auto& item : boost::beast::http::token_list(offered))
      if (item == p) return p;  // subprotocol names are case-sensitive (RFC 6455 §4.1)
  return "";
}

bool same_origin_request(std::string_view origin, std::string_view host) {
  if (origin.empty()) return true;
  const std::size_t scheme_end = origin.find("://");
  if (scheme_end == std::string_view::npos) return false;  // "null", or not an origin
  std::string_view authority = origin.substr(scheme_end + 3);
  authority = authority.substr(0, authority.find('/'));
  return iequals(authority, host);
}

bool origin_allowed(std::string_view origin, const std::vector<std::string>& allowed) {
  if (allowed.empty() || origin.empty()) return true;
  const auto trim = [](std::string_view s) { return s.ends_with('/') ? s.substr(0, s.size() - 1) : s; };
  for (const std::string& a : allowed)
    if (iequals(trim(origin), trim(a))) return true;
  return false;
}

frame_rule io_frame_rule(io_phase p, ipc::frame_type type) {
  using ft = ipc::frame_type;
  switch (type) {
    case ft::text:
    case ft::binary:
    case ft::ping:
      return p == io_phase::open ? frame_rule::accept : p == io_phase::closing ? frame_rule::drop : frame_rule::fatal;
    case ft::input_end:
      return p == io_phase::input_ended ? frame_rule::fatal : frame_rule::accept;
    case ft::close_request:
      return frame_rule::accept;  // the user may ask to close in any phase (Ctrl+D, /close)
    default:
      return frame_rule::fatal;  // opened, closed, pong, notice: netproc's own frames
  }
}

}  // namespace wsbridge::netproc
