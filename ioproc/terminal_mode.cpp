#include "ioproc/terminal_mode.hpp"

// libedit (BSD licence, compatible with the Boost licence; GNU readline's GPL is not)
// through its readline-compatible interface. Its key source (rl_getc_function) is our
// poll() loop, so messages from netproc and window resizes are handled while libedit
// waits for a key. (Its callback interface, rl_callback_read_char, was tried first: it
// mangles escape sequences such as the arrow keys when they arrive byte by byte.)
#include <editline/readline.h>

#include <cerrno>
#include <chrono>
#include <clocale>
#include <cstdio>
#include <cstdlib>
#include <csignal>
#include <map>
#include <poll.h>
#include <string>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bridge/protocol/close_codes.hpp"
#include "bridge/protocol/exit_codes.hpp"
#include "bridge/common/fd_util.hpp"
#include "bridge/protocol/ipc.hpp"
#include "bridge/protocol/limits.hpp"
#include "bridge/protocol/child_fd.hpp"
#include "bridge/common/safe_text.hpp"
#include "bridge/framing/display.hpp"
#include "ioproc/net_frames.hpp"

namespace wsbridge {
namespace {

constexpr const char* prompt = "> ";

/// The key our key source gives libedit when the screen needs the line editor's state
/// while the user types (messages to show above the input line, the session ending). It
/// is bound to on_screen_key(): libedit's readline layer brings rl_line_buffer,
/// rl_point and rl_end up to date only before it calls a bound function (it keeps the
/// line as wide characters). Ctrl+_ is unbound in libedit's emacs map; typed, it is
/// dropped.
constexpr int screen_key = 0x1f;

const char* help_text =
    "Lines you type are sent as text messages. Commands:\n"
    "  /ping [data]              send a ping and show the pong's round-trip time\n"
    "  /close [code [reason]]    close the connection (default 1000)\n"
    "  /binary HEX               send a binary message, e.g. /binary 00ff10\n"
    "  /last                     show the last message received in full (binary: a hex dump)\n"
    "  /reconnect                with --reconnect: close this connection and make a new one\n"
    "  /help                     show this help\n"
    "  //text                    send \"/text\" (a line starting with one slash)\n"
    "Ctrl+D closes the connection cleanly; Ctrl+C too, at once (twice: leave without waiting).\n";

/// Colours for a terminal; all empty with --no-color or NO_COLOR (no-color.org).
struct palette {
  std::string status, incoming, error, reset;
  explicit palette(bool on) {
    if (!on) return;
    status = "\x1b[36m";    // cyan
    incoming = "\x1b[32m";  // green "<"
    error = "\x1b[31m";     // red
    reset = "\x1b[0m";
  }
};

/// Parses "00ff10" (spaces allowed). Returns false on anything else.
bool parse_hex(std::string_view s, std::string& out) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string digits;
  for (char c : s)
    if (c != ' ') digits += c;
  if (digits.size() % 2) return false;
  for (std::size_t i = 0; i < digits.size(); i += 2) {
    const int hi = nibble(digits[i]), lo = nibble(digits[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out += static_cast<char>(hi << 4 | lo);
  }
  return true;
}

/// The history file: $XDG_STATE_HOME/wsbridge/history, else ~/.local/state/wsbridge/history.
std::string history_path() {
  std::string dir;
  if (const char* x = std::getenv("XDG_STATE_HOME"); x && *x) dir = x;
  else if (const char* h = std::getenv("HOME"); h && *h) dir = std::string(h) + "/.local/state";
  else return {};
  dir += "/wsbridge";
  for (std::size_t slash = dir.find('/', 1); slash != std::string::npos; slash = dir.find('/', slash + 1))
    ::mkdir(dir.substr(0, slash).c_str(), 0700);  // mkdir -p; EEXIST is fine
  ::mkdir(dir.c_str(), 0700);
  return dir + "/history";
}


/// The interactive client: a line editor at the bottom, messages printed above it.
class terminal_session {
 public:
  terminal_session(const io_settings& cfg, status_board& board)
      : cfg_(cfg), board_(board), colors_(cfg.color && !std::getenv("NO_COLOR")),
        log_fd_(!cfg.log ? -1 : child_fd::log) {}

  int run() {
    active_ = this;
    // Resizes, and Ctrl+C: the terminal sends SIGINT to all of us, and the supervisor
    // closes the connection; we only tidy the screen. (It is ignored, as in every
    // child, but a blocked signal is queued all the same, so the signalfd sees it.
    // run_ioproc blocked both in every thread.)
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGWINCH);
    sigaddset(&signals, SIGINT);
    signal_fd_.reset(::signalfd(-1, &signals, SFD_CLOEXEC | SFD_NONBLOCK));
    if (log_fd_ >= 0) log_line('#', "session started: " + safe_text(cfg_.display));
    if (cfg_.history) history_file_ = history_path();

    // A server's terminal session starts once a client has connected: its upgrade is
    // what is under way, not a connection of ours.
    print_status((cfg_.server() ? "Accepting " : "Connecting to ") + safe_text(cfg_.display) + " ...");
    while (!done_ && !opened_) wait_for_input(/*keys=*/false);
    if (opened_ && !done_) edit_lines();
    while (!done_) wait_for_input(false);  // after Ctrl+D: until the close is reported
    return status_;
  }

  /// The line editor's loop: libedit's blocking readline(), with our key source
  /// (getc_hook) that also handles messages and resizes while it waits for a key.
  void edit_lines() {
    std::setlocale(LC_CTYPE, "");  // libedit decodes and encodes UTF-8 by the locale
    rl_catch_signals = 0;          // the supervisor owns signals
    rl_catch_sigwinch = 0;
    rl_getc_function = [](FILE*) { return active_->getc_hook(); };
    using_history();  // initialises the readline layer, which rl_add_defun needs
    rl_add_defun("wsbridge-screen", [](int, int) { return active_->on_screen_key(); }, screen_key);
    if (!history_file_.empty()) read_history(history_file_.c_str());
    while (!done_) {
      editing_ = true;
      char* line = input_ended_ ? nullptr : readline(prompt);
      editing_ = false;
      if (input_ended_) {
        std::free(line);
        line = nullptr;
      }
      if (done_ || line_left_) {  // the connection ended, or Ctrl+C: the line is not sent
        std::free(line);
        break;
      }
      on_line(line);
      if (closing_) break;
    }
  }

  /// Waits for a key (when `keys`), a frame from netproc, or a resize; handles the
  /// latter two. Returns true when a key is ready.
  bool wait_for_input(bool keys) {
    pollfd fds[3] = {{child_fd::peer_in, POLLIN, 0},
                     {keys ? STDIN_FILENO : -1, POLLIN, 0},
                     {signal_fd_.get(), POLLIN, 0}};
    if (::poll(fds, 3, -1) < 0) return false;
    if (fds[2].revents & POLLIN) on_signals();
    if (fds[0].revents & (POLLIN | POLLHUP)) on_frames();
    return fds[1].revents & (POLLIN | POLLHUP);
  }

  /// libedit's source of keys: one code point, or -1 at end of input. UTF-8 is decoded
  /// here because libedit's readline layer takes what this returns as one character.
  int getc_hook() {
    for (;;) {
      if (line_left_) return -1;  // readline() returns; edit_lines() sees line_left_
      if (!pending_.empty() || done_ || interrupted_) return screen_key;
      if (!wait_for_input(true)) continue;
      unsigned char b[4];
      if (read_some(STDIN_FILENO, reinterpret_cast<char*>(b), 1) != 1) {
        // End of input: a Ctrl+D the terminal took before libedit switched it to raw
        // mode, or a hangup. Either way the user is done typing.
        input_ended_ = true;
        return -1;
      }
      const int len = std::max(utf8_sequence_length(b[0]), 1);  // a stray byte stands alone
      int cp = len == 1 ? b[0] : b[0] & (0x3f >> (len - 1));
      for (int i = 1; i < len; ++i) {
        if (read_some(STDIN_FILENO, reinterpret_cast<char*>(b + i), 1) != 1) return -1;
        cp = (cp << 6) | (b[i] & 0x3f);
      }
      if (cp != screen_key) return cp;
    }
  }

  /// libedit calls this for screen_key, with the line editor's state up to date: shows
  /// what waits above the input line, then redraws the line; or, once the session is
  /// over (closed, or Ctrl+C), leaves the half-typed line in sight, marked, as a shell
  /// does, and ends readline(): the prompt does not come back, nothing can be sent.
  int on_screen_key() {
    std::string s = to_input_start() + pending_;
    pending_.clear();
    if (!done_ && !interrupted_) {
      write_all(STDOUT_FILENO, s);
      rl_forced_update_display();
      return 0;
    }
    if (interrupted_) s += std::string(prompt) + typed_text() + "^C\n";
    else if (rl_end > 0) s += prompt + typed_text() + colors_.error + " (not sent: the connection closed)" + colors_.reset + "\n";
    line_left_ = true;
    write_all(STDOUT_FILENO, s);
    rl_done = 1;
    if (interrupted_ && opened_ && !done_) print_status("Interrupted: closing (Ctrl+C again leaves at once)");
    return 0;
  }

  /// Each finished line, or nullptr at Ctrl+D on an empty line.
  void on_line(char* raw) {
    if (!raw) {
      // The prompt line (libedit may have echoed ^D on it) gives way to the status.
      write_all(STDOUT_FILENO, std::string_view("\r\x1b[K"));
      print_status("Closing ...");
      send_frame(ipc::frame_type::input_end, ipc::input_end_close_now);
      closing_ = true;  // nothing more can be typed; wait for the close to be reported
      return;
    }
    std::string line(raw);
    std::free(raw);
    if (!line.empty()) {
      add_history(line.c_str());
      if (!history_file_.empty()) write_history(history_file_.c_str());
    }
    if (line.starts_with("//")) return send_text(line.substr(1));
    if (line.starts_with("/")) return command(line);
    send_text(line);
  }

 private:
  // ---- what the user typed ---------------------------------------------------------

  void send_text(const std::string& text) {
    log_message('>', cfg_.encoding == payload_encoding::binary ? ipc::frame_type::binary : ipc::frame_type::text, text);
    board_.input_messages.fetch_add(1, std::memory_order_relaxed);
    send_frame(cfg_.encoding == payload_encoding::binary ? ipc::frame_type::binary : ipc::frame_type::text, text);
  }

  void command(const std::string& line) {
    const auto space = line.find(' ');
    const std::string name = line.substr(0, space);
    const std::string arg = space == std::string::npos ? "" : line.substr(space + 1);
    if (name == "/help") {
      print_above(help_text);
    } else if (name == "/ping") {
      pings_[arg] = std::chrono::steady_clock::now();
      log_line('>', "ping" + (arg.empty() ? "" : " \"" + safe_text(arg) + "\""));
      send_frame(ipc::frame_type::ping, arg);
    } else if (name == "/close") {
      ipc::close_info c{close_normal, false, ""};
      if (!arg.empty()) {
        const auto sp = arg.find(' ');
        char* end = nullptr;
        const long code = std::strtol(arg.c_str(), &end, 10);
        const bool valid = end && (*end == '\0' || *end == ' ') && sendable_close_code(code);
        if (!valid) return print_error("/close: the code must be 1000-1003, 1007-1014 or 3000-4999");
        c.code = static_cast<std::uint16_t>(code);
        if (sp != std::string::npos) c.reason = arg.substr(sp + 1, limits::max_close_reason);
      }
      send_frame(ipc::frame_type::close_request, ipc::encode_close(c));
    } else if (name == "/binary") {
      std::string bytes;
      if (!parse_hex(arg, bytes)) return print_error("/binary: expected hex digits, e.g. /binary 00ff10");
      log_message('>', ipc::frame_type::binary, bytes);
      board_.input_messages.fetch_add(1, std::memory_order_relaxed);
      send_frame(ipc::frame_type::binary, bytes);
    } else if (name == "/reconnect") {
      if (!cfg_.reconnect) return print_error("/reconnect: start wsbridge with --reconnect");
      // The supervisor reads the flag when this netproc has gone, and starts the next.
      board_.reconnect_requested.store(1, std::memory_order_relaxed);
      send_frame(ipc::frame_type::close_request, ipc::encode_close({close_normal, false, "reconnecting"}));
    } else if (name == "/last") {
      if (!have_last_) return print_error("/last: no message has arrived yet");
      const std::string kind = last_type_ == ipc::frame_type::binary ? "binary" : "text";
      std::string shown = "Last message (" + kind + ", " + count_text(last_.size(), "byte") + "):\n";
      if (last_type_ == ipc::frame_type::binary) shown += hex_dump(last_);
      else append_safe_text(shown, last_, /*keep_newlines=*/true), shown += '\n';
      print_above(shown);
    } else {
      print_error("unknown command " + safe_text(name) + "; /help lists them (// sends a line starting with /)");
    }
  }

  void send_frame(ipc::frame_type type, std::string_view payload) {
    std::string frame;
    ipc::append_frame(frame, type, payload);
    // EPIPE: netproc is gone; its `closed` frame, or the supervisor, says why.
    if (write_all(child_fd::peer_out, frame) != 0) print_error("the network process is gone; not sent");
  }

  // ---- what netproc sent -------------------------------------------------------------

  void on_frames() {
    std::string out;  // everything from this read is printed in one go
    std::string err;
    const auto r = reader_.read_once([&](const ipc::frame& f) { return on_frame(f, out); }, &err);
    if (r == net_reader::result::gone) {  // netproc died; the supervisor reports it
      status_ = exit_process_died;
      done_ = true;
    } else if (r == net_reader::result::broken) {
      out += colors_.error + "wsbridge: " + err + colors_.reset + "\n";
      status_ = exit_failure;
      done_ = true;
    }
    if (!out.empty()) print_above(out);
  }

  /// One frame from netproc, shown in `out`; false once the session is over.
  bool on_frame(const ipc::frame& f, std::string& out) {
    switch (f.type) {
      case ipc::frame_type::text:
      case ipc::frame_type::binary:
        out += stamp() + colors_.incoming + "<" + colors_.reset + " ";
        append_for_terminal(out, f.type, f.payload);
        out += '\n';
        log_message('<', f.type, f.payload);
        last_.assign(f.payload);
        last_type_ = f.type;
        have_last_ = true;
        board_.output_messages.fetch_add(1, std::memory_order_relaxed);
        break;
      case ipc::frame_type::opened:
        out += stamp() + colors_.status + connected_text(f.payload) + colors_.reset + "\n";
        log_line('#', "connected: " + safe_text(f.payload.substr(0, f.payload.find('\n'))));
        opened_ = true;
        break;
      case ipc::frame_type::pong:
        log_line('<', "pong" + (f.payload.empty() ? "" : " \"" + safe_text(f.payload) + "\""));
        out += stamp() + colors_.status + pong_text(f.payload) + colors_.reset + "\n";
        break;
      case ipc::frame_type::notice:
        log_line('#', safe_text(f.payload));
        out += stamp() + colors_.error + "wsbridge: " + safe_text(f.payload) + colors_.reset + "\n";
        break;
      case ipc::frame_type::closed:
        on_closed(f.payload, out);
        break;
      default:  // the reader has refused every other type
        break;
    }
    return !done_;
  }

  std::string connected_text(std::string_view info) const {
    // Payload: "subprotocol\nextensions" (then, in server mode with --exec only, the
    // program's environment, ipc.hpp).
    const auto nl = info.find('\n');
    const std::string protocol = safe_text(info.substr(0, nl));
    const std::string_view rest = nl == std::string_view::npos ? std::string_view() : info.substr(nl + 1);
    const std::string extensions = safe_text(extension_names(rest.substr(0, rest.find('\n'))));
    std::string s = (opened_ ? "Reconnected to " : "Connected to ") + safe_text(cfg_.display);
    if (!protocol.empty()) s += " (subprotocol " + protocol + ")";
    if (!extensions.empty()) s += " (extensions " + extensions + ")";
    return s + ".\nType /help for commands.";  // its own line: the first one may be long
  }

  std::string pong_text(std::string_view data) {
    std::string s = "pong";
    if (!data.empty()) s += " \"" + safe_text(data) + "\"";
    if (auto it = pings_.find(std::string(data)); it != pings_.end()) {
      const auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() -
                                                                            it->second).count();
      char buf[48];
      std::snprintf(buf, sizeof buf, " in %.1f ms", static_cast<double>(us) / 1000.0);
      s += buf;
      pings_.erase(it);
    }
    return s;
  }

  void on_closed(std::string_view payload, std::string& out) {
    done_ = true;
    ipc::close_info c;
    std::string err;
    if (!ipc::decode_close(payload, c, &err)) {
      status_ = exit_failure;
      return;
    }
    status_ = exit_ok;
    // Never opened: netproc's notice said why, and its exit status is the one that counts.
    if (!board_.opened.load(std::memory_order_relaxed)) return;
    if (c.code != 0 && c.code != close_abnormal) {
      std::string text = close_text(c, cfg_.peer_name());  // "connection closed ..." -> "Connection closed ..."
      text[0] = 'C';
      out += stamp() + colors_.status + text + "." + colors_.reset + "\n";
      log_line('#', text);
    }
    const std::string undelivered = undelivered_text(board_, "typed line");
    if (!undelivered.empty()) {
      out += stamp() + colors_.error + "wsbridge: " + undelivered + colors_.reset + "\n";
      log_line('#', undelivered);
      status_ = exit_undelivered;
    }
  }

  // ---- the screen ----------------------------------------------------------------------

  /// Prints `text` (whole lines) above the input line, then redraws the prompt and the
  /// half-typed line with the cursor where it was.
  void print_above(const std::string& text) {
    if (!editing_ || line_left_) {
      write_all(STDOUT_FILENO, text);
      return;
    }
    pending_ += text;  // getc_hook() hands libedit screen_key, and on_screen_key() shows it
  }

  /// Moves to the first row of the input line (it may wrap) and clears to the end of
  /// the screen. Only in on_screen_key(), where rl_point is up to date.
  std::string to_input_start() const {
    winsize ws{};
    const int cols = ::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col ? ws.ws_col : 80;
    const std::size_t cursor = std::char_traits<char>::length(prompt) + display_width(rl_line_buffer, rl_point);
    std::string s = "\r";
    if (const std::size_t up = cursor / static_cast<std::size_t>(cols); up > 0) s += "\x1b[" + std::to_string(up) + "A";
    return s + "\x1b[J";
  }

  /// The half-typed line, escaped. Only in on_screen_key().
  static std::string typed_text() {
    return rl_line_buffer && rl_end > 0 ? safe_text(std::string_view(rl_line_buffer, static_cast<std::size_t>(rl_end)))
                                        : std::string();
  }

  /// Ctrl+C: the supervisor closes the connection (or ends the session at once, before
  /// it is open, or on a second Ctrl+C); we tidy the screen (on_screen_key()).
  void on_interrupt() {
    if (done_ || interrupted_) return;
    interrupted_ = true;
    log_line('#', "interrupted");
    if (!editing_ && opened_) print_status("Interrupted: closing (Ctrl+C again leaves at once)");
  }

  /// --timestamps: the local time before each line shown, else nothing.
  std::string stamp() const { return cfg_.timestamps ? time_text(/*utc=*/false) : std::string(); }

  /// --log: one line of the transcript: time, direction ('>' sent, '<' received, '#'
  /// an event), text. A write that fails is not worth ending the session for.
  void log_line(char direction, const std::string& text) {
    if (log_fd_ < 0) return;
    write_all(log_fd_, time_text(/*utc=*/true) + " " + direction + " " + text + "\n");
  }

  /// A message in the transcript: text escaped to one line, binary as hex, whole.
  void log_message(char direction, ipc::frame_type type, std::string_view payload) {
    if (log_fd_ < 0) return;
    std::string text;
    if (type == ipc::frame_type::binary) {
      text = "(binary, " + count_text(payload.size(), "byte") + ")" + (payload.empty() ? "" : " ");
      for (const char c : payload) append_hex(text, static_cast<unsigned char>(c));
    } else {
      append_safe_text(text, payload, /*keep_newlines=*/false);
    }
    log_line(direction, text);
  }

  static std::size_t display_width(const char* line, int bytes) {
    std::size_t w = 0;
    for (int i = 0; line && i < bytes; ++i)
      if (!is_utf8_continuation(static_cast<unsigned char>(line[i]))) ++w;  // count UTF-8 lead bytes
    return w;
  }

  void print_status(const std::string& text) { print_above(stamp() + colors_.status + text + colors_.reset + "\n"); }
  void print_error(const std::string& text) {
    print_above(stamp() + colors_.error + "wsbridge: " + text + colors_.reset + "\n");
  }

  void on_signals() {
    signalfd_siginfo si;
    bool resized = false;
    while (::read(signal_fd_.get(), &si, sizeof si) == sizeof si) {
      if (si.ssi_signo == SIGINT) on_interrupt();
      else resized = true;
    }
    if (resized && editing_ && !line_left_) rl_resize_terminal();
  }

  /// The session libedit's callbacks act on: they are plain C functions that carry no
  /// context of their own, and a process has one terminal session.
  static inline terminal_session* active_ = nullptr;

  const io_settings& cfg_;
  status_board& board_;
  palette colors_;
  unique_fd signal_fd_;  ///< SIGWINCH and SIGINT
  int log_fd_;           ///< --log: child_fd::log; else -1
  std::string history_file_;
  net_reader reader_{cfg_.reconnect};  ///< netproc's frames, checked against the phase
  std::map<std::string, std::chrono::steady_clock::time_point> pings_;  ///< by payload
  bool editing_ = false;  ///< inside readline(): the editor owns the input line
  bool line_left_ = false;  ///< the input line was left on screen for good (closed, Ctrl+C)
  bool interrupted_ = false;  ///< Ctrl+C
  std::string pending_;       ///< to show above the input line (on_screen_key())
  std::string last_;      ///< /last: the last message received ...
  ipc::frame_type last_type_ = ipc::frame_type::text;  ///< ... its type ...
  bool have_last_ = false;                             ///< ... if any
  bool opened_ = false;
  bool closing_ = false;  ///< Ctrl+D: waiting for the close to be reported
  bool input_ended_ = false;  ///< the terminal gave end of input
  bool done_ = false;
  int status_ = exit_ok;
};

}  // namespace

extern "C" __attribute__((visibility("default"))) int wsbridge_terminal_mode(const io_settings& cfg, status_board& board) {
  terminal_session s(cfg, board);
  return s.run();
}

}  // namespace wsbridge
