// The option table (options.hpp): one function per group, each filling its group.
#include "bridge/cli/options.hpp"

#include <boost/program_options.hpp>

#include "bridge/cli/option_values.hpp"
#include "bridge/protocol/limits.hpp"

namespace po = boost::program_options;

namespace wsbridge {
namespace {

void add_general(po::options_description& g, option_values&, config&) {
  g.add_options()
      ("help,h", "-h: the options most used, on one screen; --help: all of them, grouped; then exit")
      ("version,V", "show the version and exit")
      ("verbose,v", "describe the connection on stderr: each step, headers (credentials masked), the close")
      ("quiet,q", "pipe mode: say nothing on stderr when the server closes normally")
      ("no-sandbox", "do not sandbox the network and I/O processes (for debugging)");
}

void add_connection(po::options_description& g, option_values& v, config& cfg) {
  g.add_options()
      ("proxy", po::value(&cfg.proxy_url)->value_name("URL"),
       "connect through this proxy: http://HOST:PORT (CONNECT), socks5:// or socks5h://; default: https_proxy, "
       "http_proxy or all_proxy, except no_proxy hosts and loopback; '' for none")
      ("unix", po::value(&v.unix_path)->value_name("PATH"),
       "connect to this Unix domain socket; the URL gives the Host header and path (or in one URL: "
       "ws+unix:///PATH:/RESOURCE)")
      ("connect-to", po::value(&v.connect_to)->value_name("HOST1:PORT1:HOST2:PORT2")->composing(),
       "connect to HOST2:PORT2 when the URL names HOST1:PORT1 (either may be empty: any); the Host header, "
       "TLS name and certificate check keep the URL's (repeatable)")
      ("resolve", po::value(&v.resolve)->value_name("HOST:PORT:ADDRESS")->composing(),
       "use ADDRESS for HOST:PORT instead of asking DNS (repeatable)")
      ("connect-timeout", po::value(&v.connect_timeout)->value_name("SECONDS"),
       ("give up unless the connection is open after this long: TCP, proxy, TLS and the upgrade answer "
        "together (default " + seconds(limits::default_connect_timeout) + "; with --listen, the time a client has "
        "for TLS and its whole request, default " + seconds(limits::request_timeout) + ")").c_str())
      ("max-redirects", po::value(&cfg.max_redirects)->value_name("N"),
       ("follow at most N redirects (default " + std::to_string(limits::default_max_redirects) +
        "; 0: none); wss:// to ws:// is never followed").c_str())
      ("reconnect", po::value(&cfg.reconnect_attempts)->implicit_value(0, "")->value_name("[=N]"),
       "make a lost connection again, with a growing wait; give up after N failed attempts in a row "
       "(default: never). Also after a server's Close 1001 (going away), 1012 (restart) or 1013 (try "
       "later); not after its Close 1000, nor a 4xx refusal (429 waits its Retry-After)")
      ("reconnect-delay", po::value(&v.reconnect_delay)->value_name("MIN[,MAX]"),
       "the first wait before reconnecting, doubled each failed attempt up to MAX, with jitter (default 1,30)")
      ("reconnect-on-close", "reconnect after the server's Close 1000 too")
      ("ping-interval", po::value(&v.ping_interval)->value_name("SECONDS"),
       "keepalive: ping after this long without traffic from the server (default 0: off)")
      ("ping-timeout", po::value(&v.ping_timeout)->value_name("SECONDS"),
       "keepalive: a server silent this long after a ping is declared dead (default: the interval)");
}

void add_tls(po::options_description& g, option_values&, config& cfg) {
  g.add_options()
      ("cacert", po::value(&cfg.cacert)->value_name("FILE"), "trust the CA certificates in FILE (PEM)")
      ("insecure,k", "do not verify the server's certificate (unsafe)")
      ("cert", po::value(&cfg.cert)->value_name("FILE"), "present this client certificate (PEM)")
      ("key", po::value(&cfg.key)->value_name("FILE"), "the client certificate's private key (default: in --cert's file)");
}

void add_handshake(po::options_description& g, option_values& v, config& cfg) {
  g.add_options()
      ("header,H", po::value(&v.header_lines)->value_name("NAME:VALUE")->composing(),
       "add a header to the upgrade request (repeatable)")
      ("subprotocol,s", po::value(&cfg.subprotocols)->value_name("NAME")->composing(),
       "offer this subprotocol (repeatable, in order of preference); the server's choice is reported")
      ("user,u", po::value(&cfg.user)->value_name("USER:PASSWORD"),
       "Basic authentication (also from the URL: ws://user:password@host/); with --listen, started as "
       "root: NAME[:GROUP], the user (and group) each --exec program runs as")
      ("origin", po::value(&cfg.origin)->value_name("ORIGIN"), "send this Origin header")
      ("user-agent,A", po::value(&v.user_agent)->value_name("TEXT"), "send this User-Agent (default wsbridge/VERSION)")
      ("no-compress", "do not offer permessage-deflate compression");
}

void add_framing(po::options_description& g, option_values& v, config& cfg) {
  g.add_options()
      ("lines", "one line of input is one message, each message received one line (default)")
      ("null,0", "messages separated by NUL bytes, both directions")
      ("length-prefixed", "each message is a 4-byte big-endian length and the payload, both directions")
      ("raw", "each read from input is sent as it comes; received payloads are written back to back")
      ("binary", "send binary messages instead of text (input bytes are not checked)")
      ("base64", "input is base64, sent as binary messages; binary messages received are written as base64")
      ("typed", "length-prefixed: the top bit of each length marks a binary message, both directions, so "
       "text stays text and binary stays binary")
      ("text-prefix", po::value(&cfg.typing.text_prefix)->value_name("STR"),
       "lines, -0: a message starting with STR is text (STR removed); received text is written after STR")
      ("binary-prefix", po::value(&cfg.typing.binary_prefix)->value_name("STR"),
       "lines, -0: a message starting with STR is binary, base64 after STR; received binary is written so")
      ("escape-newlines", "lines: write \\\\, \\n and \\r for backslash, LF and CR in received messages, "
       "so each message is exactly one line")
      ("max-size", po::value(&v.max_size)->value_name("BYTES"),
       ("largest message accepted from the server (default " + std::to_string(limits::default_max_message >> 20) +
        "M)").c_str());
}

void add_ending(po::options_description& g, option_values& v, config& cfg) {
  g.add_options()
      ("execute,x", po::value(&cfg.execute)->value_name("MESSAGE")->composing(),
       "send this message instead of reading stdin, then close as at end of input (repeatable)")
      ("wait,w", po::value(&v.wait)->value_name("SECONDS"),
       "with -x: keep receiving this long after connecting, then close (default: the --linger wait)")
      ("max-messages", po::value(&cfg.max_messages)->value_name("N"), "close after receiving N messages")
      (",1", "the same as --max-messages 1")
      ("no-close,n", "keep the connection open at end of input (receive until the server closes)")
      ("linger", po::value(&v.linger)->value_name("SECONDS"),
       ("at end of input, close once the server has been quiet this long (default " +
        seconds(limits::default_linger) + "; 0: at once, and replies still on their way are lost)").c_str())
      ("timeout", po::value(&v.timeout)->value_name("SECONDS"),
       "close (1000) this long after the connection opened; with --max-messages, exit 10 if fewer arrived")
      ("close-code", po::value(&v.close_code)->value_name("CODE"),
       "close with this code at the end of input (default 1000; 1000-1003, 1007-1014, 3000-4999)")
      ("close-reason", po::value(&cfg.close_reason)->value_name("TEXT"), "and this reason (UTF-8, at most 123 bytes)")
      ("close-timeout", po::value(&v.close_timeout)->value_name("SECONDS"),
       ("wait this long for the server's answer to our Close (default " + seconds(limits::default_close_timeout) +
        ")").c_str());
}

void add_program(po::options_description& g, option_values&, config&) {
  g.add_options()
      ("exec", po::value<std::string>()->value_name("CMD [ARGS...]"),
       "run CMD with ARGS as the other end instead of stdin/stdout; it must come last (see below)");
}

void add_terminal(po::options_description& g, option_values&, config& cfg) {
  g.add_options()
      ("show-ping-pong,P", "show each ping and pong received, and keepalive pings sent (pipes: on stderr)")
      ("timestamps", "show the time before each message and event")
      ("log", po::value(&cfg.log_path)->value_name("FILE"),
       "append a transcript of the session to FILE: each message sent and received, with its time")
      ("no-history", "do not read or write the history file")
      ("no-color", "no colours (also when NO_COLOR is set)");
}

void add_server(po::options_description& g, option_values& v, config& cfg) {
  g.add_options()
      ("listen,l", po::value(&v.listen_text)->value_name("[ADDR:]PORT"),
       "accept WebSocket connections instead of making one (address default 127.0.0.1; "
       "0.0.0.0 or [::] for every interface; unix:PATH for a Unix socket; systemd for the TCP socket "
       "systemd passes, socket activation); see below")
      ("max-connections", po::value(&cfg.max_connections)->value_name("N"),
       ("at most N connections at once; more are answered 503 (default 1; with --exec " +
        std::to_string(limits::default_max_connections) + ")").c_str())
      ("origin-allow", po::value(&v.origin_allow)->value_name("ORIGIN,..."),
       "accept only upgrade requests whose Origin is one of these (scheme://host[:port]; null: pages from "
       "file:// and sandboxed frames, anywhere); others get 403")
      ("same-origin", "refuse (403) an upgrade whose Origin names another host than its Host header "
       "(websocketd's --sameorigin)")
      ("trusted-proxy", po::value(&v.trusted_proxy)->value_name("CIDR,..."),
       "when the connection comes from one of these addresses (a reverse proxy), the client is the one its "
       "Forwarded or X-Forwarded-For header names (the right-most not itself trusted): REMOTE_ADDR, the log, "
       "and for --same-origin the X-Forwarded-Host or Forwarded host= it passed on")
      ("access-log", "one line per connection on stderr, as a web server's access log: the request, the answer, "
       "how long, the messages each way, how it closed (-v includes it)")
      ("proxy-protocol", "every connection starts with a PROXY protocol header (HAProxy's send-proxy or "
       "send-proxy-v2), which names the client for REMOTE_ADDR and the log; one without a valid header is closed")
      ("static-dir", po::value(&cfg.static_dir)->value_name("DIR"),
       "answer requests that are not WebSocket upgrades (GET and HEAD) with the files in DIR, "
       "index.html for a directory; dotfiles and anything outside DIR are never served "
       "(websocketd's --staticdir)")
      ("dev-console", "serve a page at / for trying the server from a browser: send text or binary (hex), "
       "see each message with its type, size and time, close with a code (websocketd's --devconsole)")
      ("tls-cert", po::value(&cfg.tls_cert)->value_name("FILE"), "serve wss:// with this certificate chain (PEM)")
      ("tls-key", po::value(&cfg.tls_key)->value_name("FILE"), "its private key (default: in the --tls-cert file)");
}

/// Other tools' spellings, accepted so that habits work (not listed in --help; docs/guide.md
/// "Options"): wscat's -c URL, --auth and --no-check, curl's --max-redirs and
/// --unix-socket, --ca. Those that mean something else here are other_spellings.cpp's.
/// And what the build asks for: the man page and the completion scripts.
void add_hidden(po::options_description& g, option_values& v, config& cfg) {
  g.add_options()
      ("url", po::value(&cfg.url))
      ("connect,c", po::value(&cfg.url))
      ("ca", po::value(&cfg.cacert))
      ("auth", po::value(&cfg.user))
      ("no-check", "")
      ("staticdir", po::value(&cfg.static_dir))
      ("devconsole", "")
      ("max-redirs", po::value(&cfg.max_redirects))
      ("unix-socket", po::value(&v.unix_path))
      ("man-page", "")
      ("completion", po::value(&v.completion_shell));
}

}  // namespace

void make_option_table(option_table& t, option_values& v, config& cfg) {
  v.connect_timeout = seconds(limits::default_connect_timeout);
  v.close_timeout = seconds(limits::default_close_timeout);
  v.linger = seconds(limits::default_linger);
  v.max_size = std::to_string(limits::default_max_message);
  add_general(t.general, v, cfg);
  add_connection(t.connection, v, cfg);
  add_tls(t.tls, v, cfg);
  add_handshake(t.handshake, v, cfg);
  add_framing(t.framing, v, cfg);
  add_ending(t.ending, v, cfg);
  add_program(t.program, v, cfg);
  add_terminal(t.terminal, v, cfg);
  add_server(t.server, v, cfg);
  add_hidden(t.hidden, v, cfg);
}

std::vector<std::pair<const char*, const po::options_description*>> option_table::titled() const {
  return {{"General", &general},
          {"Connection", &connection},
          {"TLS (wss://)", &tls},
          {"Handshake", &handshake},
          {"Framing (pipes and programs)", &framing},
          {"Messages and closing", &ending},
          {"Program", &program},
          {"Terminal", &terminal},
          {"Server mode", &server}};
}

po::options_description option_table::visible() const {
  po::options_description all;
  for (const auto& [title, group] : titled()) all.add(*group);
  return all;
}

}  // namespace wsbridge
