#include "bridge/cli/config.hpp"

#include <boost/algorithm/string/predicate.hpp>
#include <boost/program_options.hpp>
#include <algorithm>
#include <optional>
#include <string_view>
#include <unistd.h>

#include "bridge/cli/help.hpp"
#include "bridge/cli/option_rules.hpp"
#include "bridge/cli/option_values.hpp"
#include "bridge/cli/options.hpp"
#include "bridge/cli/other_spellings.hpp"
#include "bridge/protocol/close_codes.hpp"
#include "bridge/protocol/limits.hpp"
#include "bridge/common/safe_text.hpp"
#include "bridge/common/sandbox.hpp"
#include "bridge/common/version.hpp"

namespace po = boost::program_options;

namespace wsbridge {

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
  n.trusted_proxies = cfg.trusted_proxies;
  n.proxy_protocol = cfg.proxy_protocol;
  n.access_log = cfg.access_log || cfg.verbose;
  n.static_files = !cfg.static_dir.empty();
  n.dev_console = cfg.dev_console;
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
  // Server mode with --exec: no ioproc; netproc frames the program's pipes as ioproc
  // would (netproc/program_endpoint.hpp).
  if (cfg.server() && !cfg.exec.empty()) {
    n.frames_program = true;
    n.program_io = io_settings_of(cfg, peer);
  }
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
  io.program_uid = cfg.program_uid;
  io.program_gid = cfg.program_gid;
  return io;
}

namespace {

/// Everything after --exec is the program and its arguments, untouched (like `env` or
/// `sudo`): they may look like our own options. Returns the arguments left for us.
int take_program(int argc, const char* const* argv, config& cfg) {
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) != "--exec") continue;
    cfg.exec.assign(argv + i + 1, argv + argc);
    return i;
  }
  return argc;
}

/// Boost.Program_options over our arguments; false and *text on a malformed line.
bool parse_options(int argc, const char* const* argv, const option_table& table, po::variables_map& vm,
                   std::string* text) {
  po::options_description all;
  all.add(table.visible()).add(table.hidden);
  po::positional_options_description positional;
  positional.add("url", 1);
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
    *text = "unknown option " + safe_text(e.get_option_name()) + did_you_mean(e.get_option_name(), table.visible()) +
            " (see wsbridge --help)";
    return false;
  } catch (const po::error& e) {
    *text = safe_text(e.what()) + " (see wsbridge --help)";
    return false;
  }
  return true;
}

/// --help (-h: its first screen), --man-page, --completion and --version, if asked for.
std::optional<parse_outcome> pages(const po::variables_map& vm, const option_table& table,
                                   const option_values& values, bool short_help, std::string* text) {
  if (vm.count("help") || vm.count("man-page") || vm.count("completion")) {
    help_page page = wsbridge_help_page();
    for (const auto& [title, group] : table.titled()) page.groups.push_back({title, group});
    if (short_help && !vm.count("man-page") && !vm.count("completion")) {
      *text = format_short_help(page, table.visible());
    } else if (vm.count("man-page")) {
      *text = format_man_page(page, version_string);
    } else if (vm.count("completion")) {
      *text = format_completion(page, values.completion_shell);
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
  return std::nullopt;
}

}  // namespace

parse_outcome parse_command_line(int argc, const char* const* argv, config& cfg, std::string* text) {
  const int ours = take_program(argc, argv, cfg);
  if (ours < argc && cfg.exec.empty()) {
    *text = "--exec: expected a program to run (wsbridge URL --exec CMD [ARGS...])";
    return parse_outcome::error;
  }
  argc = ours;
  if (*text = other_tool_spelling(argc, argv); !text->empty()) return parse_outcome::error;
  option_table table;
  option_values values;
  make_option_table(table, values, cfg);
  cfg.max_redirects = limits::default_max_redirects;
  po::variables_map vm;
  if (!parse_options(argc, argv, table, vm, text)) return parse_outcome::error;
  // -h is the first screen; --help (or both) the whole list.
  const auto typed = [&](std::string_view word) {
    return std::any_of(argv + 1, argv + argc, [&](const char* a) { return word == a; });
  };
  if (const auto page = pages(vm, table, values, typed("-h") && !typed("--help"), text)) return *page;
  rule_input in{vm, values, cfg};
  if (!apply_common_rules(in, text)) return parse_outcome::error;
  const bool listening = vm.count("listen") > 0;
  if (!(listening ? apply_server_rules(in, text) : apply_client_rules(in, text))) return parse_outcome::error;
  collect_warnings(in);
  return parse_outcome::run;
}

}  // namespace wsbridge
