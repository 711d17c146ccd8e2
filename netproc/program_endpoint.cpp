#include "netproc/program_endpoint.hpp"

#include <boost/asio/write.hpp>
#include <csignal>
#include <cstdio>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>

#include "bridge/common/safe_text.hpp"
#include "bridge/framing/display.hpp"
#include "bridge/protocol/close_codes.hpp"
#include "bridge/protocol/exit_codes.hpp"
#include "bridge/protocol/limits.hpp"

namespace wsbridge::netproc {
namespace {

/// How long the process stays, once the session has ended, for the program to take its
/// last messages; once it has them (EOF), it has limits::exec_grace to write its last
/// stderr lines and end, as a client's --exec program has. The listener's SIGTERM, then
/// SIGKILL, follow at that grace each after this process has gone.
constexpr auto wind_down = 2 * limits::exec_grace + std::chrono::seconds(1);

/// Above this much gathered for the program's stdin, the outbox is not read: its pipe
/// fills, the relay's backlog grows, and the relay stops reading the socket (TCP then
/// slows the client).
constexpr std::size_t max_program_backlog = limits::max_receive_backlog;

constexpr std::size_t output_read = 64u << 10;

}  // namespace

bool frames_program_here(const net_settings& cfg) { return cfg.server() && cfg.frames_program; }

program_endpoint::program_endpoint(boost::asio::io_context& ioc, const net_settings& cfg, status_board& board)
    : io_(cfg.program_io),
      board_(board),
      who_(cfg.program_io.who()),
      from_outbox_(ioc),
      to_relay_(ioc),
      program_in_(ioc),
      program_out_(ioc),
      program_err_(ioc),
      in_framer_(io_.framing_mode, io_.encoding, limits::max_ipc_payload, io_.typing),
      out_framer_(io_, false),
      outbox_decoder_(limits::max_ipc_payload),
      exit_wait_(ioc),
      wind_down_(ioc),
      idle_hint_(ioc) {}

bool program_endpoint::make_pipes(std::string* err) {
  unique_fd outbox_read, relay_write;
  if (!make_pipe(outbox_read, from_outbox_write_, err) || !make_pipe(to_relay_read_, relay_write, err)) return false;
  error_code ec;
  from_outbox_.assign(outbox_read.release(), ec);
  if (!ec) to_relay_.assign(relay_write.release(), ec);
  if (!ec) from_outbox_.native_non_blocking(true, ec);
  if (!ec) to_relay_.native_non_blocking(true, ec);
  if (ec) *err = "program pipes: " + ec.message();
  return !ec;
}

void program_endpoint::start(session_parts& parts) {
  parts_ = &parts;
  parts.link.on_program_pipes = [this](int in, int out, int errors) { on_pipes(in, out, errors); };
  parts.link.on_program_exit = [this](int status) { on_program_exit(status); };
  parts.end.leave = [this](int status) {
    if (leaving_) return;
    leaving_ = true;
    leave_status_ = status;
    wind_down_within(wind_down);
    leave_if_done();
  };
  read_outbox();
}

void program_endpoint::wind_down_within(std::chrono::steady_clock::duration limit) {
  if (wind_down_armed_ && wind_down_.expiry() <= std::chrono::steady_clock::now() + limit) return;
  wind_down_armed_ = true;
  wind_down_.expires_after(limit);  // a wait already set ends with operation_aborted
  wind_down_.async_wait([this](error_code ec) {
    if (ec) return;
    if (dropped_ + messages_gathered_ + messages_in_flight_ != 0) drop_program_input();
    std::fflush(stderr);
    ::_exit(leave_status_);
  });
}

// ---- relay -> program ----------------------------------------------------------------

void program_endpoint::read_outbox() {
  if (reading_outbox_ || closed_seen_) return;
  if (to_program_.size() >= max_program_backlog) return;  // write_program resumes us
  reading_outbox_ = true;
  auto space = outbox_decoder_.prepare(output_read);
  from_outbox_.async_read_some(boost::asio::buffer(space.data(), space.size()),
                               [this](error_code ec, std::size_t n) { on_outbox_read(ec, n); });
}

void program_endpoint::on_outbox_read(error_code ec, std::size_t n) {
  reading_outbox_ = false;
  if (ec) return;  // our own pipe: only the process's end closes it
  outbox_decoder_.commit(n);
  ipc::frame f;
  std::string err;
  for (;;) {
    const auto r = outbox_decoder_.next(f, &err);
    if (r == ipc::frame_decoder::result::need_more) break;
    if (r == ipc::frame_decoder::result::error) {  // built by our own outbox: a bug
      say("network process: internal protocol error: " + err);
      std::fflush(stderr);
      ::_exit(exit_failure);
    }
    on_frame(f);
  }
  write_program();
  read_outbox();
}

void program_endpoint::on_frame(const ipc::frame& f) {
  switch (f.type) {
    case ipc::frame_type::text:
    case ipc::frame_type::binary:
      if (program_input_gone_) {
        ++dropped_;
        return;
      }
      out_framer_.append(f.type, f.payload, to_program_);
      ++messages_gathered_;
      return;
    case ipc::frame_type::opened:
      // The program starts now, told what was negotiated (and, in its environment,
      // what the request said); the supervisor checks every variable. Usually the
      // acceptor asked already, as it answered 101 (server_acceptor.hpp).
      if (!parts_->link.start_program(f.payload)) ::_exit(exit_process_died);
      return;
    case ipc::frame_type::notice:
      say(safe_text(f.payload));
      return;
    case ipc::frame_type::closed:
      return on_closed(f.payload);
    default:  // pong: only a terminal's /ping asks for one
      return;
  }
}

void program_endpoint::write_program() {
  if (const std::string w = out_framer_.take_warning(); !w.empty()) say(w);
  if (writing_program_ || to_program_.empty()) return;
  if (program_input_gone_) return drop_program_input();
  if (!have_pipes_) return;  // gathered until the program runs
  writing_program_ = true;
  to_program_flight_.swap(to_program_);
  messages_in_flight_ = std::exchange(messages_gathered_, 0);
  boost::asio::async_write(program_in_, boost::asio::buffer(to_program_flight_),
                           [this](error_code ec, std::size_t n) { on_program_written(ec, n); });
}

void program_endpoint::on_program_written(error_code ec, std::size_t) {
  writing_program_ = false;
  to_program_flight_.clear();
  if (ec) {
    // EPIPE: it closed its stdin or exited while the connection is open. What comes
    // now has nowhere to go; it is counted and said, not fatal (the program's output
    // may still be on its way).
    dropped_ += std::exchange(messages_in_flight_, 0);
    program_input_gone_ = true;
    drop_program_input();
  } else {
    board_.output_messages.fetch_add(std::exchange(messages_in_flight_, 0), std::memory_order_relaxed);
    watch_idle();
    write_program();
  }
  read_outbox();
  leave_if_done();
}

void program_endpoint::drop_program_input() {
  dropped_ += std::exchange(messages_gathered_, 0);
  to_program_.clear();
}

// ---- program -> relay ----------------------------------------------------------------

void program_endpoint::on_pipes(int in, int out, int errors) {
  error_code ec;
  program_in_.assign(in, ec);
  program_out_.assign(out, ec);
  program_err_.assign(errors, ec);
  for (auto* d : {&program_in_, &program_out_, &program_err_}) d->native_non_blocking(true, ec);
  have_pipes_ = true;
  errors_done_ = false;
  write_program();
  read_program();
  read_errors();
  leave_if_done();  // a connection already over: the program gets what came, then EOF
}

void program_endpoint::read_program() {
  if (output_ended_ || writing_relay_) return;
  output_buf_.resize(output_read);
  program_out_.async_read_some(boost::asio::buffer(output_buf_.data(), output_buf_.size()),
                               [this](error_code ec, std::size_t n) { on_program_output(ec, n); });
}

void program_endpoint::on_program_output(error_code ec, std::size_t n) {
  if (ec) return on_output_end();
  idle_hint_.cancel();  // it writes: not idle
  std::string err;
  const bool ok = in_framer_.feed(std::string_view(output_buf_.data(), n), relay_frames_, &err);
  count_input();
  if (!ok) return refuse(err);  // the messages before it still go
  send_to_relay();
  read_program();
}

void program_endpoint::watch_idle() {
  if (!io_.verbose || idle_hint_given_ || output_ended_) return;
  idle_hint_.expires_after(limits::program_idle_hint);  // a wait already set ends with operation_aborted
  idle_hint_.async_wait([this](error_code ec) {
    if (ec || output_ended_) return;
    int unread = 0;  // bytes we wrote that it has not read yet: then it is busy, not idle
    if (!program_in_.is_open() || ::ioctl(program_in_.native_handle(), FIONREAD, &unread) != 0) return;
    if (unread > 0) return watch_idle();
    idle_hint_given_ = true;
    say("program: it has read its input but written nothing for " +
        std::to_string(std::chrono::seconds(limits::program_idle_hint).count()) +
        " s; if it holds its output in a buffer, try stdbuf -oL CMD, or PYTHONUNBUFFERED=1 for python");
  });
}

void program_endpoint::count_input() {
  board_.input_messages.fetch_add(in_framer_.messages() - counted_, std::memory_order_relaxed);
  counted_ = in_framer_.messages();
}

void program_endpoint::refuse(const std::string& why) {
  say("program output: " + why);
  refusal_ = why.substr(0, why.find(';'));  // without the hint that follows
  output_ended_ = true;
  // The client is told why its connection ends, as by any server that cannot go on:
  // 1007 for text that is not UTF-8 (RFC 6455 §7.4.1, §8.1), 1011 for anything else
  // the program wrote that cannot be a message.
  const bool utf8 = refusal_.find("UTF-8") != std::string::npos;
  std::string reason = "program output refused: " + refusal_;
  reason.resize(std::min(reason.size(), limits::max_close_reason));  // the framer's words are ASCII
  end_input(ipc::encode_close({utf8 ? close_invalid_payload : close_internal_error, false, reason}));
}

void program_endpoint::on_output_end() {
  if (output_ended_) return;
  output_ended_ = true;
  std::string err;
  if (!in_framer_.finish(relay_frames_, &err)) {
    count_input();
    return refuse(err);
  }
  count_input();
  // Its exit decides the Close: 1000, or 1011 (an unexpected condition, RFC 6455
  // §7.4.1) if it failed. The status comes from the supervisor, which reaps it; a
  // program that closed its stdout and goes on running gets the grace, then 1000.
  if (exit_status_) return on_program_exit(*exit_status_);
  exit_wait_.expires_after(limits::exec_grace);
  exit_wait_.async_wait([this](error_code e) {
    if (!e && !input_end_sent_) end_input({});
  });
}

void program_endpoint::end_input(std::string payload) {
  if (input_end_sent_) return;
  input_end_sent_ = true;
  exit_wait_.cancel();
  board_.input_ended.store(1, std::memory_order_relaxed);
  ipc::append_frame(relay_frames_, ipc::frame_type::input_end, payload);
  send_to_relay();
}

void program_endpoint::send_to_relay() {
  if (writing_relay_ || relay_frames_.empty()) return;
  writing_relay_ = true;
  relay_frames_flight_.swap(relay_frames_);
  boost::asio::async_write(to_relay_, boost::asio::buffer(relay_frames_flight_), [this](error_code ec, std::size_t) {
    writing_relay_ = false;
    relay_frames_flight_.clear();
    if (ec) return;  // our own pipe: only the process's end closes it
    send_to_relay();
    read_program();  // backpressure: the program is read only as the relay takes its messages
  });
}

// ---- the program's stderr ------------------------------------------------------------

void program_endpoint::read_errors() {
  error_buf_.resize(4096);
  program_err_.async_read_some(boost::asio::buffer(error_buf_.data(), error_buf_.size()),
                               [this](error_code ec, std::size_t n) { on_errors(ec, n, !!ec); });
}

void program_endpoint::on_errors(error_code, std::size_t n, bool at_end) {
  // Many programs share the server's stderr: each line carries its connection.
  log(error_lines_.add({reinterpret_cast<const char*>(error_buf_.data()), n}));
  if (!at_end) return read_errors();
  log(error_lines_.finish());
  errors_done_ = true;
  leave_if_done();
}

// ---- the end -------------------------------------------------------------------------

void program_endpoint::on_program_exit(int wait_status) {
  exit_status_ = wait_status;
  if (!have_pipes_ && !output_ended_) {  // it never ran: nothing to read
    output_ended_ = true;
    program_input_gone_ = true;
    drop_program_input();
  }
  if (!output_ended_ || input_end_sent_) return;  // its output is still coming: on_output_end
  if (!refusal_.empty()) return;
  end_input(exit_status_code(wait_status) != 0 ? ipc::encode_close({close_internal_error, false, ""}) : std::string());
}

void program_endpoint::on_closed(std::string_view payload) {
  closed_seen_ = true;
  ipc::close_info c;
  std::string err;
  if (ipc::decode_close(payload, c, &err) && board_.opened.load(std::memory_order_relaxed)) {
    // As ioproc reports the end of a session, for a server's routine: -v only.
    if (io_.verbose) {
      say(traffic_text(board_));
      if (c.code != 0 && c.code != close_abnormal && c.by_server) say(close_text(c, io_.peer_name()));
    }
    if (const std::string undelivered = undelivered_text(board_, "message", " from the program"); !undelivered.empty())
      say(undelivered);
  }
  write_program();
  leave_if_done();
}

void program_endpoint::leave_if_done() {
  if (!leaving_ || !closed_seen_) return;
  // Messages may have come before the program ran (a client that sends and closes at
  // once): they are its, so its pipes are waited for (or word that it could not start).
  if (parts_->link.program_asked() && !have_pipes_ && !exit_status_) return;
  if (have_pipes_ && !program_input_gone_ && (writing_program_ || !to_program_.empty())) return;
  // All it will get is written: EOF on its stdin tells it so.
  error_code ignored;
  if (program_in_.is_open()) {
    program_in_.close(ignored);
    wind_down_within(limits::exec_grace);
  }
  if (!errors_done_) return;  // its last lines, written as it ends
  if (dropped_ != 0)
    say(count_text(dropped_, "received message") + (dropped_ == 1 ? " was" : " were") +
        " not delivered: the program had stopped reading");
  std::fflush(stderr);
  ::_exit(leave_status_);
}

void program_endpoint::say(const std::string& line) const { log("wsbridge: " + who_ + line); }

void program_endpoint::log(std::string lines) const {
  // To the listener, which writes them to its stderr: ours may be a file, which the
  // sandbox's RLIMIT_FSIZE of 0 refuses (EFBIG), and lines from many connections are
  // written whole there. Only if it is gone, to our stderr directly.
  if (lines.empty()) return;
  if (lines.back() == '\n') lines.pop_back();
  if (parts_ && parts_->link.tell(ipc::frame_type::notice, lines)) return;
  write_all(STDERR_FILENO, lines + "\n");
}

}  // namespace wsbridge::netproc
