#include "ioproc/ioproc.hpp"

#include <atomic>
#include <csignal>
#include <cstdio>
#include <string>
#include <thread>
#include <unistd.h>

#include "bridge/close_codes.hpp"
#include "bridge/exit_codes.hpp"
#include "bridge/fd_util.hpp"
#include "bridge/ipc.hpp"
#include "bridge/limits.hpp"
#include "bridge/process_spawn.hpp"
#include "bridge/safe_text.hpp"
#include "bridge/status_board.hpp"
#include "ioproc/line_framer.hpp"

namespace wsbridge {
namespace {

/// How received messages are written to stdout.
struct output_style {
  bool terminal = false;     ///< stdout is a terminal: untrusted bytes are escaped
  bool interactive = false;  ///< stdin is a terminal too: "< " prefixes, status lines
};

void say(const std::string& line) { std::fprintf(stderr, "wsbridge: %s\n", line.c_str()); }

/// Reads stdin, frames lines, and writes the frames to netproc. Runs on its own
/// thread: blocking reads and writes give backpressure for free (when netproc stops
/// reading its pipe, our write blocks and we stop reading stdin).
class input_pump {
 public:
  explicit input_pump(status_board& board) : board_(board) {}

  void run() {
    std::string buf(limits::read_chunk, '\0');
    std::string frames;
    std::string err;
    for (;;) {
      const ssize_t n = read_some(STDIN_FILENO, buf.data(), buf.size());
      if (n < 0) {
        say("stdin: " + errno_text(static_cast<int>(-n)));
        failed_ = true;
        break;
      }
      if (n == 0) break;
      const long lines = framer_.feed(std::string_view(buf.data(), static_cast<std::size_t>(n)), frames, &err);
      if (lines < 0) {
        say("stdin: " + err);
        failed_ = true;
        break;
      }
      if (!send(frames, static_cast<std::uint64_t>(lines))) return;
    }
    if (!failed_) send(frames, static_cast<std::uint64_t>(framer_.finish(frames)));
    board_.input_ended.store(1, std::memory_order_relaxed);
    ipc::append_frame(frames, ipc::frame_type::input_end, {});
    send(frames, 0);
  }

  bool failed() const { return failed_; }

 private:
  /// Counts the messages as read before writing them: a message counted but never
  /// sent is reported as undelivered, never the other way round.
  bool send(std::string& frames, std::uint64_t messages) {
    board_.input_messages.fetch_add(messages, std::memory_order_relaxed);
    const int e = write_all(child_fd::peer_out, frames);
    frames.clear();
    return e == 0;  // EPIPE: netproc is gone; the output side sees why
  }

  status_board& board_;
  line_framer framer_;
  std::atomic<bool> failed_{false};
};

/// Reads frames from netproc and writes messages to stdout, then reports the close.
class output_pump {
 public:
  output_pump(const config& cfg, status_board& board, output_style style)
      : cfg_(cfg), board_(board), style_(style) {}

  /// Returns ioproc's exit status.
  int run() {
    ipc::frame_decoder decoder;
    std::string out;
    std::string err;
    for (;;) {
      auto space = decoder.prepare();
      const ssize_t n = read_some(child_fd::peer_in, space.data(), space.size());
      // EOF before a `closed` frame: netproc died; the supervisor reports it.
      if (n <= 0) return exit_process_died;
      decoder.commit(static_cast<std::size_t>(n));
      ipc::frame f;
      std::uint64_t written = 0;
      for (;;) {
        const auto r = decoder.next(f, &err);
        if (r == ipc::frame_decoder::result::need_more) break;
        if (r == ipc::frame_decoder::result::error) {
          say("terminal process: internal protocol error from network process: " + err);
          return exit_failure;
        }
        switch (f.type) {
          case ipc::frame_type::text:
          case ipc::frame_type::binary:
            format_message(f, out);
            ++written;
            break;
          case ipc::frame_type::opened:
            if (style_.interactive) out += "Connected to " + safe_text(cfg_.url) + ".\n";
            break;
          case ipc::frame_type::closed: {
            if (!flush(out, written)) return exit_output_closed;
            ipc::close_info c;
            if (!ipc::decode_close(f.payload, c, &err)) {
              say("terminal process: " + err);
              return exit_failure;
            }
            return report_close(c);
          }
          default:
            say(std::string("terminal process: unexpected ") + ipc::to_string(f.type) + " frame");
            return exit_failure;
        }
      }
      if (!flush(out, written)) return exit_output_closed;
    }
  }

 private:
  void format_message(const ipc::frame& f, std::string& out) const {
    if (!style_.terminal) {  // data for a program: exactly the payload, one per line
      out.append(f.payload);
      out += '\n';
      return;
    }
    if (style_.interactive) out += "< ";
    if (f.type == ipc::frame_type::binary) {
      static const char digits[] = "0123456789abcdef";
      out += "(binary, " + std::to_string(f.payload.size()) + " bytes)";
      const std::size_t shown = std::min<std::size_t>(f.payload.size(), 32);
      if (shown) out += ' ';
      for (std::size_t i = 0; i < shown; ++i) {
        const auto b = static_cast<unsigned char>(f.payload[i]);
        out += digits[b >> 4];
        out += digits[b & 15];
      }
      if (shown < f.payload.size()) out += "...";
    } else {
      append_safe_text(out, f.payload, /*keep_newlines=*/true);
    }
    out += '\n';
  }

  bool flush(std::string& out, std::uint64_t& messages) {
    const int e = write_all(STDOUT_FILENO, out);
    out.clear();
    if (e != 0) {
      if (e != EPIPE) say("stdout: " + errno_text(e));
      return false;
    }
    board_.output_messages.fetch_add(messages, std::memory_order_relaxed);
    messages = 0;
    return true;
  }

  int report_close(const ipc::close_info& c) const {
    if (!board_.opened.load(std::memory_order_relaxed)) return exit_ok;  // netproc said why
    if (c.code != 0 && c.code != 1006 && (c.by_server || style_.interactive)) {
      std::string line = std::string("connection closed") + (c.by_server ? " by server" : "") + ": " +
                         std::to_string(c.code) + " (" + close_code_meaning(c.code) + ")";
      if (!c.reason.empty()) line += " \"" + safe_text(c.reason) + "\"";
      say(line);
    }
    const std::uint64_t read = board_.input_messages.load(std::memory_order_relaxed);
    const std::uint64_t sent = board_.messages_sent.load(std::memory_order_relaxed);
    if (read > sent) {
      std::string line = std::to_string(read - sent) + (read - sent == 1 ? " input line was" : " input lines were") +
                         " not sent: the connection closed first";
      if (!board_.input_ended.load(std::memory_order_relaxed)) line += " (input was not read to its end)";
      say(line);
      return exit_undelivered;
    }
    return exit_ok;
  }

  const config& cfg_;
  status_board& board_;
  output_style style_;
};

/// Watches the supervisor's control pipe. EOF means the supervisor is gone; we leave
/// too, even if PR_SET_PDEATHSIG was somehow missed.
void watch_supervisor() {
  char buf[256];
  while (read_some(child_fd::control_in, buf, sizeof buf) > 0) {
  }
  ::_exit(exit_process_died);
}

}  // namespace

int run_ioproc(const config& cfg) {
  std::signal(SIGPIPE, SIG_IGN);
  status_board_mapping board;
  std::string err;
  if (!board.attach(child_fd::board, &err)) {
    say("terminal process: " + err);
    return exit_failure;
  }
  output_style style;
  style.terminal = ::isatty(STDOUT_FILENO);
  style.interactive = style.terminal && ::isatty(STDIN_FILENO);

  std::thread(watch_supervisor).detach();
  input_pump input(*board.get());
  std::thread input_thread([&input] { input.run(); });
  input_thread.detach();  // may stay blocked in read(stdin); exiting ends it

  output_pump output(cfg, *board.get(), style);
  int status = output.run();
  if (status == exit_ok && input.failed()) status = exit_failure;
  std::fflush(stderr);
  // _exit: the input thread may be inside read(); no static destructors race with it.
  ::_exit(status);
}

}  // namespace wsbridge
