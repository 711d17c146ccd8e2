#include "bridge/cli/help.hpp"

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
  out += ".SH \"SEE ALSO\"\n/usr/share/doc/wsbridge has the README and docs/: the guide, the architecture and sandbox, performance, testing.\n";
  return out;
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
  return page;
}

}  // namespace wsbridge
