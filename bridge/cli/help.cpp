#include "bridge/cli/help.hpp"

#include <boost/make_shared.hpp>

#include <boost/program_options/cmdline.hpp>
#include <boost/program_options/value_semantic.hpp>
#include <sstream>

#include "bridge/cli/option_values.hpp"
#include "bridge/protocol/limits.hpp"

namespace po = boost::program_options;

namespace wsbridge {
namespace {

constexpr std::size_t width = 80;
constexpr std::size_t description_column = 30;

/// One option as every format shows it.
struct option_view {
  std::string short_name;  ///< "-H", or ""
  std::string long_name;   ///< "--header", or ""
  std::string value;       ///< "NAME:VALUE", or "" for a switch
  std::string description;
  bool repeatable = false;
};

option_view view_of(const po::option_description& o) {
  option_view v;
  // With this style Program_options gives "-H" for an option that has a short name.
  const std::string shortest = o.canonical_display_name(po::command_line_style::allow_dash_for_short);
  if (shortest.size() == 2 && shortest[0] == '-') v.short_name = shortest;
  if (!o.long_name().empty()) v.long_name = "--" + o.long_name();
  if (o.semantic()->max_tokens() > 0) v.value = o.semantic()->name();
  v.description = o.description();
  v.repeatable = o.semantic()->is_composing();
  return v;
}

std::vector<option_view> options_of(const po::options_description& group) {
  std::vector<option_view> out;
  for (const auto& o : group.options()) out.push_back(view_of(*o));
  return out;
}

/// `text` wrapped into lines of at most `columns`, at spaces.
std::vector<std::string> wrap(const std::string& text, std::size_t columns) {
  std::vector<std::string> lines(1);
  std::istringstream words(text);
  for (std::string word; words >> word;) {
    if (!lines.back().empty() && lines.back().size() + 1 + word.size() > columns) lines.emplace_back();
    if (!lines.back().empty()) lines.back() += ' ';
    lines.back() += word;
  }
  return lines;
}

/// "-H, --header NAME:VALUE" (curl's layout: the short name first, when there is one).
std::string left_column(const option_view& v) {
  std::string s = v.short_name;
  if (!v.long_name.empty()) s += (s.empty() ? "" : ", ") + v.long_name;
  if (!v.value.empty()) s += (v.value.starts_with("[=") ? "" : " ") + v.value;  // "--reconnect[=N]"
  return s;
}

/// man(7) text: a backslash is \e, a leading dot or quote would be a request, "-" is
/// a hyphen unless written \-.
std::string roff(const std::string& text) {
  std::string out;
  for (const char c : text) {
    if (c == '\\') out += "\\e";
    else if (c == '-') out += "\\-";
    else out += c;
  }
  if (!out.empty() && (out[0] == '.' || out[0] == '\'')) out.insert(0, "\\&");
  return out;
}

/// A file name is expected: complete one.
bool takes_file(const option_view& v) { return v.value == "FILE" || v.value == "PATH"; }

/// zsh's _arguments description: [ ] and : are its syntax, ' ends our quoting.
std::string zsh_text(const std::string& text) {
  std::string first = text.substr(0, text.find_first_of(";("));
  while (!first.empty() && first.back() == ' ') first.pop_back();
  std::string out;
  for (const char c : first) {
    if (c == '[' || c == ']' || c == ':' || c == '\\') out += '\\';
    if (c == '\'') out += "'\\''";
    else out += c;
  }
  return out;
}

}  // namespace

std::string format_help(const help_page& page) {
  std::string out;
  for (std::size_t i = 0; i < page.usage.size(); ++i) out += (i == 0 ? "usage: " : "       ") + page.usage[i] + "\n";
  out += "\n";
  for (const std::string& line : wrap(page.summary, width - 1)) out += line + "\n";
  for (const auto& group : page.groups) {
    out += "\n" + group.title + ":\n";
    for (const option_view& v : options_of(*group.options)) {
      std::string line = "  " + left_column(v);
      const std::vector<std::string> text = wrap(v.description, width - 1 - description_column);
      // A long left column puts the description on the next line.
      if (line.size() + 2 > description_column) {
        out += line + "\n";
        line.clear();
      }
      for (const std::string& t : text) {
        line.resize(description_column, ' ');
        out += line + t + "\n";
        line.clear();
      }
    }
  }
  for (const auto& section : page.sections) {
    out += "\n" + section.title + ":\n";
    std::istringstream paragraphs(section.text);
    std::string paragraph, line;
    const auto flush = [&] {
      if (paragraph.empty()) return;
      for (const std::string& l : wrap(paragraph, width - 3)) out += "  " + l + "\n";
      paragraph.clear();
    };
    while (std::getline(paragraphs, line)) {
      if (line.empty()) {
        flush();
        out += "\n";
      } else {
        paragraph += (paragraph.empty() ? "" : " ") + line;
      }
    }
    flush();
  }
  return out;
}

std::string format_man_page(const help_page& page, const std::string& version) {
  // No date in .TH: the page is the same for every build of one version.
  std::string out = ".\\\" Written by wsbridge --man-page from the text of --help; do not edit.\n"
                    ".TH WSBRIDGE 1 \"\" \"wsbridge " + roff(version) + "\" \"User Commands\"\n"
                    ".SH NAME\n"
                    "wsbridge \\- a WebSocket client and server for terminals, pipes and programs\n"
                    ".SH SYNOPSIS\n";
  for (const std::string& usage : page.usage) out += ".br\n" + roff(usage) + "\n";
  out += ".SH DESCRIPTION\n" + roff(page.summary) + "\n.SH OPTIONS\n";
  for (const auto& group : page.groups) {
    out += ".SS " + roff(group.title) + "\n";
    for (const option_view& v : options_of(*group.options)) {
      out += ".TP\n";
      std::string names = v.short_name.empty() ? "" : "\\fB" + roff(v.short_name) + "\\fR";
      if (!v.long_name.empty()) names += (names.empty() ? "" : ", ") + std::string("\\fB") + roff(v.long_name) + "\\fR";
      if (!v.value.empty()) names += (v.value.starts_with("[=") ? "\\fI" : " \\fI") + roff(v.value) + "\\fR";
      out += names + "\n" + roff(v.description) + "\n";
    }
  }
  for (const auto& section : page.sections) {
    std::string title = section.title;
    for (auto& c : title) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    out += ".SH \"" + roff(title) + "\"\n";
    std::istringstream lines(section.text);
    for (std::string line; std::getline(lines, line);) out += line.empty() ? ".PP\n" : roff(line) + "\n";
  }
  for (const auto& section : page.manual_sections) {
    std::string title = section.title;
    for (auto& c : title) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    out += ".SH \"" + roff(title) + "\"\n";
    std::istringstream lines(section.text);
    for (std::string line; std::getline(lines, line);) {
      if (line.empty()) out += ".PP\n";
      else if (line.starts_with("  ")) out += ".nf\n.RS 4\n" + roff(line.substr(2)) + "\n.RE\n.fi\n";
      else out += roff(line) + "\n";
    }
  }
  return out;
}

std::string format_short_help(const help_page& page, const boost::program_options::options_description& table) {
  std::string out;
  for (std::size_t i = 0; i < page.usage.size(); ++i) out += (i == 0 ? "usage: " : "       ") + page.usage[i] + "\n";
  out += "\nMost used (each on one line; wsbridge --help has them all, grouped):\n";
  // The options a first session reaches for, each with its description's first clause.
  boost::program_options::options_description most;
  for (const char* name : {"verbose", "quiet", "header", "subprotocol", "execute", "-1", "no-close", "timeout",
                           "binary", "length-prefixed", "reconnect", "exec", "listen"})
    if (const auto* found = table.find_nothrow(name, false))
      most.add(boost::make_shared<boost::program_options::option_description>(*found));
  for (const option_view& v : options_of(most)) {
    std::string line = "  " + left_column(v);
    line.resize(std::max(line.size() + 1, description_column), ' ');
    std::string text = v.description.substr(0, v.description.find(';'));
    while (!text.empty() && text.back() == ' ') text.pop_back();
    if (line.size() + text.size() > width - 1) text = text.substr(0, width - 4 - line.size()) + "...";
    out += line + text + "\n";
  }
  return out + "\nAll options: wsbridge --help. The manual, with examples: man wsbridge.\n";
}

std::string format_completion(const help_page& page, const std::string& shell) {
  std::vector<option_view> all;
  for (const auto& group : page.groups)
    for (option_view& v : options_of(*group.options)) all.push_back(std::move(v));
  std::string out;
  if (shell == "bash") {
    std::string words, file_options, value_options;
    for (const option_view& v : all) {
      for (const std::string* name : {&v.short_name, &v.long_name}) {
        if (name->empty()) continue;
        words += (words.empty() ? "" : " ") + *name;
        if (v.value.empty() || v.long_name == "--exec" || v.value.starts_with("[=")) continue;
        std::string& list = takes_file(v) ? file_options : value_options;
        list += (list.empty() ? "" : "|") + *name;
      }
    }
    out = "# bash completion for wsbridge. Written by wsbridge --completion bash; do not edit.\n"
          "_wsbridge() {\n"
          "  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} i\n"
          "  # After --exec, the words are a command and its arguments.\n"
          "  for ((i = 1; i < COMP_CWORD; i++)); do\n"
          "    if [[ ${COMP_WORDS[i]} == --exec ]]; then\n"
          "      if declare -F _command_offset >/dev/null; then _command_offset $((i + 1));\n"
          "      else COMPREPLY=($(compgen -c -- \"$cur\")); fi\n"
          "      return\n"
          "    fi\n"
          "  done\n"
          "  case $prev in\n"
          "    " + file_options + ") COMPREPLY=($(compgen -f -- \"$cur\")); return ;;\n"
          "    " + value_options + ") return ;;\n"
          "  esac\n"
          "  if [[ $cur == -* ]]; then COMPREPLY=($(compgen -W '" + words + "' -- \"$cur\")); fi\n"
          "}\n"
          "complete -F _wsbridge wsbridge\n";
  } else if (shell == "zsh") {
    out = "#compdef wsbridge\n# zsh completion for wsbridge. Written by wsbridge --completion zsh; do not edit.\n"
          "_arguments -s -S \\\n";
    for (const option_view& v : all) {
      std::vector<std::string> names;
      for (const std::string* name : {&v.short_name, &v.long_name})
        if (!name->empty()) names.push_back(*name);
      std::string spec = v.repeatable ? "*" : "";
      std::string names_text = names.size() == 1 ? names[0] : "{" + names[0] + "," + names[1] + "}";
      if (names.size() == 2 && !v.repeatable) spec = "(" + names[0] + " " + names[1] + ")";
      std::string tail = "[" + zsh_text(v.description) + "]";
      if (v.long_name == "--exec") tail += ":program:_command_names -e";
      else if (takes_file(v)) tail += ":" + zsh_text(v.value) + ":_files";
      else if (!v.value.empty() && !v.value.starts_with("[=")) tail += ":" + zsh_text(v.value) + ": ";
      out += "  " + (spec.empty() ? "" : "'" + spec + "'") + (names.size() == 2 ? names_text : names[0]) + "'" +
             tail + "' \\\n";
    }
    out += "  '1:URL:_urls'\n";
  }
  return out;
}

help_page wsbridge_help_page() {
  help_page page;
  page.usage = {"wsbridge [options] ws://HOST[:PORT][/PATH] [--exec CMD [ARGS...]]",
                "wsbridge [options] --listen [ADDR:]PORT [--exec CMD [ARGS...]]"};
  page.summary =
      "Connects to a WebSocket server. On a terminal, lines you type are sent and messages received are shown "
      "above your input. With stdin or stdout a pipe, each input line is sent as a text message and each message "
      "received is written as a line; at end of input wsbridge waits for replies (--linger), then closes the "
      "connection cleanly. A received message with line breaks spans several lines (a warning says so once); "
      "--escape-newlines, -0 or --length-prefixed keep exact boundaries. Durations take ms, s, m or h (500ms); "
      "sizes K, M or G (64K).";
  page.sections = {
      {"Exit status",
       "0 closed normally, 2 usage, 3 cannot connect, 4 handshake failed, 5 closed abnormally or with an error "
       "code, 6 input not fully delivered, 7 a wsbridge process died, 8 the server stopped answering pings, "
       "9 input refused (not UTF-8 text, bad base64 or length prefix, message too long), 10 fewer than "
       "--max-messages messages arrived, 1 other errors, 141 stdout's reader went away, 128+N interrupted by "
       "signal N. With --exec: the program's status if it failed."},
      {"--exec CMD [ARGS...]",
       "Each message received goes to the program's stdin, its stdout is framed into messages, its stderr is "
       "ours. The program starts once the connection is open, with WSBRIDGE_URL and WSBRIDGE_SUBPROTOCOL set. "
       "When the connection closes its stdin ends (SIGTERM after " + seconds(limits::exec_grace) +
       " s, SIGKILL " + seconds(limits::exec_grace) +
       " s later); when it ends its output, wsbridge closes the connection. A program whose output "
       "seems stuck may be holding it in a buffer: PYTHONUNBUFFERED=1, or stdbuf -oL CMD."},
      {"--listen [ADDR:]PORT",
       "A WebSocket server. With --exec every connection gets its own program, with the environment "
       "websocketd gives it (REMOTE_ADDR, PATH_INFO, QUERY_STRING, HTTP_<HEADER>, ...); it ends with Close 1000 "
       "(1011 if the program failed). Without --exec one connection is bridged to stdin/stdout (others get 503) "
       "and wsbridge exits when it ends. Ctrl+C closes every connection (1001)."},
  };
  page.manual_sections = {
      {"Examples",
       "An interactive session (on a terminal):\n"
       "  wsbridge wss://echo.example/chat\n\n"
       "Send a file's lines, one message each, and save the answers, one line each:\n"
       "  wsbridge ws://127.0.0.1:8080/ < questions.txt > answers.txt\n\n"
       "One JSON request with a deadline; exit 0 answered, 3 no connection, 4 refused, 10 no answer in time:\n"
       "  echo '{\"op\":\"status\"}' | wsbridge -1 --timeout 5 wss://api.example/ws\n\n"
       "Wrap a program: each message it receives is a line on its stdin, each line it writes a message:\n"
       "  wsbridge ws://host/feed --exec ./filter.py\n\n"
       "A websocketd replacement: each connection gets its own program, with websocketd's variables:\n"
       "  wsbridge --listen 8080 --exec ./count.sh\n\n"
       "A websockify-style bridge from noVNC (which asks for subprotocol binary) to a VNC server's TCP port:\n"
       "  wsbridge --listen 6080 --subprotocol binary --raw --binary --exec nc 127.0.0.1 5900\n\n"
       "Behind nginx (proxy_http_version 1.1; the Upgrade and Connection headers set), on loopback only:\n"
       "  wsbridge --listen 127.0.0.1:8080 --origin-allow https://app.example --exec ./app\n\n"
       "A log shipper that survives blips and server restarts, without losing or repeating a line:\n"
       "  tail -F app.log | wsbridge --reconnect ws://collector/ingest\n\n"
       "A TLS server:\n"
       "  wsbridge --listen 0.0.0.0:8443 --tls-cert cert.pem --tls-key key.pem --exec ./app"},
      {"Commands",
       "In the interactive client, a line that starts with / is a command: /ping [DATA] (shows the pong and "
       "its round trip), /close [CODE [REASON]], /binary HEX (a binary message), /last (the last message "
       "received in full, binary as a hex dump), /reconnect (with --reconnect: a new connection now), /help. "
       "//TEXT sends /TEXT."},
      {"Environment",
       "https_proxy, http_proxy, all_proxy (and their upper-case forms): the proxy, unless --proxy says "
       "otherwise; no_proxy: hosts reached directly (loopback always is).\n\n"
       "NO_COLOR: no colours in the interactive client.\n\n"
       "XDG_STATE_HOME: where the history is kept (below).\n\n"
       "A --exec program gets wsbridge's environment, then WSBRIDGE_SUBPROTOCOL, and as a client's "
       "WSBRIDGE_URL (without a password); as a server's, websocketd's CGI variables (REMOTE_ADDR, "
       "REMOTE_PORT, SERVER_NAME, SERVER_PORT, PATH_INFO, QUERY_STRING, REQUEST_URI, HTTP_<HEADER>, ...; "
       "never HTTP_PROXY) and WSBRIDGE_REMOTE."},
      {"Files",
       "$XDG_STATE_HOME/wsbridge/history (default ~/.local/state/wsbridge/history): the interactive "
       "client's history, unless --no-history.\n\n"
       "wsbridge-tls.so and wsbridge-term.so, beside the program or in its library directory: the TLS "
       "module (wss://) and the line editor module (the interactive client), loaded only when needed."},
      {"See also",
       "websocat(1), websocketd(1), curl(1). /usr/share/doc/wsbridge has the README and docs/: the guide, "
       "the architecture and sandbox, performance, and testing."},
  };
  return page;
}

}  // namespace wsbridge
