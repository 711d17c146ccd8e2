#pragma once
// Pure pieces of netproc's session, kept apart so that they can be unit-tested and
// fuzzed without a socket: checks of the server's upgrade answer, what -v may show of
// a header, and which IPC frames from ioproc each phase of the session accepts.

#include <string>
#include <string_view>

#include <utility>
#include <vector>

#include "bridge/protocol/settings.hpp"
#include "bridge/protocol/ipc.hpp"

namespace wsbridge::netproc {

/// The headers wsbridge adds to the upgrade request, in order (each replaces one of the
/// same name set before): User-Agent, Origin (--origin), Authorization: Basic from
/// --user or the URL's userinfo (RFC 7617), Sec-WebSocket-Protocol with the offered
/// subprotocols, then every -H, which may override any of them.
std::vector<std::pair<std::string, std::string>> upgrade_headers(const net_settings& cfg);

/// RFC 6455 §4.1: the subprotocol a server chose must be one we offered ("" = none).
bool subprotocol_offered(std::string_view chosen, const std::vector<std::string>& offered);

/// What to try next after a refused upgrade, from the status and the headers that say
/// it (RFC 9110 §11.6.1 WWW-Authenticate, §10.2.3 Retry-After; RFC 6455 §4.4 the
/// versions a 426 wants), as "; ..." to append to the refusal, or "". The values come
/// from the server: the caller makes the line terminal-safe.
std::string refusal_hint(unsigned status, std::string_view www_authenticate, std::string_view retry_after,
                         std::string_view ws_version);

/// What a refused upgrade's body says, in one short line (at most max_refusal_text
/// bytes, whitespace collapsed): an HTML page's <title>, else the start of a text body;
/// "" for an empty body or one that is not text (images, archives). From the server:
/// the caller makes it terminal-safe.
std::string refusal_body_text(std::string_view content_type, std::string_view body);
inline constexpr std::size_t max_refusal_text = 200;

/// Server side (RFC 6455 §4.2.2): the first of `ours` (in our order of preference)
/// that the client's Sec-WebSocket-Protocol offers, or "" (then none is chosen, and the
/// client decides whether to go on).
std::string choose_subprotocol(std::string_view offered, const std::vector<std::string>& ours);

/// Server side: the request's Origin may open a connection: `allowed` is empty, the
/// request has no Origin (not a browser: cross-site hijacking needs one, RFC 6455
/// §10.2), or it equals one of them (case-insensitive, a trailing '/' ignored).
bool origin_allowed(std::string_view origin, const std::vector<std::string>& allowed);

/// --same-origin (websocketd's --sameorigin): the Origin's host[:port] is the request's
/// Host (case-insensitive); a request without Origin is not a browser's and passes.
bool same_origin_request(std::string_view origin, std::string_view host);

/// The first extension in a Sec-WebSocket-Extensions answer that was not offered
/// (RFC 6455 §9.1: the client must then fail the connection), or "" if all were. We
/// offer permessage-deflate only, and only when `offered_deflate`. A header that is
/// not a valid extension list is reported as itself.
std::string unoffered_extension(std::string_view header, bool offered_deflate);

/// A header value as -v shows it: credentials (Authorization and Proxy-Authorization
/// keep their scheme, Cookie, Set-Cookie, and headers whose name says token, secret,
/// password, session or api key) become "***".
std::string shown_header_value(std::string_view name, std::string_view value);

/// The first permessage-deflate parameter of a server's answer whose window size is not
/// 8 to 15 (RFC 7692 §7.1.2), as "server_max_window_bits=7"; empty if all are fine.
/// Beast 1.81 takes any number there.
std::string bad_deflate_parameter(std::string_view header);

/// A request target as -v shows it: the value of each query parameter whose name says
/// token, key, secret, password, auth or sig is "***" ("/c?token=***&room=5"),
/// as credentials in headers are.
std::string shown_target(std::string_view target);

/// Where the session stands for frames coming from ioproc.
enum class io_phase {
  open,         ///< before and while the connection is open; input flowing
  closing,      ///< a close was requested, sent or received: input still in the pipe is dropped
  input_ended,  ///< ioproc said its input ended: it sends nothing more but close requests
};
const char* to_string(io_phase p);

enum class frame_rule { accept, drop, fatal };

/// The dispatch table (OpenSSH's monitor has one per state): what a frame of `type`
/// from ioproc means in phase `p`. Data, pings and input_end after input_end, and
/// frames only netproc sends, are fatal: ioproc is broken or compromised. Data and
/// pings already on their way when a close began are dropped (and so counted as not
/// sent).
frame_rule io_frame_rule(io_phase p, ipc::frame_type type);

}  // namespace wsbridge::netproc
