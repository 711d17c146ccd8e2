#include "ioproc/pipe_mode.hpp"

#include <atomic>
#include <cstdio>
#include <string>
#include <thread>
#include <unistd.h>

#include "bridge/exit_codes.hpp"
#include "bridge/fd_util.hpp"
#include "bridge/ipc.hpp"
#include "bridge/limits.hpp"
#include "bridge/process_spawn.hpp"
#include "bridge/safe_text.hpp"
#include "ioproc/display.hpp"
#include "ioproc/line_framer.hpp"

namespace wsbridge {
namespace {

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
  output_pump(status_board& board, bool terminal) : board_(board), terminal_(terminal) {}

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
            break;
          case ipc::frame_type::notice:
            if (!flush(out, written)) return exit_output_closed;
            say(safe_text(f.payload));
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
    if (terminal_) {
      append_for_terminal(out, f.type, f.payload);
    } else {  // data for a program: exactly the payload, one per line
      out.append(f.payload);
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
    if (c.code != 0 && c.code != 1006 && c.by_server) say(close_text(c));
    const std::string undelivered = undelivered_text(board_, "input line");
    if (undelivered.empty()) return exit_ok;
    say(undelivered);
    return exit_undelivered;
  }

  status_board& board_;
  bool terminal_;  ///< stdout is a terminal: untrusted bytes are escaped
};

}  // namespace

int run_pipe_mode(status_board& board) {
  input_pump input(board);
  std::thread input_thread([&input] { input.run(); });
  input_thread.detach();  // may stay blocked in read(stdin); the process exit ends it
  output_pump output(board, ::isatty(STDOUT_FILENO));
  int status = output.run();
  if (status == exit_ok && input.failed()) status = exit_failure;
  return status;
}

}  // namespace wsbridge
