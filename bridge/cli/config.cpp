#include "bridge/cli/config.hpp"

#include <boost/algorithm/string/predicate.hpp>
#include <boost/program_options.hpp>
#include <algorithm>
#include <unistd.h>

#include "bridge/cli/help.hpp"
#include "bridge/cli/option_values.hpp"
#include "bridge/protocol/close_codes.hpp"
#include "bridge/protocol/limits.hpp"
#include "bridge/common/safe_text.hpp"
#include "bridge/common/sandbox.hpp"
#include "bridge/common/version.hpp"

namespace po = boost::program_options;

namespace wsbridge {
namespace {

/// The rest of the command line in server mode (--listen).
parse_outcome server_options(const po::variables_map& vm, const std::string& listen_text,
                             const std::string& origin_allow, config& cfg, std::string* text) {
  if (!cfg.url.empty()) {
    *text = "--listen takes no URL: with it wsbridge accepts connections instead of making one";
    return parse_outcome::error;
  }
  // The client's options have no meaning for a server; silently ignoring one would
  // hide a mistake.
  for (const char* name : {"proxy", "cacert", "ca", "cert", "key", "insecure", "user", "auth", "header", "origin",
                           "max-redirects", "max-redirs", "unix", "unix-socket", "user-agent", "connect", "no-close",
                           "connect-to", "resolve", "reconnect"})
    if (vm.count(name)) {
      *text = std::string("--") + name + " is a client option; it has no meaning with --listen";
      return parse_outcome::error;
    }
  if (listen_text.starts_with("unix:")) {
    cfg.listen_unix = listen_text.substr(5);
    if (cfg.listen_unix.empty()) {
      *text = "--listen unix:PATH: expected the socket's path";
      return parse_outcome::error;
    }
    if (vm.count("tls-cert")) {
      *text = "--tls-cert serves TCP; a Unix socket is served as ws+unix:// only";
      return parse_outcome::error;
    }
  } else if (!parse_listen(listen_text, cfg.listen_host, cfg.listen_port, text)) {
    return parse_outcome::error;
  }
  // --connect-timeout is the time a client has to send its whole upgrade request.
  if (!vm.count("connect-timeout")) cfg.connect_timeout = limits::request_timeout;
  if (cfg.max_connections == 0) {
    if (vm.count("max-connections")) {
      *text = "--max-connections: expected at least 1";
      return parse_outcome::error;
    }
    cfg.max_connections = cfg.exec.empty() ? 1 : limits::default_max_connections;
  } else if (cfg.exec.empty() && cfg.max_connections > 1) {
    *text = "--max-connections above 1 needs --exec: stdin and stdout can serve one connection";
    return parse_outcome::error;
  }
  cfg.same_origin_only = vm.count("same-origin") > 0;
  for (std::size_t pos = 0; pos < origin_allow.size();) {
    std::size_t end = origin_allow.find(',', pos);
    if (end == std::string::npos) end = origin_allow.size();
    std::string origin = origin_allow.substr(pos, end - pos);
    origin.erase(0, origin.find_first_not_of(' '));
    origin.erase(origin.find_last_not_of(' ') + 1);
    if (origin.find("://") == std::string::npos || origin.find_first_of("\r\n") != std::string::npos) {
      *text = "--origin-allow: '" + safe_text(origin) + "' is not an origin (scheme://host[:port])";
      return parse_outcome::error;
    }
    cfg.origins.push_back(origin);
    pos = end + 1;
  }
  if (!cfg.tls_key.empty() && cfg.tls_cert.empty()) {
    *text = "--tls-key needs --tls-cert";
    return parse_outcome::error;
  }
  if (cfg.tls_key.empty()) cfg.tls_key = cfg.tls_cert;
  cfg.target.tls = !cfg.tls_cert.empty();  // netproc loads the TLS module for it
  const bool v6 = cfg.listen_host.find(':') != std::string::npos;
  cfg.target.display = !cfg.listen_unix.empty() ? "ws+unix://" + cfg.listen_unix + ":/"
                       : std::string(cfg.target.tls ? "wss://" : "ws://") +
                             (v6 ? "[" + cfg.listen_host + "]" : cfg.listen_host) + ":" + cfg.listen_port + "/";
  return parse_outcome::run;
}

}  // namespace

bool terminal_session_wanted(const config& cfg) {
  // The framings made for programs use pipe mode, which still escapes what it shows on
  // a terminal.
  return ::isatty(STDIN_FILENO) && ::isatty(STDOUT_FILENO) && cfg.exec.empty() && cfg.execute.empty() &&
         cfg.framing_mode == framing::lines && cfg.encoding != payload_encoding::base64 && !cfg.typing.any();
}

net_settings net_settings_of(const config& cfg, const std::string& peer) {
  net_settings n;
  n.side = {cfg.server(), peer};
  n.target = cfg.target;
  n.proxy = cfg.proxy;
  n.connect_timeout = cfg.connect_timeout;
  n.max_redirects = cfg.max_redirects;
  n.reconnect = cfg.reconnect;
  n.cacert = cfg.cacert;
  n.cert = cfg.cert;
  n.key = cfg.key;
  n.insecure = cfg.insecure;
  n.user = cfg.user;
  n.headers = cfg.headers;
  n.subprotocols = cfg.subprotocols;
  n.origin = cfg.origin;
  n.compress = cfg.compress;
  n.listen_port = cfg.listen_port;
  n.unix_socket = !cfg.listen_unix.empty();
  n.origins = cfg.origins;
  n.same_origin_only = cfg.same_origin_only;
  n.tls_cert = cfg.tls_cert;
  n.tls_key = cfg.tls_key;
  n.program = !cfg.exec.empty();
  n.max_message = cfg.max_message;
  n.close_timeout = cfg.close_timeout;
  n.linger = cfg.linger;
  n.ping_interval = cfg.ping_interval;
  n.ping_timeout = cfg.ping_timeout;
  n.timeout = cfg.timeout;
  n.max_messages = cfg.max_messages;
  n.no_close = cfg.no_close;
  n.close_code = cfg.close_code;
  n.close_reason = cfg.close_reason;
  n.verbose = cfg.verbose;
  n.show_ping_pong = cfg.show_ping_pong;
  n.sandbox = cfg.sandbox;
  return n;
}

io_settings io_settings_of(const config& cfg, const std::string& peer) {
  io_settings io;
  io.side = {cfg.server(), peer};
  io.terminal = terminal_session_wanted(cfg);
  io.display = cfg.server() ? "client " + peer : cfg.target.display;
  io.framing_mode = cfg.framing_mode;
  io.encoding = cfg.encoding;
  io.typing = cfg.typing;
  io.escape_newlines = cfg.escape_newlines;
  io.max_messages = cfg.max_messages;
  io.execute = cfg.execute;
  io.exec = cfg.exec;
  io.reconnect = cfg.reconnect;
  io.quiet = cfg.quiet;
  io.verbose = cfg.verbose;
  io.color = cfg.color;
  io.history = cfg.history;
  io.timestamps = cfg.timestamps;
  io.log = !cfg.log_path.empty();
  io.sandbox = cfg.sandbox;
  return io;
}

parse_outcome parse_command_line(int argc, const char* const* argv, config& cfg,
                                 std::string* text) {
  std::string connect_timeout = seconds(limits::default_connect_timeout);
  std::string close_timeout = seconds(limits::default_close_timeout);
  std::string linger = seconds(limits::default_linger);
  std::string ping_interval = "0";
  std::string ping_timeout;
  std::string timeout = "0";
  std::string max_size = std::to_string(limits::default_max_message);
  std::vector<std::string> header_lines;
  std::string unix_path;

  // Everything after --exec is the program and its arguments, untouched (like
  // `env` or `sudo`): they may look like our own options.
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) != "--exec") continue;
    cfg.exec.assign(argv + i + 1, argv + argc);
    if (cfg.exec.empty()) {
      *text = "--exec: expected a program to run (wsbridge URL --exec CMD [ARGS...])";
      return parse_outcome::error;
    }
    argc = i;
    break;
  }

  // The options, in curl's kind of groups; --help, the man page and the completions
  // are all written from these (help.hpp).
  std::string user_agent, listen_text, origin_allow, wait;
  std::vector<std::string> connect_to, resolve;
  std::string reconnect_delay;
  long close_code = close_normal;
  po::options_description general;
  general.add_options()
      ("help,h", "show this help and exit")
      ("version,V", "show the version and exit")
      ("verbose,v", "describe the connection on stderr: each step, headers (credentials masked), the close")
      ("quiet,q", "pipe mode: say nothing on stderr when the server closes normally")
      ("no-sandbox", "do not sandbox the network and I/O processes (for debugging)");
  po::options_description connection;
  connection.add_options()
      ("proxy", po::value(&cfg.proxy_url)->value_name("URL"),
       "connect through this proxy: http://HOST:PORT (CONNECT), socks5:// or socks5h://; default: https_proxy, "
       "http_proxy or all_proxy, except no_proxy hosts and loopback; '' for none")
      ("unix", po::value(&unix_path)->value_name("PATH"),
       "connect to this Unix domain socket; the URL gives the Host header and path (or in one URL: "
       "ws+unix:///PATH:/RESOURCE)")
      ("connect-to", po::value(&connect_to)->value_name("HOST1:PORT1:HOST2:PORT2")->composing(),
       "connect to HOST2:PORT2 when the URL names HOST1:PORT1 (either may be empty: any); the Host header, "
       "TLS name and certificate check keep the URL's (repeatable)")
      ("resolve", po::value(&resolve)->value_name("HOST:PORT:ADDRESS")->composing(),
       "use ADDRESS for HOST:PORT instead of asking DNS (repeatable)")
      ("connect-timeout", po::value(&connect_timeout)->value_name("SECONDS"),
       ("give up unless the connection is open after this long: TCP, proxy, TLS and the upgrade answer "
        "together (default " + seconds(limits::default_connect_timeout) + "; with --listen, the time a client has "
        "for TLS and its whole request, default " + seconds(limits::request_timeout) + ")").c_str())
      ("max-redirects", po::value(&cfg.max_redirects)->value_name("N"),
       ("follow at most N redirects (default " + std::to_string(limits::default_max_redirects) +
        "; 0: none); wss:// to ws:// is never followed").c_str())
      ("reconnect", po::value(&cfg.reconnect_attempts)->implicit_value(0, "")->value_name("[=N]"),
       "make a lost connection again, with a growing wait; give up after N failed attempts in a row "
       "(default: never). Not after a Close 1000/1001 from the server, nor a 4xx refusal (429 waits its "
       "Retry-After)")
      ("reconnect-delay", po::value(&reconnect_delay)->value_name("MIN[,MAX]"),
       "the first wait before reconnecting, doubled each failed attempt up to MAX, with jitter (default 1,30)")
      ("reconnect-on-close", "reconnect after the server's Close 1000/1001 too")
      ("ping-interval", po::value(&ping_interval)->value_name("SECONDS"),
       "keepalive: ping after this long without traffic from the server (default 0: off)")
      ("ping-timeout", po::value(&ping_timeout)->value_name("SECONDS"),
       "keepalive: a server silent this long after a ping is declared dead (default: the interval)");
  po::options_description tls;
  tls.add_options()
      ("cacert", po::value(&cfg.cacert)->value_name("FILE"), "trust the CA certificates in FILE (PEM)")
      ("insecure,k", "do not verify the server's certificate (unsafe)")
      ("cert", po::value(&cfg.cert)->value_name("FILE"), "present this client certificate (PEM)")
      ("key", po::value(&cfg.key)->value_name("FILE"), "the client certificate's private key (default: in --cert's file)");
  po::options_description handshake;
  handshake.add_options()
      ("header,H", po::value(&header_lines)->value_name("NAME:VALUE")->composing(),
       "add a header to the upgrade request (repeatable)")
      ("subprotocol,s", po::value(&cfg.subprotocols)->value_name("NAME")->composing(),
       "offer this subprotocol (repeatable, in order of preference); the server's choice is reported")
      ("user,u", po::value(&cfg.user)->value_name("USER:PASSWORD"),
       "Basic authentication (also from the URL: ws://user:password@host/)")
      ("origin", po::value(&cfg.origin)->value_name("ORIGIN"), "send this Origin header")
      ("user-agent,A", po::value(&user_agent)->value_name("TEXT"), "send this User-Agent (default wsbridge/VERSION)")
      ("no-compress", "do not offer permessage-deflate compression");
  po::options_description framing_options;
  framing_options.add_options()
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
      ("max-size", po::value(&max_size)->value_name("BYTES"),
       ("largest message accepted from the server (default " + std::to_string(limits::default_max_message >> 20) +
        "M)").c_str());
  po::options_description ending;
  ending.add_options()
      ("execute,x", po::value(&cfg.execute)->value_name("MESSAGE")->composing(),
       "send this message instead of reading stdin, then close as at end of input (repeatable)")
      ("wait,w", po::value(&wait)->value_name("SECONDS"),
       "with -x: keep receiving this long after connecting, then close (default: the --linger wait)")
      ("max-messages", po::value(&cfg.max_messages)->value_name("N"), "close after receiving N messages")
      (",1", "the same as --max-messages 1")
      ("no-close,n", "keep the connection open at end of input (receive until the server closes)")
      ("linger", po::value(&linger)->value_name("SECONDS"),
       ("at end of input, close once the server has been quiet this long (default " +
        seconds(limits::default_linger) + "; 0: at once, and replies still on their way are lost)").c_str())
      ("timeout", po::value(&timeout)->value_name("SECONDS"),
       "close (1000) this long after the connection opened; with --max-messages, exit 10 if fewer arrived")
      ("close-code", po::value(&close_code)->value_name("CODE"),
       "close with this code at the end of input (default 1000; 1000-1003, 1007-1014, 3000-4999)")
      ("close-reason", po::value(&cfg.close_reason)->value_name("TEXT"), "and this reason (UTF-8, at most 123 bytes)")
      ("close-timeout", po::value(&close_timeout)->value_name("SECONDS"),
       ("wait this long for the server's answer to our Close (default " + seconds(limits::default_close_timeout) +
        ")").c_str());
  po::options_description program;
  program.add_options()
      ("exec", po::value<std::string>()->value_name("CMD [ARGS...]"),
       "run CMD with ARGS as the other end instead of stdin/stdout; it must come last (see below)");
  po::options_description terminal;
  terminal.add_options()
      ("show-ping-pong,P", "show each ping and pong received, and keepalive pings sent (pipes: on stderr)")
      ("timestamps", "show the time before each message and event")
      ("log", po::value(&cfg.log_path)->value_name("FILE"),
       "append a transcript of the session to FILE: each message sent and received, with its time")
      ("no-history", "do not read or write the history file")
      ("no-color", "no colours (also when NO_COLOR is set)");
  po::options_description server;
  server.add_options()
      ("listen,l", po::value(&listen_text)->value_name("[ADDR:]PORT"),
       "accept WebSocket connections instead of making one (address default 127.0.0.1; "
       "0.0.0.0 or [::] for every interface; unix:PATH for a Unix socket); see below")
      ("max-connections", po::value(&cfg.max_connections)->value_name("N"),
       ("at most N connections at once; more are answered 503 (default 1; with --exec " +
        std::to_string(limits::default_max_connections) + ")").c_str())
      ("origin-allow", po::value(&origin_allow)->value_name("ORIGIN,..."),
       "accept only upgrade requests whose Origin is one of these (scheme://host[:port]); others get 403")
      ("same-origin", "refuse (403) an upgrade whose Origin names another host than its Host header "
       "(websocketd's --sameorigin)")
      ("tls-cert", po::value(&cfg.tls_cert)->value_name("FILE"), "serve wss:// with this certificate chain (PEM)")
      ("tls-key", po::value(&cfg.tls_key)->value_name("FILE"), "its private key (default: in the --tls-cert file)");
  po::options_description visible;
  for (const auto* group : {&general, &connection, &tls, &handshake, &framing_options, &ending, &program, &terminal, &server})
    visible.add(*group);
  // Other tools' spellings, accepted so that habits work (not listed in --help; README
  // "Options"): wscat's -c URL and --auth, curl's --max-redirs and --unix-socket, --ca.
  // And what the build asks for: the man page and the completion scripts.
  std::string completion_shell;
  po::options_description hidden;
  hidden.add_options()
      ("url", po::value(&cfg.url))
      ("connect,c", po::value(&cfg.url))
      ("ca", po::value(&cfg.cacert))
      ("auth", po::value(&cfg.user))
      ("max-redirs", po::value(&cfg.max_redirects))
      ("unix-socket", po::value(&unix_path))
      ("man-page", "")
      ("completion", po::value(&completion_shell));
  po::options_description all;
  all.add(visible).add(hidden);
  po::positional_options_description positional;
  positional.add("url", 1);

  cfg.max_redirects = limits::default_max_redirects;
  po::variables_map vm;
  try {
    // Exact option names only: Program_options would otherwise take any unambiguous
    // prefix (--ca for --cacert, --head for --header), so a typo could silently become
    // another option.
    const int style = po::command_line_style::default_style & ~po::command_line_style::allow_guessing;
    // "--reconnect URL": Program_options would take the URL for the optional N, which
    // only "--reconnect=N" may give.
    std::vector<const char*> args(argv, argv + argc);
    for (auto& a : args)
      if (std::string_view(a) == "--reconnect") a = "--reconnect=0";
    po::store(po::command_line_parser(static_cast<int>(args.size()), args.data())
                  .options(all)
                  .positional(positional)
                  .style(style)
                  .run(),
              vm);
    po::notify(vm);
  } catch (const po::unknown_option& e) {
    *text = "unknown option " + safe_text(e.get_option_name()) + did_you_mean(e.get_option_name(), visible) +
            " (see wsbridge --help)";
    return parse_outcome::error;
  } catch (const po::error& e) {
    *text = safe_text(e.what()) + " (see wsbridge --help)";
    return parse_outcome::error;
  }

  if (vm.count("help") || vm.count("man-page") || vm.count("completion")) {
    help_page page = wsbridge_help_page();
    page.groups = {{"General", &general},
                   {"Connection", &connection},
                   {"TLS (wss://)", &tls},
                   {"Handshake", &handshake},
                   {"Framing (pipes and programs)", &framing_options},
                   {"Messages and closing", &ending},
                   {"Program", &program},
                   {"Terminal", &terminal},
                   {"Server mode", &server}};
    if (vm.count("man-page")) {
      *text = format_man_page(page, version_string);
    } else if (vm.count("completion")) {
      *text = format_completion(page, completion_shell);
      if (text->empty()) {
        *text = "--completion: expected bash or zsh";
        return parse_outcome::error;
      }
    } else {
      *text = format_help(page);
    }
    return parse_outcome::help;
  }
  if (vm.count("version")) {
    *text = std::string("wsbridge ") + version_string + "\n" + "built with Boost " + boost_version +
            ", OpenSSL " + openssl_version + " (wsbridge-tls.so), libedit " + libedit_version +
            " (wsbridge-term.so)\n" + "sandbox: " + sandbox::availability() + "\n";
    return parse_outcome::version;
  }
  cfg.verbose = vm.count("verbose") > 0;
  cfg.color = vm.count("no-color") == 0;
  cfg.history = vm.count("no-history") == 0;
  cfg.sandbox = vm.count("no-sandbox") == 0;
  cfg.insecure = vm.count("insecure") > 0;
  cfg.compress = vm.count("no-compress") == 0;
  cfg.escape_newlines = vm.count("escape-newlines") > 0;
  cfg.no_close = vm.count("no-close") > 0;
  cfg.quiet = vm.count("quiet") > 0;
  cfg.show_ping_pong = vm.count("show-ping-pong") > 0;
  cfg.timestamps = vm.count("timestamps") > 0;
  cfg.reconnect = vm.count("reconnect") > 0;
  cfg.reconnect_on_close = vm.count("reconnect-on-close") > 0;
  if ((cfg.reconnect_on_close || vm.count("reconnect-delay")) && !cfg.reconnect) {
    *text = std::string("--") + (cfg.reconnect_on_close ? "reconnect-on-close" : "reconnect-delay") +
            " goes with --reconnect";
    return parse_outcome::error;
  }
  if (vm.count("reconnect-delay")) {
    const std::size_t comma = reconnect_delay.find(',');
    if (!parse_seconds("reconnect-delay", reconnect_delay.substr(0, comma), cfg.reconnect_min, text, true) ||
        (comma != std::string::npos &&
         !parse_seconds("reconnect-delay", reconnect_delay.substr(comma + 1), cfg.reconnect_max, text, true)))
      return parse_outcome::error;
    if (comma == std::string::npos) cfg.reconnect_max = std::max(cfg.reconnect_max, cfg.reconnect_min);
    if (cfg.reconnect_max < cfg.reconnect_min) {
      *text = "--reconnect-delay MIN,MAX: MAX is shorter than MIN";
      return parse_outcome::error;
    }
  }
  for (const auto& [texts, is_resolve] : {std::pair{&resolve, true}, std::pair{&connect_to, false}})
    for (const std::string& rule_text : *texts) {  // --resolve first: curl gives it precedence too
      connect_rule rule;
      if (!parse_connect_rule(rule_text, is_resolve, rule, text)) return parse_outcome::error;
      cfg.connect_rules.push_back(std::move(rule));
    }
  if (!sendable_close_code(close_code)) {
    *text = "--close-code: " + std::to_string(close_code) + " cannot be sent (RFC 6455 §7.4: 1000-1003, 1007-1014, 3000-4999)";
    return parse_outcome::error;
  }
  cfg.close_code = static_cast<std::uint16_t>(close_code);
  if (cfg.close_reason.size() > limits::max_close_reason || utf8_valid_prefix(cfg.close_reason) != cfg.close_reason.size()) {
    *text = "--close-reason: at most " + std::to_string(limits::max_close_reason) + " bytes of UTF-8 (RFC 6455 §5.5)";
    return parse_outcome::error;
  }
  if (vm.count("-1")) {
    if (vm.count("max-messages") && cfg.max_messages != 1) {
      *text = "-1 and --max-messages " + std::to_string(cfg.max_messages) + " disagree";
      return parse_outcome::error;
    }
    cfg.max_messages = 1;
  } else if (vm.count("max-messages") && cfg.max_messages == 0) {
    *text = "--max-messages: expected at least 1";
    return parse_outcome::error;
  }
  {
    int modes = 0;
    for (const auto& [name, mode] : {std::pair{"lines", framing::lines}, std::pair{"null", framing::null},
                                     std::pair{"length-prefixed", framing::length_prefixed},
                                     std::pair{"raw", framing::raw}})
      if (vm.count(name)) {
        cfg.framing_mode = mode;
        ++modes;
      }
    if (modes > 1) {
      *text = "choose one framing: --lines, --null, --length-prefixed or --raw";
      return parse_outcome::error;
    }
    if (vm.count("binary") && vm.count("base64")) {
      *text = "--binary and --base64 exclude each other (--base64 already sends binary messages)";
      return parse_outcome::error;
    }
    if (vm.count("binary")) cfg.encoding = payload_encoding::binary;
    if (vm.count("base64")) cfg.encoding = payload_encoding::base64;
    if (cfg.encoding == payload_encoding::base64 && cfg.framing_mode == framing::raw) {
      *text = "--base64 needs message boundaries: use it with --lines, --null or --length-prefixed";
      return parse_outcome::error;
    }
    cfg.typing.length_bit = vm.count("typed") > 0;
    if (cfg.typing.length_bit && cfg.framing_mode != framing::length_prefixed) {
      *text = "--typed marks the type in the length prefix: use it with --length-prefixed "
              "(lines and -0 have --text-prefix and --binary-prefix)";
      return parse_outcome::error;
    }
    const bool prefixes = vm.count("text-prefix") || vm.count("binary-prefix");
    if (prefixes && cfg.framing_mode != framing::lines && cfg.framing_mode != framing::null) {
      *text = "--text-prefix and --binary-prefix mark records of lines or -0 (--length-prefixed has --typed)";
      return parse_outcome::error;
    }
    if (prefixes && (cfg.typing.text_prefix.empty() && cfg.typing.binary_prefix.empty())) {
      *text = "--text-prefix, --binary-prefix: expected a prefix that is not empty";
      return parse_outcome::error;
    }
    if (prefixes && cfg.typing.text_prefix == cfg.typing.binary_prefix) {
      *text = "--text-prefix and --binary-prefix must differ";
      return parse_outcome::error;
    }
    if (cfg.typing.any() && cfg.encoding == payload_encoding::base64) {
      *text = "--base64 and message types exclude each other (a binary message is base64 after --binary-prefix)";
      return parse_outcome::error;
    }
    if (cfg.escape_newlines && cfg.framing_mode != framing::lines) {
      *text = "--escape-newlines applies to line framing only";
      return parse_outcome::error;
    }
  }
  const bool listening = vm.count("listen") > 0;
  if (!listening && (vm.count("tls-cert") || vm.count("tls-key"))) {
    *text = std::string("--") + (vm.count("tls-cert") ? "tls-cert" : "tls-key") +
            " serves wss:// with --listen (a client's own certificate is --cert)";
    return parse_outcome::error;
  }
  if (cfg.url.empty() && !listening) {
    // "wsbridge --exec cat ws://h/": the URL went to the program.
    if (std::any_of(cfg.exec.begin(), cfg.exec.end(), [](const std::string& a) { return a.find("://") != a.npos; })) {
      *text = "missing URL: --exec takes the rest of the command line, so it must come last "
              "(wsbridge [options] URL --exec CMD [ARGS...])";
      return parse_outcome::error;
    }
    *text = "missing URL: wsbridge [options] ws://HOST[:PORT][/PATH], or --listen [ADDR:]PORT for a server";
    return parse_outcome::error;
  }
  // http:// and https:// name the same endpoint as ws:// and wss:// (wscat accepts them
  // too); the URL shown in messages keeps what the user typed.
  for (const auto& [from, to] : {std::pair{"http://", "ws://"}, std::pair{"https://", "wss://"}})
    if (boost::istarts_with(cfg.url, from)) {
      cfg.url = to + cfg.url.substr(std::string_view(from).size());
      break;
    }
  if (!parse_seconds("connect-timeout", connect_timeout, cfg.connect_timeout, text) ||
      !parse_seconds("close-timeout", close_timeout, cfg.close_timeout, text) ||
      !parse_seconds("linger", linger, cfg.linger, text, /*zero_ok=*/true) ||
      !parse_seconds("ping-interval", ping_interval, cfg.ping_interval, text, /*zero_ok=*/true) ||
      !parse_seconds("timeout", timeout, cfg.timeout, text, /*zero_ok=*/true))
    return parse_outcome::error;
  if (vm.count("ping-timeout")) {
    if (cfg.ping_interval.count() == 0) {
      *text = "--ping-timeout needs --ping-interval";
      return parse_outcome::error;
    }
    if (!parse_seconds("ping-timeout", ping_timeout, cfg.ping_timeout, text)) return parse_outcome::error;
  } else {
    cfg.ping_timeout = cfg.ping_interval;
  }
  if (!parse_size("max-size", max_size, cfg.max_message, text)) return parse_outcome::error;
  if (cfg.max_message == 0 || cfg.max_message > limits::max_ipc_payload) {
    *text = "--max-size: expected 1 byte to " + std::to_string(limits::max_ipc_payload >> 20) + "M";
    return parse_outcome::error;
  }
  if (!cfg.execute.empty()) {
    // wscat's -x: the messages are the input, framed as stdin would be.
    if (!cfg.exec.empty() || listening || cfg.framing_mode == framing::raw) {
      *text = "-x/--execute replaces stdin: not with --exec, --listen or --raw";
      return parse_outcome::error;
    }
    for (const std::string& m : cfg.execute)
      if ((cfg.framing_mode == framing::lines && m.find('\n') != std::string::npos) ||
          (cfg.framing_mode == framing::null && m.find('\0') != std::string::npos)) {
        *text = "-x: a message with a line break cannot be sent with line framing (use -0 or --length-prefixed)";
        return parse_outcome::error;
      }
  }
  if (vm.count("wait")) {
    if (cfg.execute.empty()) {
      *text = "-w/--wait goes with -x/--execute";
      return parse_outcome::error;
    }
    if (!parse_seconds("wait", wait, cfg.timeout, text, /*zero_ok=*/true)) return parse_outcome::error;
    cfg.no_close = cfg.timeout.count() != 0;  // the wait, not the end of input, closes
  }
  if (listening) return server_options(vm, listen_text, origin_allow, cfg, text);
  if (!parse_ws_url(cfg.url, cfg.target, text)) return parse_outcome::error;
  apply_connect_rules(cfg.connect_rules, cfg.target);
  if (!unix_path.empty()) {
    if (cfg.target.tls || !cfg.target.unix_path.empty()) {
      *text = "--unix: use it with a ws:// URL";
      return parse_outcome::error;
    }
    cfg.target.unix_path = unix_path;
  }
  cfg.proxy_given = vm.count("proxy") > 0;
  if (!choose_proxy(cfg, text)) return parse_outcome::error;
  if (!user_agent.empty()) header_lines.insert(header_lines.begin(), "User-Agent: " + user_agent);  // -H may override
  for (const std::string& line : header_lines) {
    std::string name, value;
    if (!parse_header(line, name, value, text)) return parse_outcome::error;
    cfg.headers.emplace_back(std::move(name), std::move(value));
  }
  for (const std::string& p : cfg.subprotocols)
    if (p.empty() || !is_token(p)) {
      *text = "--subprotocol: '" + p + "' is not a valid protocol name (RFC 6455 §4.1: an HTTP token)";
      return parse_outcome::error;
    }
  if (!cfg.key.empty() && cfg.cert.empty()) {
    *text = "--key needs --cert";
    return parse_outcome::error;
  }
  if (cfg.user.find_first_of("\r\n") != std::string::npos) {
    *text = "--user: must not contain line breaks";
    return parse_outcome::error;
  }
  if (cfg.origin.find_first_of("\r\n") != std::string::npos) {
    *text = "--origin: must not contain line breaks";
    return parse_outcome::error;
  }
  return parse_outcome::run;
}

}  // namespace wsbridge
