#pragma once
// The command line, parsed once, and what the supervisor makes of it. Its children
// never see it: each gets its own narrow settings (protocol/settings.hpp), built here.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "bridge/protocol/settings.hpp"

namespace wsbridge {

/// One --connect-to HOST1:PORT1:HOST2:PORT2 or --resolve HOST:PORT:ADDR (curl's).
/// An empty host or port matches any.
struct connect_rule {
  std::string host, port;        ///< the URL's host and port this rule applies to
  std::string to_host, to_port;  ///< where to connect instead (empty port: the same)
};

/// Parses --connect-to's HOST1:PORT1:HOST2:PORT2 (`resolve`: --resolve's HOST:PORT:ADDR);
/// hosts may be [IPv6] literals.
bool parse_connect_rule(const std::string& text, bool resolve, connect_rule& out, std::string* err);

/// Sets target.connect_host/port from the first rule that matches it (curl: the first).
void apply_connect_rules(const std::vector<connect_rule>& rules, ws_target& target);

/// The origin (scheme, host, port) of two targets differs: credentials stay behind.
bool same_origin(const ws_target& a, const ws_target& b);

/// Parses `url`. Returns false and fills *err with a one-line explanation (with a
/// suggestion where one helps, e.g. a missing scheme).
bool parse_ws_url(const std::string& url, ws_target& out, std::string* err);

/// Parses a proxy URL: http://, socks5:// (we resolve the server's name) or socks5h://
/// (the proxy does); the port defaults to 1080, as in curl.
bool parse_proxy_url(const std::string& url, proxy_target& out, std::string* err);

/// True when `host` matches a no_proxy list ("*", names matching as domain suffixes,
/// ".example.com", IP literals; ports are ignored).
bool no_proxy_matches(std::string_view no_proxy, std::string_view host);

struct config {
  std::string url;
  ws_target target;
  std::chrono::milliseconds connect_timeout{};
  std::chrono::milliseconds close_timeout{};
  std::chrono::milliseconds linger{};  ///< quiet time after end of input before Close
  std::chrono::milliseconds ping_interval{0};  ///< keepalive; 0: off
  std::chrono::milliseconds ping_timeout{0};   ///< keepalive: how long a ping may go unanswered
  std::size_t max_message = 0;
  bool verbose = false;
  bool color = true;    ///< --no-color turns it off (NO_COLOR is checked where colour is used)
  bool history = true;  ///< --no-history: neither read nor write the history file
  std::string cacert;     ///< --cacert FILE: trust these CAs instead of the system's
  std::string cert;       ///< --cert FILE: client certificate (PEM; may hold the key too)
  std::string key;        ///< --key FILE: its private key (default: in the --cert file)
  std::string user;       ///< --user USER:PASSWORD for Basic auth (overrides the URL's)
  bool insecure = false;  ///< -k/--insecure: do not verify the server's certificate
  std::vector<std::pair<std::string, std::string>> headers;  ///< -H 'Name: value'
  std::vector<std::string> subprotocols;  ///< --subprotocol, in order of preference
  std::string origin;                     ///< --origin
  unsigned max_redirects = 0;             ///< --max-redirects
  proxy_target proxy;                     ///< --proxy, or from the environment
  bool proxy_given = false;               ///< --proxy was on the command line ...
  std::string proxy_url;                  ///< ... with this value ('' = no proxy)
  std::vector<connect_rule> connect_rules;  ///< --connect-to, --resolve: in order
  // --reconnect: a lost connection is made again, each attempt a new netproc.
  bool reconnect = false;
  unsigned reconnect_attempts = 0;  ///< --reconnect=N: give up after N failed attempts in a row; 0: never
  std::chrono::milliseconds reconnect_min{1000};   ///< --reconnect-delay MIN[,MAX]: the backoff's ...
  std::chrono::milliseconds reconnect_max{30000};  ///< ... first and longest wait
  bool reconnect_on_close = false;  ///< --reconnect-on-close: after a server's 1000/1001 too
  bool compress = true;   ///< offer permessage-deflate; --no-compress turns it off
  bool sandbox = true;  ///< --no-sandbox turns the children's sandboxes off (debugging)
  framing framing_mode = framing::lines;
  payload_encoding encoding = payload_encoding::text;
  message_typing typing;  ///< --typed, --text-prefix, --binary-prefix
  bool escape_newlines = false;   ///< --escape-newlines: \\, \n, \r in received messages (line mode)
  std::uint64_t max_messages = 0; ///< --max-messages/-1: close after this many received; 0: no limit.
                                  ///< End of input does not close before they arrived.
  bool no_close = false;          ///< -n/--no-close: end of input does not close the connection
  std::chrono::milliseconds timeout{0};  ///< --timeout: close this long after opening; 0: never
  std::uint16_t close_code = 1000;  ///< --close-code: the code of our Close at the end of input
  std::string close_reason;         ///< --close-reason: its reason (at most 123 bytes, UTF-8)
  bool quiet = false;               ///< -q: no line on stderr for a normal close by the server
  bool show_ping_pong = false;      ///< -P: say each ping and pong received, and keepalive pings sent
  std::vector<std::string> execute; ///< -x/--execute (wscat): send these instead of reading stdin
  bool timestamps = false;          ///< --timestamps: the time before each line of the terminal session
  std::string log_path;             ///< --log FILE: a transcript of the terminal session
  std::vector<std::string> exec;  ///< --exec CMD ARGS...: the program on the other end

  // Server mode (-l/--listen): wsbridge accepts connections instead of making one.
  std::string listen_host;          ///< the address to listen on (an IP literal); empty: client mode
  std::string listen_port;          ///< its port ("0": any free one)
  std::string listen_unix;          ///< --listen unix:PATH: a Unix domain socket instead
  bool listen_systemd = false;      ///< --listen systemd: the socket systemd passes (sd_listen_fds(3))
  unsigned max_connections = 0;     ///< --max-connections: more are refused with 503
  std::vector<std::string> origins; ///< --origin-allow: Origins accepted (empty: any)
  bool same_origin_only = false;    ///< --same-origin: the Origin's host must be the Host header's
  std::vector<ip_range> trusted_proxies;  ///< --trusted-proxy
  bool proxy_protocol = false;            ///< --proxy-protocol
  long program_uid = -1, program_gid = -1;  ///< --user NAME[:GROUP] with --listen, as root
  bool access_log = false;                ///< --access-log
  std::string static_dir;           ///< --static-dir: files for requests that are not upgrades
  bool dev_console = false;         ///< --dev-console: a page at / for trying the server
  std::string tls_cert;             ///< --tls-cert: serve wss:// with this certificate chain (PEM)
  std::string tls_key;              ///< --tls-key: its private key (default: in the --tls-cert file)
  bool server() const { return !listen_port.empty() || !listen_unix.empty() || listen_systemd; }
  /// Options given that do nothing in this mode, one line each (said, not refused).
  std::vector<std::string> warnings;
};

/// netproc's settings for the connection `cfg` describes (cfg.target, after redirects),
/// in server mode the one with `peer`.
net_settings net_settings_of(const config& cfg, const std::string& peer = {});

/// ioproc's settings; in server mode for the connection with `peer`.
io_settings io_settings_of(const config& cfg, const std::string& peer = {});

/// The interactive client: stdin and stdout a terminal, nothing else asked to take them
/// (--exec, -x), line framing of text. Otherwise pipe mode (ioproc).
bool terminal_session_wanted(const config& cfg);

/// Parses --listen's [ADDR:]PORT ("8080", "127.0.0.1:8080", "[::1]:8080"); the address
/// defaults to 127.0.0.1 (listening on every interface must be asked for: 0.0.0.0).
bool parse_listen(const std::string& text, std::string& host, std::string& port, std::string* err);

/// Picks the proxy for cfg.target: --proxy if given (empty: none), else the environment.
bool choose_proxy(config& cfg, std::string* err);

/// The redirect policy, in one place: resolves `location` (from a 3xx answer, maybe
/// relative, RFC 9110 §10.2.2) against `current`, reached after `hops` redirects, and
/// fills `url` with the absolute ws:// or wss:// URL to follow. Returns false and
/// fills *why (one line) when it must not be followed: more than `max_hops`, not a
/// valid URL, a scheme other than ws, wss, http or https (ws+unix:// would let a
/// server reach a local socket), wss:// to ws://, or too long. Only the supervisor
/// applies it, to the status and Location netproc reports (OpenSSH's monitor decides;
/// its unprivileged child only asks). Defined in url.cpp.
bool resolve_redirect(const ws_target& current, std::string_view location, unsigned hops, unsigned max_hops,
                      std::string& url, std::string* why);

/// Points cfg at `url` once resolve_redirect() has
/// accepted it: a new target, its proxy chosen again, and credentials (Basic auth,
/// Authorization, Cookie and Proxy-Authorization headers) kept only if the origin is
/// the same (curl and browsers agree).
bool apply_redirect(config& cfg, const std::string& url, std::string* err);

enum class parse_outcome {
  run,      ///< cfg is complete
  help,     ///< *text holds the help (or the man page, or a completion script)
  version,  ///< *text holds the version line
  error,    ///< *text holds a one-line error
};

/// Parses argv with Boost.Program_options.
parse_outcome parse_command_line(int argc, const char* const* argv, config& cfg,
                                 std::string* text);

}  // namespace wsbridge
