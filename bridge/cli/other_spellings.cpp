#include "bridge/cli/other_spellings.hpp"

#include <array>
#include <string_view>
#include <utility>

#include "bridge/common/safe_text.hpp"

namespace wsbridge {
namespace {

struct spelling {
  std::string_view option;  ///< as typed, without "=VALUE"
  std::string_view tool;
  std::string_view ours;    ///< the rest of the line
};

constexpr spelling spellings[] = {
    // websocketd
    {"--port", "websocketd", "--port PORT is --listen PORT here (wsbridge --listen 8080 --exec ./script)"},
    {"--address", "websocketd", "--address ADDR is --listen ADDR:PORT here"},
    {"--ssl", "websocketd", "--ssl is --tls-cert FILE [--tls-key FILE] here"},
    {"--sslcert", "websocketd", "--sslcert is --tls-cert here"},
    {"--sslkey", "websocketd", "--sslkey is --tls-key here"},
    {"--maxforks", "websocketd", "--maxforks is --max-connections here"},
    {"--loglevel", "websocketd", "--loglevel: -v adds each connection's log line and headers, -q says less"},
    {"--passenv", "websocketd", "--passenv is not needed: the program inherits wsbridge's whole environment"},
    {"--sameorigin", "websocketd", "--sameorigin is --same-origin here"},
    // websocat
    {"-t", "websocat", "-t: text messages are the default here (--binary for binary)"},
    {"--text", "websocat", "--text: text messages are the default here (--binary for binary)"},
    {"-b", "websocat", "-b is --binary here"},
    {"-E", "websocat", "-E: wsbridge closes at the end of input already (-n keeps the connection open)"},
    {"--exit-on-eof", "websocat", "--exit-on-eof: wsbridge closes at the end of input already"},
    {"--oneshot", "websocat", "--oneshot: --listen without --exec serves one connection; -1 closes after one message"},
    // wscat
    {"-o", "wscat", "-o is --origin here (curl's -o FILE: redirect stdout, > FILE)"},
    {"--slash", "wscat", "--slash is not needed: commands start with / already (/ping, /close, /binary)"},
    // curl
    {"--max-time", "curl", "--max-time is --timeout SECONDS here (that long after the connection opened; "
                           "--connect-timeout bounds connecting)"},
    {"-m", "curl", "-m is --timeout SECONDS here (that long after the connection opened; --connect-timeout "
                   "bounds connecting)"},
    {"--compressed", "curl", "--compressed: permessage-deflate is offered by default (--no-compress to not)"},
};

/// websocat's endpoint specifiers, in place of a URL.
constexpr std::array<std::pair<std::string_view, std::string_view>, 5> specifiers{{
    {"ws-l:", "ws-l:ADDR is --listen ADDR here"},
    {"l-ws:", "l-ws:ADDR is --listen ADDR here"},
    {"cmd:", "cmd:COMMAND is --exec sh -c COMMAND here (last on the line)"},
    {"sh-c:", "sh-c:COMMAND is --exec sh -c COMMAND here (last on the line)"},
    {"exec:", "exec:PROGRAM is --exec PROGRAM here (last on the line)"},
}};

/// curl's flags glued after -s ("-sS", "-sSL"): -s takes a subprotocol here, and the
/// cluster would silently become subprotocol "S".
bool curl_flag_cluster(std::string_view arg) {
  if (arg.size() < 3 || !arg.starts_with("-s")) return false;
  return arg.substr(2).find_first_not_of("SLkfivNI") == std::string_view::npos;
}

}  // namespace

std::string other_tool_spelling(int argc, const char* const* argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--exec") break;  // the program's own arguments follow
    const std::string_view name = arg.substr(0, arg.find('='));
    for (const spelling& s : spellings)
      if (name == s.option) return std::string(s.tool) + "'s " + std::string(s.ours);
    if (curl_flag_cluster(arg))
      return safe_text(arg) + ": curl's -s and -S are -q here (-s NAME offers a subprotocol)";
    for (const auto& [prefix, ours] : specifiers)
      if (arg.starts_with(prefix)) return "websocat's " + std::string(ours);
  }
  return {};
}

}  // namespace wsbridge
