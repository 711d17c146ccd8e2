#include "ioproc/pipe_mode.hpp"

#include <algorithm>
#include <atomic>
#include <boost/endian/conversion.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <sys/wait.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <string>
#include <thread>
#include <mutex>
#include <optional>
#include <chrono>
#include <condition_variable>
#include <unistd.h>

#include "bridge/protocol/byte_buffer.hpp"
#include "bridge/protocol/close_codes.hpp"
#include "bridge/protocol/exit_codes.hpp"
#include "bridge/common/fd_util.hpp"
#include "bridge/protocol/ipc.hpp"
#include "bridge/protocol/limits.hpp"
#include "bridge/protocol/child_fd.hpp"
#include "bridge/common/safe_text.hpp"
#include "bridge/framing/display.hpp"
#include "bridge/framing/input_framer.hpp"
#include "ioproc/net_frames.hpp"
#include "bridge/framing/output_framer.hpp"
#include "bridge/framing/program_report.hpp"
#include "ioproc/pipe_sender.hpp"
#include "ioproc/wrapped_program.hpp"

namespace wsbridge {
namespace {

/// Server mode: "127.0.0.1:40312: ", so that each connection's lines can be told apart.
std::string say_prefix;

void say(const std::string& line) { std::fprintf(stderr, "wsbridge: %s%s\n", say_prefix.c_str(), line.c_str()); }

/// Reads the input, frames messages, and writes the frames to netproc. Runs on its
/// own thread: blocking reads and writes give backpressure for free (when netproc
/// stops reading its pipe, our write blocks and we stop reading input).
class input_pump {
 public:
  /// `program`: server mode's --exec program, whose exit status decides the Close.
  input_pump(const io_settings& cfg, status_board& board, int fd, const char* name, const wrapped_program* program)
      : board_(board), fd_(fd), name_(name), framer_(cfg.framing_mode, cfg.encoding, limits::max_ipc_payload, cfg.typing), program_(program) {}

  void run() {
    byte_buffer buf(limits::read_chunk);  // uninitialised: see byte_buffer.hpp
    std::string err;
    for (;;) {
      // Input is either still in the pipe or, from the read until it is counted, held
      // with holding_ set (see wait_counted()); so wait for it before taking it.
      if (const int e = wait_readable(); e != 0) {
        fail(exit_failure, errno_text(e));
        break;
      }
      holding_.store(true);
      buf.first_read_from(fd_);
      const ssize_t n = read_some(fd_, buf.data(), buf.size());
      if (n < 0) {
        fail(exit_failure, errno_text(static_cast<int>(-n)));
        break;
      }
      if (n == 0) break;
      bytes_taken_.fetch_add(static_cast<std::uint64_t>(n), std::memory_order_relaxed);
      buf.filled(static_cast<std::size_t>(n));
      if (static_cast<std::size_t>(n) >= prefault_threshold) out_.expect_bulk();
      const bool ok = framer_.feed(std::string_view(buf.data(), static_cast<std::size_t>(n)), out_.batch(), &err);
      // Messages before a refused one still go; nothing after it does.
      if (!send()) return;
      if (!ok) {
        refuse(err);
        break;
      }
    }
    if (status_ == exit_ok) {
      if (!framer_.finish(out_.batch(), &err)) refuse(err);
      send();
    }
    board_.input_ended.store(1, std::memory_order_relaxed);
    ipc::append_frame(out_.batch(), ipc::frame_type::input_end, end_of_input());
#ifdef WSBRIDGE_TEST_HOOKS
    // Test builds only: a frame out of place, which netproc must refuse (its table).
    if (const char* probe = std::getenv("WSBRIDGE_TEST_IOPROC_PROBE"); probe && std::string(probe) == "data-after-end")
      ipc::append_frame(out_.batch(), ipc::frame_type::text, "after the end");
#endif
    send();
  }

  /// The input_end payload. Server mode: the program ended its output; its exit decides
  /// the Close, 1000, or 1011 (an unexpected condition, RFC 6455 §7.4.1) if it failed.
  std::string end_of_input() const {
    if (status_ == exit_input_refused) {
      if (!program_) return std::string(ipc::input_end_refused);
      // Server mode: the client is told why its connection ends, as it would be by a
      // server that cannot go on: 1007 for text that is not UTF-8 (RFC 6455 §7.4.1,
      // §8.1), 1011 for anything else the program wrote that cannot be a message.
      const bool utf8 = refusal_.find("UTF-8") != std::string::npos;
      std::string reason = "program output refused: " + refusal_;
      reason.resize(std::min(reason.size(), limits::max_close_reason));  // the framer's words are ASCII
      return ipc::encode_close({utf8 ? close_invalid_payload : close_internal_error, false, reason});
    }
    if (!program_) return {};
    const auto status = program_->peek_exit(limits::exec_grace);
    if (!status || exit_status_code(*status) == 0) return {};
    return ipc::encode_close({close_internal_error, false, ""});
  }

  /// exit_ok, or why input stopped early (exit_failure, exit_input_refused).
  int status() const { return status_; }

  /// For the output side, before it reports what was not sent: waits until every
  /// message this thread has taken from its input is counted on the board. Without it,
  /// a chunk read but still being framed when the server closed was neither counted
  /// nor left in the pipe: lost without a word. Never long: the thread does not block
  /// between its read and the count (it reads only once poll() said it would not).
  void wait_counted() const {
    while (holding_.load()) holding_.wait(true);
  }

  /// Bytes read from the input so far (the program's output, with --exec).
  std::uint64_t bytes_taken() const { return bytes_taken_.load(std::memory_order_relaxed); }

 private:
  void fail(int status, const std::string& why) {
    say(std::string(name_) + ": " + why);
    status_ = status;
  }

  /// Input that cannot become a message: said, and nothing after it is sent.
  void refuse(const std::string& why) {
    fail(exit_input_refused, why);
    refusal_ = why.substr(0, why.find(';'));  // without the hint that follows
  }

  /// Counts the messages as read before writing them: a message counted but never
  /// sent is reported as undelivered, never the other way round.
  bool send() {
    board_.input_messages.fetch_add(framer_.messages() - counted_, std::memory_order_relaxed);
    counted_ = framer_.messages();
    release();  // counted: the write below may block, the report need not wait for it
    return out_.send() == 0;  // EPIPE: netproc is gone; the output side sees why
  }

  void release() {
    holding_.store(false);
    holding_.notify_all();
  }

  /// 0 once the input has data or is at its end, else the errno.
  int wait_readable() const {
    pollfd p{fd_, POLLIN, 0};
    while (::poll(&p, 1, -1) < 0)
      if (errno != EINTR) return errno;
    return 0;
  }

  status_board& board_;
  int fd_;
  const char* name_;  ///< "stdin" or "program output", for errors
  input_framer framer_;
  pipe_sender out_{child_fd::peer_out};
  std::uint64_t counted_ = 0;  ///< messages already added to the board
  std::atomic<int> status_{exit_ok};
  std::string refusal_;  ///< why the input was refused, without the hint (for the Close reason)
  std::atomic<bool> holding_{false};  ///< input read and not yet counted
  std::atomic<std::uint64_t> bytes_taken_{0};
  const wrapped_program* program_;
};

/// Server mode: copies the program's stderr to ours a line at a time, each line
/// prefixed with the connection, as the other lines about it are. Runs on its own
/// thread until the program's stderr ends, then says so.
struct relay_end {
  std::mutex mutex;
  std::condition_variable cv;
  bool done = false;
};

/// Server mode: the programs' stderr lines, each prefixed with its connection. A program
/// may pass on what a client sent (`cat >&2`): the lines are made terminal-safe like
/// every other line that may hold a peer's bytes.
void relay_program_errors(int fd, relay_end& finished) {
  error_lines lines(say_prefix);
  char buf[4096];
  for (;;) {
    const ssize_t n = read_some(fd, buf, sizeof buf);
    write_all(STDERR_FILENO, n > 0 ? lines.add({buf, static_cast<std::size_t>(n)}) : lines.finish());
    if (n <= 0) {
      std::lock_guard lock(finished.mutex);
      finished.done = true;
      finished.cv.notify_all();
      return;
    }
  }
}

/// -x/--execute: the messages become the input, framed as stdin would be, through a
/// pipe that a thread fills (the framer and every count stay the same as for stdin).
int execute_input(const io_settings& cfg) {
  std::string data;
  for (const std::string& m : cfg.execute) {
    if (cfg.framing_mode == framing::length_prefixed) {
      unsigned char prefix[4];
      boost::endian::store_big_u32(prefix, static_cast<std::uint32_t>(m.size()));
      data.append(reinterpret_cast<const char*>(prefix), sizeof prefix);
      data += m;
    } else {
      data += m;
      data += cfg.framing_mode == framing::null ? '\0' : '\n';
    }
  }
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return -1;  // the input thread reports the read error
  std::thread([fd = fds[1], data = std::move(data)] {
    write_all(fd, data);
    ::close(fd);
  }).detach();
  return fds[0];
}

/// True when `fd` has nothing more to give: its end is reached, even if the input
/// thread has not read it yet (a quick server can close before that thread first
/// runs). A pipe whose writer is still there and holds no data is not at its end.
bool at_end_of_input(int fd) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, 0) != 1) return false;  // nothing to read yet: the producer is alive
  int pending = 0;
  // Readable with nothing waiting (FIONREAD 0, or a device without it: /dev/null) is EOF.
  return ::ioctl(fd, FIONREAD, &pending) != 0 || pending == 0;
}

/// Reads frames from netproc, writes messages to the output, then reports the close.
class output_pump {
 public:
  output_pump(const io_settings& cfg, status_board& board, int fd, wrapped_program* program, const input_pump& input)
      : board_(board),
        fd_(fd),
        program_(program),
        input_(input),
        framer_(cfg, !program && ::isatty(fd)),
        reader_(cfg.reconnect),
        max_messages_(cfg.max_messages),
        verbose_(cfg.verbose),
        quiet_(cfg.quiet || (cfg.server() && !cfg.verbose)),  // a server's normal closes are its routine
        stdin_is_terminal_(::isatty(STDIN_FILENO) != 0),
        peer_(cfg.peer_name()) {}

  /// Returns ioproc's exit status.
  int run() {
    std::string out, err;
    for (;;) {
      if (!wait_readable()) continue;
      std::uint64_t written = 0;
      std::optional<int> end;  // set by a frame that ends the session
      const auto r = reader_.read_once([&](const ipc::frame& f) { return on_frame(f, out, written, end); }, &err);
      if (r == net_reader::result::gone) {  // netproc died: the supervisor reports it, if it lives
        leave_if_supervisor_gone();
        return exit_process_died;
      }
      if (r == net_reader::result::broken) {
        say("I/O process: " + err);
        return exit_failure;
      }
      if (end) return *end;
      if (!flush(out, written)) return exit_output_closed;
    }
  }

  /// One frame from netproc; false (and `end` set) when the session is over.
  bool on_frame(const ipc::frame& f, std::string& out, std::uint64_t& written, std::optional<int>& end) {
    switch (f.type) {
      case ipc::frame_type::text:
      case ipc::frame_type::binary:
        framer_.append(f.type, f.payload, out);
        ++written;
        return true;
      case ipc::frame_type::opened:
        if (program_ && !program_->started()) start_program(f.payload);  // once, across reconnects
        return true;
      case ipc::frame_type::notice:
        if (!flush(out, written)) return end = exit_output_closed, false;
        say(safe_text(f.payload));
        return true;
      case ipc::frame_type::closed: {
        if (!flush(out, written)) return end = exit_output_closed, false;
        ipc::close_info c;
        std::string err;
        if (!ipc::decode_close(f.payload, c, &err)) {
          say("I/O process: " + err);
          return end = exit_failure, false;
        }
        return end = report_close(c), false;
      }
      default:  // pong: only /ping in terminal mode asks for one
        return true;
    }
  }

  /// Messages that arrived after the program had stopped reading.
  std::uint64_t dropped() const { return dropped_; }

 private:
  /// Waits until netproc has something for us, noticing meanwhile when the program
  /// exits. Returns false when only the program changed.
  bool wait_readable() {
    if (!program_ || !program_->started() || program_->reaped() || program_->exit_fd() < 0) return true;
    pollfd p[2] = {{child_fd::peer_in, POLLIN, 0}, {program_->exit_fd(), POLLIN, 0}};
    const bool watching = verbose_ && !idle_hint_given_ && waiting_since_;
    const int r = ::poll(p, 2, watching ? 500 : -1);
    if (watching) check_idle_program();
    if (r <= 0) return r == 0 ? false : true;
    if (p[1].revents && program_->poll_exit()) {
      board_.program_pid.store(0, std::memory_order_relaxed);
      // It may have left output in its pipe: the input thread reads to EOF, which
      // ends the input and so closes the connection in order.
    }
    return p[0].revents != 0;
  }

  /// -v: a program that has read everything it was sent and written nothing for
  /// limits::program_idle_hint probably holds its output in a buffer (C's stdio and
  /// Python buffer whole blocks when stdout is a pipe, not a terminal): said once.
  void check_idle_program() {
    if (const std::uint64_t produced = input_.bytes_taken(); produced != produced_seen_) {
      produced_seen_ = produced;  // it wrote: not idle
      waiting_since_.reset();
      return;
    }
    int unread = 0;  // bytes we wrote that it has not read yet: then it is busy, not idle
    if (::ioctl(fd_, FIONREAD, &unread) != 0 || unread > 0) return;
    if (std::chrono::steady_clock::now() - *waiting_since_ < limits::program_idle_hint) return;
    idle_hint_given_ = true;
    say("program: it has read its input but written nothing for " +
        std::to_string(std::chrono::seconds(limits::program_idle_hint).count()) +
        " s; if it holds its output in a buffer, try stdbuf -oL CMD, or PYTHONUNBUFFERED=1 for python");
  }

  void start_program(std::string_view opened) {
    program_->start(opened);
    board_.program_pid.store(program_->pid(), std::memory_order_relaxed);
  }

  bool flush(std::string& out, std::uint64_t& messages) {
    if (const std::string w = framer_.take_warning(); !w.empty()) say(w);
    if (output_gone_) {
      dropped_ += messages;
      messages = 0;
      out.clear();
      return true;
    }
    const int e = write_all(fd_, out);
    out.clear();
    if (e != 0) {
      if (program_ && e == EPIPE) {
        // The program closed its stdin (or exited) while the connection is open: what
        // comes now has nowhere to go; it is counted and reported, not fatal.
        output_gone_ = true;
        dropped_ += messages;
        messages = 0;
        return true;
      }
      if (e != EPIPE) say((program_ ? "program input: " : "stdout: ") + errno_text(e));
      return false;
    }
    board_.output_messages.fetch_add(messages, std::memory_order_relaxed);
    if (program_ && messages > 0 && verbose_) {
      // The program has new input: from now on, output from it is expected.
      if (const std::uint64_t produced = input_.bytes_taken(); produced != produced_seen_ || !waiting_since_) {
        produced_seen_ = produced;
        waiting_since_ = std::chrono::steady_clock::now();
      }
    }
    messages = 0;
    return true;
  }

  int report_close(const ipc::close_info& c) const {
    input_.wait_counted();
    if (!board_.opened.load(std::memory_order_relaxed)) return exit_ok;  // netproc said why
    if (verbose_) say(traffic_text(board_));
    const bool normal = c.code == close_normal || c.code == close_going_away || c.code == close_no_status;
    if (c.code != 0 && c.code != close_abnormal && c.by_server && !(quiet_ && normal)) say(close_text(c, peer_));
    // --max-messages reached: the close was ours, and input left over is expected.
    if (max_messages_ != 0 && board_.output_messages.load(std::memory_order_relaxed) >= max_messages_) return exit_ok;
    // Input from a producer that had not ended never reached the server, even if every
    // line read so far was sent; a person typing on a terminal (stdin a terminal,
    // stdout not) or a wrapped program still running simply stop.
    const bool must_end = !stdin_is_terminal_ && !at_end_of_input(STDIN_FILENO);
    const std::string undelivered = program_ ? undelivered_text(board_, "message", " from the program")
                                             : undelivered_text(board_, "input line", {}, must_end);
    if (undelivered.empty()) return exit_ok;
    say(undelivered);
    return exit_undelivered;
  }

  status_board& board_;
  int fd_;
  wrapped_program* program_;
  const input_pump& input_;
  output_framer framer_;
  net_reader reader_;
  const std::uint64_t max_messages_;
  const bool verbose_;
  const bool quiet_;
  const bool stdin_is_terminal_;
  const char* const peer_;
  bool output_gone_ = false;
  std::uint64_t dropped_ = 0;
  // -v: check_idle_program().
  std::optional<std::chrono::steady_clock::time_point> waiting_since_;  ///< input given, no output since
  std::uint64_t produced_seen_ = 0;  ///< the program's output bytes at the last look
  bool idle_hint_given_ = false;
};

/// With --exec: ends the program once the connection is over, and folds its exit
/// status into ours (the program's if it failed, ours otherwise).
int finish_program(wrapped_program& program, status_board& board, int status, std::uint64_t dropped) {
  bool killed_by_us = false;
  const int wait_status = program.finish(limits::exec_grace, &killed_by_us);
  board.program_pid.store(0, std::memory_order_relaxed);
  if (dropped)
    say(count_text(dropped, "received message") + (dropped == 1 ? " was" : " were") +
        " not delivered: the program had stopped reading");
  if (!program.started()) return status;
  if (killed_by_us) {
    say("the program did not exit after its input ended; it was stopped with a signal");
    return status;
  }
  const int code = exit_status_code(wait_status);
  // Server mode: a program that failed is always said, with its connection (-q or not),
  // as a web server logs a CGI script's failure.
  if (code != 0 && say_prefix.size() != 0) {
    if (WIFSIGNALED(wait_status))
      say("the program was killed by signal " + std::to_string(WTERMSIG(wait_status)) + " (" +
                 ::strsignal(WTERMSIG(wait_status)) + ")");
    else
      say("the program exited with status " + std::to_string(code));
  }
  return code != 0 ? code : status;
}

}  // namespace

int run_pipe_mode(const io_settings& cfg, status_board& board, wrapped_program* program) {
  say_prefix = cfg.who();
  // A pipe on stdin or stdout holds 64 KiB by default; at 1 MiB a producer and we each
  // move 256 KiB per system call. Fails harmlessly on files and terminals.
  if (!program)
    for (int fd : {STDIN_FILENO, STDOUT_FILENO}) ::fcntl(fd, F_SETPIPE_SZ, limits::pipe_size);
  // The input thread is detached: it may still be inside its pump (blocked in read(),
  // or framing a chunk) when this function returns and the process _exits. So the pump
  // and the stderr relay's state live as long as the process (static storage: ioproc
  // ends with _exit, which runs no destructor); destroying the pump here freed the
  // buffers the thread was writing into. ioproc runs this function once.
  static std::optional<input_pump> input_storage;
  static relay_end errors;
  const int input_fd = program ? program->output_fd() : cfg.execute.empty() ? STDIN_FILENO : execute_input(cfg);
  input_pump& input = input_storage.emplace(cfg, board, input_fd,
                                            program ? "program output" : cfg.execute.empty() ? "stdin" : "-x",
                                            cfg.server() ? program : nullptr);
  std::thread input_thread([&input] { input.run(); });
  input_thread.detach();  // may stay blocked in read(); the process exit ends it
  errors.done = program == nullptr || program->errors_fd() < 0;
  if (!errors.done) std::thread(relay_program_errors, program->errors_fd(), std::ref(errors)).detach();
  output_pump output(cfg, board, program ? program->input_fd() : STDOUT_FILENO, program, input);
  int status = output.run();
  if (status == exit_ok && input.status() != exit_ok) status = input.status();
  if (program) status = finish_program(*program, board, status, output.dropped());
  // The program has exited: its last stderr lines are in the pipe, or with a process it
  // left behind that still holds the pipe (then we do not wait for it).
  std::unique_lock lock(errors.mutex);
  errors.cv.wait_for(lock, limits::exec_grace, [&] { return errors.done; });
  return status;
}

}  // namespace wsbridge
