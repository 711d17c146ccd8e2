#pragma once
// What each child process is handed: the command line, parsed by the supervisor,
// narrowed to what that process needs (OpenSSH's privilege separation hands its child
// no more than that either). Each struct is built once (bridge/config.cpp) and never
// changed by the child; runtime state travels as what it is (a redirect's new target
// is a new netproc with new settings, the previous netproc's unsent frames an argument).

#include "bridge/protocol/ip_ranges.hpp"
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace wsbridge {

/// A ws:// URL taken apart for the client (Boost.URL does the parsing).
struct ws_target {
  bool tls = false;          ///< wss://
  std::string host;          ///< for the resolver: a name or a bare IP literal ("::1")
  std::string port;          ///< always set: explicit, or 80 / 443
  std::string host_header;   ///< Host: header value ("[::1]:8080", "example.com")
  std::string resource;      ///< path and query, at least "/"
  std::string userinfo;      ///< "user:password" from the URL, percent-decoded (Basic auth)
  std::string unix_path;     ///< connect to this Unix domain socket instead (ws+unix://, --unix)
  std::string display;       ///< the URL without its password, for messages
  /// --connect-to/--resolve: connect here instead of host:port (the Host header, SNI
  /// and the certificate check keep `host`); empty: host and port themselves.
  std::string connect_host;
  std::string connect_port;
};

/// A proxy to reach the server through (--proxy, or the proxy environment variables).
struct proxy_target {
  enum class kind { none, http, socks5, socks5h } type = kind::none;
  std::string host;
  std::string port;
  std::string userinfo;  ///< "user:password", percent-decoded
  std::string display;   ///< the proxy URL without its password
};

/// How stdin/stdout (or a --exec program's pipes) are cut into messages.
enum class framing {
  lines,            ///< --lines (default): one line, one message
  null,             ///< -0/--null: NUL-separated, both directions
  length_prefixed,  ///< --length-prefixed: u32 big-endian length, then the payload
  raw,              ///< --raw: each read is a message; received payloads back to back
};

/// What an input message becomes.
enum class payload_encoding {
  text,    ///< a text message; must be valid UTF-8 (RFC 6455 §8.1)
  binary,  ///< --binary: a binary message, bytes as they are
  base64,  ///< --base64: input decoded from base64 into a binary message; received
           ///< binary messages are written as base64
};

/// Message types in a pipe: which of text and binary each message is, kept in
/// both directions.
struct message_typing {
  /// --typed, with --length-prefixed: the top bit of the 4-byte length is set for a
  /// binary message and clear for a text one (messages are at most 64 MiB, so the bit
  /// is free; a stream of text messages is the same as without --typed).
  bool length_bit = false;
  /// --text-prefix, --binary-prefix, with lines or -0: a record that starts with one
  /// has that type; a binary one's payload is base64 after its prefix (a raw payload
  /// could hold the separator). A record with neither is of the default type.
  std::string text_prefix, binary_prefix;
  bool any() const { return length_bit || !text_prefix.empty() || !binary_prefix.empty(); }
};

/// Which end of a connection this process is, and in server mode which connection.
struct role {
  bool server = false;  ///< --listen: we accepted the connection
  std::string peer;     ///< server mode: the client's address ("127.0.0.1:40312")
  /// "server" or "client": the other end, in messages.
  const char* peer_name() const { return server ? "client" : "server"; }
  /// Server mode: "127.0.0.1:40312: ", the start of every line about this connection.
  std::string who() const { return server ? peer + ": " : ""; }
};

/// ioproc's settings: stdin/stdout, the terminal, the --exec program.
struct io_settings {
  role side;
  bool server() const { return side.server; }
  const char* peer_name() const { return side.peer_name(); }
  std::string who() const { return side.who(); }

  bool terminal = false;     ///< the interactive client (stdin and stdout terminals, ...)
  /// The other end for messages: the URL without its password (also the --exec
  /// program's WSBRIDGE_URL), or in server mode "client 127.0.0.1:40312".
  std::string display;
  framing framing_mode = framing::lines;
  payload_encoding encoding = payload_encoding::text;
  message_typing typing;
  bool escape_newlines = false;
  std::uint64_t max_messages = 0;
  std::vector<std::string> execute;  ///< -x: sent instead of reading stdin
  std::vector<std::string> exec;     ///< --exec CMD ARGS...
  bool reconnect = false;
  bool quiet = false;
  bool verbose = false;
  bool color = true;
  bool history = true;
  bool timestamps = false;
  bool log = false;                  ///< --log: the transcript file is at child_fd::log
  bool sandbox = true;
  /// Server mode, --user NAME[:GROUP] as root: the program runs as this user and group
  /// (and no supplementary group); -1: as wsbridge runs.
  long program_uid = -1, program_gid = -1;
};

/// netproc's settings: the connection, its handshake and its closing.
struct net_settings {
  role side;
  bool server() const { return side.server; }
  const char* peer_name() const { return side.peer_name(); }

  // Where and how to connect (client).
  ws_target target;
  proxy_target proxy;
  std::chrono::milliseconds connect_timeout{};
  unsigned max_redirects = 0;  ///< a redirect is reported to the supervisor only if > 0
  bool reconnect = false;      ///< the end goes to the supervisor, which may start another netproc
  // TLS (client).
  std::string cacert, cert, key;
  bool insecure = false;
  // The handshake.
  std::string user;  ///< --user USER:PASSWORD (overrides the URL's)
  std::vector<std::pair<std::string, std::string>> headers;
  std::vector<std::string> subprotocols;
  std::string origin;
  bool compress = true;
  // Server side.
  std::string listen_port;           ///< SERVER_PORT when the Host header has none
  bool unix_socket = false;          ///< --listen unix:PATH
  std::vector<std::string> origins;  ///< --origin-allow (empty: any)
  bool same_origin_only = false;
  std::vector<ip_range> trusted_proxies;  ///< --trusted-proxy: whose forwarding headers are believed
  bool proxy_protocol = false;       ///< --proxy-protocol: a PROXY header comes first
  bool static_files = false;         ///< --static-dir: other requests ask the supervisor for a file
  bool dev_console = false;          ///< --dev-console: the page at /
  std::string tls_cert, tls_key;     ///< --tls-cert: serve wss://
  bool program = false;              ///< --exec: the program's environment goes in `opened`
  /// Server mode with --exec: netproc frames the program's pipes itself (no ioproc), as
  /// ioproc would with these settings; the supervisor starts the program when told.
  bool frames_program = false;
  io_settings program_io;
  /// Forked ahead of time (the listener's pool): waits for its connection, which comes
  /// with the client's address (ipc.hpp, `connection`), before anything else.
  bool pooled = false;
  // The connection.
  std::size_t max_message = 0;
  std::chrono::milliseconds close_timeout{}, linger{}, ping_interval{0}, ping_timeout{0}, timeout{0};
  std::uint64_t max_messages = 0;
  bool no_close = false;
  std::uint16_t close_code = 1000;
  std::string close_reason;
  bool verbose = false;
  bool access_log = false;           ///< --access-log (or -v): one line per connection
  bool show_ping_pong = false;
  bool sandbox = true;
};

}  // namespace wsbridge
