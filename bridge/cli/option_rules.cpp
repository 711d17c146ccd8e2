// The cross-option rules (option_rules.hpp), in the order they run.
#include "bridge/cli/option_rules.hpp"

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include <boost/algorithm/string/predicate.hpp>
#include <algorithm>
#include <utility>

#include "bridge/cli/option_values.hpp"
#include "bridge/common/fd_util.hpp"
#include "bridge/common/safe_text.hpp"
#include "bridge/protocol/close_codes.hpp"
#include "bridge/protocol/limits.hpp"

namespace wsbridge {
namespace {

bool fail(std::string* text, std::string why) {
  *text = std::move(why);
  return false;
}

// ---- every mode ----------------------------------------------------------------------

bool take_switches(rule_input& in, std::string*) {
  const auto on = [&](const char* name) { return in.vm.count(name) > 0; };
  config& cfg = in.cfg;
  cfg.verbose = on("verbose");
  cfg.color = !on("no-color");
  cfg.history = !on("no-history");
  cfg.sandbox = !on("no-sandbox");
  cfg.insecure = on("insecure") || on("no-check");  // wscat's --no-check
  cfg.compress = !on("no-compress");
  cfg.escape_newlines = on("escape-newlines");
  cfg.no_close = on("no-close");
  cfg.quiet = on("quiet");
  cfg.show_ping_pong = on("show-ping-pong");
  cfg.timestamps = on("timestamps");
  cfg.reconnect = on("reconnect");
  cfg.reconnect_on_close = on("reconnect-on-close");
  return true;
}

bool take_reconnect_delay(rule_input& in, std::string* text) {
  config& cfg = in.cfg;
  if ((cfg.reconnect_on_close || in.vm.count("reconnect-delay")) && !cfg.reconnect)
    return fail(text, std::string("--") + (cfg.reconnect_on_close ? "reconnect-on-close" : "reconnect-delay") +
                          " goes with --reconnect");
  if (!in.vm.count("reconnect-delay")) return true;
  const std::string& delay = in.values.reconnect_delay;
  const std::size_t comma = delay.find(',');
  if (!parse_seconds("reconnect-delay", delay.substr(0, comma), cfg.reconnect_min, text, true) ||
      (comma != std::string::npos &&
       !parse_seconds("reconnect-delay", delay.substr(comma + 1), cfg.reconnect_max, text, true)))
    return false;
  if (comma == std::string::npos) cfg.reconnect_max = std::max(cfg.reconnect_max, cfg.reconnect_min);
  if (cfg.reconnect_max < cfg.reconnect_min) return fail(text, "--reconnect-delay MIN,MAX: MAX is shorter than MIN");
  return true;
}

bool take_connect_rules(rule_input& in, std::string* text) {
  // --resolve first: curl gives it precedence too.
  for (const auto& [texts, is_resolve] : {std::pair{&in.values.resolve, true}, std::pair{&in.values.connect_to, false}})
    for (const std::string& rule_text : *texts) {
      connect_rule rule;
      if (!parse_connect_rule(rule_text, is_resolve, rule, text)) return false;
      in.cfg.connect_rules.push_back(std::move(rule));
    }
  return true;
}

bool take_close(rule_input& in, std::string* text) {
  const long code = in.values.close_code;
  if (!sendable_close_code(code))
    return fail(text, "--close-code: " + std::to_string(code) +
                          " cannot be sent (RFC 6455 §7.4: 1000-1003, 1007-1014, 3000-4999)");
  in.cfg.close_code = static_cast<std::uint16_t>(code);
  const std::string& reason = in.cfg.close_reason;
  if (reason.size() > limits::max_close_reason || utf8_valid_prefix(reason) != reason.size())
    return fail(text, "--close-reason: at most " + std::to_string(limits::max_close_reason) +
                          " bytes of UTF-8 (RFC 6455 §5.5)");
  return true;
}

bool take_max_messages(rule_input& in, std::string* text) {
  config& cfg = in.cfg;
  if (in.vm.count("-1")) {
    if (in.vm.count("max-messages") && cfg.max_messages != 1)
      return fail(text, "-1 and --max-messages " + std::to_string(cfg.max_messages) + " disagree");
    cfg.max_messages = 1;
  } else if (in.vm.count("max-messages") && cfg.max_messages == 0) {
    return fail(text, "--max-messages: expected at least 1");
  }
  return true;
}

bool take_framing(rule_input& in, std::string* text) {
  config& cfg = in.cfg;
  int modes = 0;
  for (const auto& [name, mode] : {std::pair{"lines", framing::lines}, std::pair{"null", framing::null},
                                   std::pair{"length-prefixed", framing::length_prefixed},
                                   std::pair{"raw", framing::raw}})
    if (in.vm.count(name)) {
      cfg.framing_mode = mode;
      ++modes;
    }
  if (modes > 1) return fail(text, "choose one framing: --lines, --null, --length-prefixed or --raw");
  if (in.vm.count("binary") && in.vm.count("base64"))
    return fail(text, "--binary and --base64 exclude each other (--base64 already sends binary messages)");
  if (in.vm.count("binary")) cfg.encoding = payload_encoding::binary;
  if (in.vm.count("base64")) cfg.encoding = payload_encoding::base64;
  if (cfg.encoding == payload_encoding::base64 && cfg.framing_mode == framing::raw)
    return fail(text, "--base64 needs message boundaries: use it with --lines, --null or --length-prefixed");
  if (cfg.escape_newlines && cfg.framing_mode != framing::lines)
    return fail(text, "--escape-newlines applies to line framing only");
  return true;
}

bool take_message_types(rule_input& in, std::string* text) {
  config& cfg = in.cfg;
  cfg.typing.length_bit = in.vm.count("typed") > 0;
  if (cfg.typing.length_bit && cfg.framing_mode != framing::length_prefixed)
    return fail(text, "--typed marks the type in the length prefix: use it with --length-prefixed "
                      "(lines and -0 have --text-prefix and --binary-prefix)");
  const bool prefixes = in.vm.count("text-prefix") || in.vm.count("binary-prefix");
  if (prefixes && cfg.framing_mode != framing::lines && cfg.framing_mode != framing::null)
    return fail(text, "--text-prefix and --binary-prefix mark records of lines or -0 (--length-prefixed has --typed)");
  if (prefixes && cfg.typing.text_prefix.empty() && cfg.typing.binary_prefix.empty())
    return fail(text, "--text-prefix, --binary-prefix: expected a prefix that is not empty");
  if (prefixes && cfg.typing.text_prefix == cfg.typing.binary_prefix)
    return fail(text, "--text-prefix and --binary-prefix must differ");
  if (cfg.typing.any() && cfg.encoding == payload_encoding::base64)
    return fail(text, "--base64 and message types exclude each other (a binary message is base64 after --binary-prefix)");
  return true;
}

bool check_mode(rule_input& in, std::string* text) {
  const bool listening = in.vm.count("listen") > 0;
  if (!listening && (in.vm.count("tls-cert") || in.vm.count("tls-key")))
    return fail(text, std::string("--") + (in.vm.count("tls-cert") ? "tls-cert" : "tls-key") +
                          " serves wss:// with --listen (a client's own certificate is --cert)");
  if (!in.cfg.url.empty() || listening) return true;
  // "wsbridge --exec cat ws://h/": the URL went to the program.
  if (std::any_of(in.cfg.exec.begin(), in.cfg.exec.end(), [](const std::string& a) { return a.find("://") != a.npos; }))
    return fail(text, "missing URL: --exec takes the rest of the command line, so it must come last "
                      "(wsbridge [options] URL --exec CMD [ARGS...])");
  return fail(text, "missing URL: wsbridge [options] ws://HOST[:PORT][/PATH], or --listen [ADDR:]PORT for a server");
}

bool take_durations(rule_input& in, std::string* text) {
  const option_values& v = in.values;
  config& cfg = in.cfg;
  if (!parse_seconds("connect-timeout", v.connect_timeout, cfg.connect_timeout, text) ||
      !parse_seconds("close-timeout", v.close_timeout, cfg.close_timeout, text) ||
      !parse_seconds("linger", v.linger, cfg.linger, text, /*zero_ok=*/true) ||
      !parse_seconds("ping-interval", v.ping_interval, cfg.ping_interval, text, /*zero_ok=*/true) ||
      !parse_seconds("timeout", v.timeout, cfg.timeout, text, /*zero_ok=*/true))
    return false;
  if (!in.vm.count("ping-timeout")) {
    cfg.ping_timeout = cfg.ping_interval;
    return true;
  }
  if (cfg.ping_interval.count() == 0) return fail(text, "--ping-timeout needs --ping-interval");
  return parse_seconds("ping-timeout", v.ping_timeout, cfg.ping_timeout, text);
}

bool take_max_size(rule_input& in, std::string* text) {
  if (!parse_size("max-size", in.values.max_size, in.cfg.max_message, text)) return false;
  if (in.cfg.max_message == 0 || in.cfg.max_message > limits::max_ipc_payload)
    return fail(text, "--max-size: expected 1 byte to " + std::to_string(limits::max_ipc_payload >> 20) + "M");
  return true;
}

bool take_execute(rule_input& in, std::string* text) {
  config& cfg = in.cfg;
  if (!cfg.execute.empty()) {
    // wscat's -x: the messages are the input, framed as stdin would be.
    if (!cfg.exec.empty() || in.vm.count("listen") || cfg.framing_mode == framing::raw)
      return fail(text, "-x/--execute replaces stdin: not with --exec, --listen or --raw");
    for (const std::string& m : cfg.execute)
      if ((cfg.framing_mode == framing::lines && m.find('\n') != std::string::npos) ||
          (cfg.framing_mode == framing::null && m.find('\0') != std::string::npos))
        return fail(text, "-x: a message with a line break cannot be sent with line framing (use -0 or "
                          "--length-prefixed)");
  }
  if (!in.vm.count("wait")) return true;
  if (cfg.execute.empty()) return fail(text, "-w/--wait goes with -x/--execute");
  if (!parse_seconds("wait", in.values.wait, cfg.timeout, text, /*zero_ok=*/true)) return false;
  cfg.no_close = cfg.timeout.count() != 0;  // the wait, not the end of input, closes
  return true;
}

constexpr option_rule common_rules[] = {
    {"switches", take_switches},
    {"--reconnect-delay and --reconnect-on-close", take_reconnect_delay},
    {"--connect-to and --resolve", take_connect_rules},
    {"--close-code and --close-reason", take_close},
    {"-1 and --max-messages", take_max_messages},
    {"one framing, one encoding", take_framing},
    {"message types", take_message_types},
    {"a URL, or --listen", check_mode},
    {"durations and keepalive", take_durations},
    {"--max-size", take_max_size},
    {"-x and -w", take_execute},
};

// ---- the client ----------------------------------------------------------------------

bool take_target(rule_input& in, std::string* text) {
  config& cfg = in.cfg;
  // http:// and https:// name the same endpoint as ws:// and wss:// (wscat accepts them
  // too); the URL shown in messages keeps what the user typed.
  for (const auto& [from, to] : {std::pair{"http://", "ws://"}, std::pair{"https://", "wss://"}})
    if (boost::istarts_with(cfg.url, from)) {
      cfg.url = to + cfg.url.substr(std::string_view(from).size());
      break;
    }
  // wscat's -c HOST:PORT: a connection to make, so ws:// is what it means.
  if (in.vm.count("connect") && cfg.url.find("://") == std::string::npos) cfg.url = "ws://" + cfg.url;
  if (!parse_ws_url(cfg.url, cfg.target, text)) return false;
  apply_connect_rules(cfg.connect_rules, cfg.target);
  if (in.values.unix_path.empty()) return true;
  if (cfg.target.tls || !cfg.target.unix_path.empty()) return fail(text, "--unix: use it with a ws:// URL");
  cfg.target.unix_path = in.values.unix_path;
  return true;
}

bool take_proxy(rule_input& in, std::string* text) {
  in.cfg.proxy_given = in.vm.count("proxy") > 0;
  return choose_proxy(in.cfg, text);
}

bool take_headers(rule_input& in, std::string* text) {
  std::vector<std::string>& lines = in.values.header_lines;
  if (!in.values.user_agent.empty()) lines.insert(lines.begin(), "User-Agent: " + in.values.user_agent);  // -H may override
  for (const std::string& line : lines) {
    std::string name, value;
    if (!parse_header(line, name, value, text)) return false;
    in.cfg.headers.emplace_back(std::move(name), std::move(value));
  }
  for (const std::string& p : in.cfg.subprotocols)
    if (p.empty() || !is_token(p))
      return fail(text, "--subprotocol: '" + p + "' is not a valid protocol name (RFC 6455 §4.1: an HTTP token)");
  return true;
}

bool check_credentials(rule_input& in, std::string* text) {
  const config& cfg = in.cfg;
  if (!cfg.key.empty() && cfg.cert.empty()) return fail(text, "--key needs --cert");
  if (cfg.user.find_first_of("\r\n") != std::string::npos) return fail(text, "--user: must not contain line breaks");
  if (cfg.origin.find_first_of("\r\n") != std::string::npos) return fail(text, "--origin: must not contain line breaks");
  return true;
}

constexpr option_rule client_rules[] = {
    {"the URL, --connect-to, --unix", take_target},
    {"the proxy", take_proxy},
    {"-H, -A, --subprotocol", take_headers},
    {"--cert, --key, --user, --origin", check_credentials},
};

// ---- the server (--listen) -----------------------------------------------------------

bool refuse_client_options(rule_input& in, std::string* text) {
  if (!in.cfg.url.empty()) {
    // "--listen 9300 ./count.sh": the program, without --exec before it.
    if (in.cfg.url.find("://") == std::string::npos)
      return fail(text, "--listen: put --exec before the program (wsbridge --listen PORT --exec " +
                            safe_text(in.cfg.url) + " [ARGS...])");
    return fail(text, "--listen takes no URL: with it wsbridge accepts connections instead of making one");
  }
  // The client's options have no meaning for a server; silently ignoring one would
  // hide a mistake.
  for (const char* name : {"proxy", "cacert", "ca", "cert", "key", "insecure", "no-check", "auth", "header", "origin",
                           "max-redirects", "max-redirs", "unix", "unix-socket", "user-agent", "connect", "no-close",
                           "connect-to", "resolve", "reconnect"})
    if (in.vm.count(name)) return fail(text, std::string("--") + name + " is a client option; it has no meaning with --listen");
  return true;
}

bool take_listen_address(rule_input& in, std::string* text) {
  config& cfg = in.cfg;
  const std::string& listen = in.values.listen_text;
  if (listen == "systemd") {  // socket activation: the socket is systemd's (listener.cpp)
    cfg.listen_systemd = true;
    return true;
  }
  if (!listen.starts_with("unix:")) return parse_listen(listen, cfg.listen_host, cfg.listen_port, text);
  cfg.listen_unix = listen.substr(5);
  if (cfg.listen_unix.empty()) return fail(text, "--listen unix:PATH: expected the socket's path");
  if (in.vm.count("tls-cert")) return fail(text, "--tls-cert serves TCP; a Unix socket is served as ws+unix:// only");
  return true;
}

bool take_connection_limits(rule_input& in, std::string* text) {
  config& cfg = in.cfg;
  // --connect-timeout is the time a client has for TLS and its whole upgrade request.
  if (!in.vm.count("connect-timeout")) cfg.connect_timeout = limits::request_timeout;
  if (cfg.max_connections == 0) {
    if (in.vm.count("max-connections")) return fail(text, "--max-connections: expected at least 1");
    cfg.max_connections = cfg.exec.empty() ? 1 : limits::default_max_connections;
  } else if (cfg.exec.empty() && cfg.max_connections > 1) {
    return fail(text, "--max-connections above 1 needs --exec: stdin and stdout can serve one connection");
  }
  return true;
}

bool take_origins(rule_input& in, std::string* text) {
  config& cfg = in.cfg;
  cfg.same_origin_only = in.vm.count("same-origin") > 0;
  const std::string& list = in.values.origin_allow;
  for (std::size_t pos = 0; pos < list.size();) {
    std::size_t end = list.find(',', pos);
    if (end == std::string::npos) end = list.size();
    std::string origin = list.substr(pos, end - pos);
    origin.erase(0, origin.find_first_not_of(' '));
    origin.erase(origin.find_last_not_of(' ') + 1);
    // "null" is what a browser sends from a file:// page or a sandboxed frame (RFC 6454
    // §7.3): allowed only when listed, as what it is (any such page, from anywhere).
    if ((origin.find("://") == std::string::npos && origin != "null") || origin.find_first_of("\r\n") != std::string::npos)
      return fail(text, "--origin-allow: '" + safe_text(origin) + "' is not an origin (scheme://host[:port], or null)");
    cfg.origins.push_back(origin);
    pos = end + 1;
  }
  return true;
}

bool take_server_tls(rule_input& in, std::string* text) {
  config& cfg = in.cfg;
  if (!cfg.tls_key.empty() && cfg.tls_cert.empty()) return fail(text, "--tls-key needs --tls-cert");
  if (cfg.tls_key.empty()) cfg.tls_key = cfg.tls_cert;
  cfg.target.tls = !cfg.tls_cert.empty();  // netproc loads the TLS module for it
  const bool v6 = cfg.listen_host.find(':') != std::string::npos;
  cfg.target.display = cfg.listen_systemd      ? std::string(cfg.target.tls ? "wss" : "ws") + "://(systemd's socket)/"
                       : !cfg.listen_unix.empty() ? "ws+unix://" + cfg.listen_unix + ":/"
                       : std::string(cfg.target.tls ? "wss://" : "ws://") +
                             (v6 ? "[" + cfg.listen_host + "]" : cfg.listen_host) + ":" + cfg.listen_port + "/";
  return true;
}

/// --user with --listen: the programs' user, resolved now (getpwnam(3), getgrnam(3)).
bool take_program_user(rule_input& in, std::string* text) {
  config& cfg = in.cfg;
  cfg.access_log = in.vm.count("access-log") > 0;
  if (in.vm.count("user") == 0 && in.vm.count("u") == 0) return true;
  if (cfg.exec.empty()) return fail(text, "--user with --listen is the user --exec programs run as: give --exec");
  if (::geteuid() != 0)
    return fail(text, "--user NAME: only root can run programs as another user (wsbridge runs as uid " +
                          std::to_string(::geteuid()) + ")");
  const std::string& value = cfg.user;
  const std::string name = value.substr(0, value.find(':'));
  const passwd* pw = ::getpwnam(name.c_str());
  if (!pw) return fail(text, "--user: no user '" + safe_text(name) + "'");
  cfg.program_uid = pw->pw_uid;
  cfg.program_gid = pw->pw_gid;
  if (const auto colon = value.find(':'); colon != std::string::npos) {
    const std::string group = value.substr(colon + 1);
    const ::group* gr = ::getgrnam(group.c_str());
    if (!gr) return fail(text, "--user: no group '" + safe_text(group) + "'");
    cfg.program_gid = gr->gr_gid;
  }
  cfg.user.clear();  // not a client's credentials
  return true;
}

bool take_trusted_proxies(rule_input& in, std::string* text) {
  in.cfg.proxy_protocol = in.vm.count("proxy-protocol") > 0;
  if (in.vm.count("trusted-proxy") == 0) return true;
  std::string err;
  if (!parse_ip_ranges(in.values.trusted_proxy, in.cfg.trusted_proxies, &err))
    return fail(text, "--trusted-proxy: " + safe_text(err));
  return true;
}

bool take_web_page_options(rule_input& in, std::string* text) {
  config& cfg = in.cfg;
  cfg.dev_console = in.vm.count("dev-console") > 0 || in.vm.count("devconsole") > 0;
  if (cfg.static_dir.empty()) return true;
  struct stat st {};
  if (::stat(cfg.static_dir.c_str(), &st) != 0)
    return fail(text, "--static-dir " + safe_text(cfg.static_dir) + ": " + errno_text(errno));
  if (!S_ISDIR(st.st_mode)) return fail(text, "--static-dir " + safe_text(cfg.static_dir) + ": not a directory");
  return true;
}

constexpr option_rule server_rules[] = {
    {"no URL and no client option", refuse_client_options},
    {"the address to listen on", take_listen_address},
    {"--connect-timeout and --max-connections", take_connection_limits},
    {"--origin-allow and --same-origin", take_origins},
    {"--tls-cert and --tls-key", take_server_tls},
    {"--trusted-proxy and --proxy-protocol", take_trusted_proxies},
    {"--user and --access-log", take_program_user},
    {"--static-dir and --dev-console", take_web_page_options},
};

}  // namespace

void collect_warnings(rule_input& in) {
  const config& cfg = in.cfg;
  const auto given = [&](const char* name) { return in.vm.count(name) > 0; };
  const auto warn = [&](std::string line) { in.cfg.warnings.push_back(std::move(line)); };
  const bool listening = given("listen");
  // The interactive client's own options, when this run is not one.
  if (!terminal_session_wanted(cfg) && (!listening || cfg.exec.empty()))
    for (const char* name : {"timestamps", "no-history"})
      if (given(name))
        warn(std::string("--") + name + " is for the interactive client (stdin and stdout a terminal); "
                                        "ignored here");
  if (listening) {
    if (!cfg.exec.empty())
      for (const char* name : {"timestamps", "no-history"})
        if (given(name)) warn(std::string("--") + name + " is for a terminal session; ignored with --exec");
    return;
  }
  // A client's TLS options with ws://, which a redirect to wss:// may still use.
  if (!cfg.target.tls)
    for (const char* name : {"cacert", "ca", "cert", "key", "insecure", "no-check"})
      if (given(name))
        warn(std::string("--") + name + " applies to wss:// only; ignored unless a redirect leads there");
  // A server's options without --listen.
  for (const char* name : {"max-connections", "origin-allow", "same-origin", "static-dir", "dev-console", "trusted-proxy",
                           "proxy-protocol", "access-log"})
    if (given(name)) warn(std::string("--") + name + " is a server option (with --listen); ignored");
}

bool apply_common_rules(rule_input& in, std::string* text) { return apply_rules(common_rules, in, text); }
bool apply_client_rules(rule_input& in, std::string* text) { return apply_rules(client_rules, in, text); }
bool apply_server_rules(rule_input& in, std::string* text) { return apply_rules(server_rules, in, text); }

}  // namespace wsbridge
