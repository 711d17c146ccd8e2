#pragma once
// Server mode with --exec: the program's end of the connection, inside netproc. What
// ioproc does for a client's stdin and stdout, done here for the program's pipes, so
// that a connection costs one wsbridge process instead of three (the supervisor
// starts the program and hands its pipes over; ipc.hpp, program_start).
//
// The relay does not know the difference: it reads frames from a pipe and its outbox
// writes frames to one, as with ioproc; here both pipes end in this object, on the same
// event loop. Messages stay in frames the IPC codec built from the moment they leave
// the program until the relay sends them, and back.
//
//   program stdout -> input_framer  -> frames -> relay -> peer
//   peer -> relay  -> frames (outbox) -> output_framer -> program stdin
//   program stderr -> lines prefixed with the connection -> our stderr

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <optional>
#include <string>

#include "bridge/common/fd_util.hpp"
#include "bridge/protocol/byte_buffer.hpp"
#include "bridge/framing/input_framer.hpp"
#include "bridge/framing/output_framer.hpp"
#include "bridge/framing/program_report.hpp"
#include "bridge/protocol/ipc.hpp"
#include "bridge/protocol/settings.hpp"
#include "bridge/protocol/status_board.hpp"
#include "netproc/session_parts.hpp"

namespace wsbridge::netproc {

class program_endpoint {
 public:
  /// Makes the two pipes the relay and its outbox use; false and *err on failure.
  program_endpoint(boost::asio::io_context& ioc, const net_settings& cfg, status_board& board);
  bool make_pipes(std::string* err);

  /// The relay's frames come from here (its `from_io_fd`)...
  int relay_input_fd() const { return to_relay_read_.get(); }
  /// ... and the session's outbox writes here.
  int outbox_fd() const { return from_outbox_write_.get(); }

  /// Takes over the session's end (the process leaves once the program has had every
  /// message) and the supervisor's program frames, and starts reading the outbox.
  void start(session_parts& parts);

 private:
  using error_code = boost::system::error_code;

  // ---- relay -> program ----------------------------------------------------------
  void read_outbox();
  void on_outbox_read(error_code ec, std::size_t n);
  void on_frame(const ipc::frame& f);
  void write_program();
  void on_program_written(error_code ec, std::size_t n);
  /// The program's stdin is gone (it closed it, or exited): what comes now is counted.
  void drop_program_input();

  // ---- program -> relay ----------------------------------------------------------
  void on_pipes(int in, int out, int errors);
  void read_program();
  void on_program_output(error_code ec, std::size_t n);
  /// The program's output has ended: once its exit status is known (or after a grace),
  /// the input ends, with the Close that status calls for.
  void on_output_end();
  void end_input(std::string payload);
  /// Output the framer refused: said, and the connection closes with 1007 or 1011.
  void refuse(const std::string& why);
  void send_to_relay();
  void count_input();

  // ---- the program's stderr ------------------------------------------------------
  void read_errors();
  void on_errors(error_code ec, std::size_t n, bool at_end);

  // ---- the end -------------------------------------------------------------------
  void on_program_exit(int wait_status);
  void on_closed(std::string_view payload);
  /// Leaves (with the session's status) within `limit` from now, or sooner if already set.
  void wind_down_within(std::chrono::steady_clock::duration limit);
  /// Leaves once the session has ended, the `closed` frame is read, the program has its
  /// input (or cannot take it), and its stderr has ended; or at the wind-down's end.
  void leave_if_done();
  /// -v: a program that has read everything it was sent and written nothing for
  /// limits::program_idle_hint probably holds its output in a buffer (C's stdio and
  /// Python buffer whole blocks when stdout is a pipe): said once, as ioproc does for
  /// the client's program. Each write to it starts the wait again; its output ends it.
  void watch_idle();
  /// One line for the user, with the connection's address (as ioproc's say).
  void say(const std::string& line) const;
  /// Lines (each ending in a newline, the last one's optional) for the server's
  /// stderr, through the listener.
  void log(std::string lines) const;

  const io_settings& io_;
  status_board& board_;
  session_parts* parts_ = nullptr;
  const std::string who_;

  unique_fd to_relay_read_, from_outbox_write_;  ///< the relay's ends
  boost::asio::posix::stream_descriptor from_outbox_, to_relay_;
  boost::asio::posix::stream_descriptor program_in_, program_out_, program_err_;
  bool have_pipes_ = false;

  input_framer in_framer_;
  output_framer out_framer_;
  ipc::frame_decoder outbox_decoder_;

  // relay -> program
  std::string to_program_;          ///< gathering for the program's stdin
  std::string to_program_flight_;   ///< in the write in flight
  std::uint64_t messages_gathered_ = 0, messages_in_flight_ = 0;
  bool writing_program_ = false;
  bool reading_outbox_ = false;
  bool program_input_gone_ = false;
  std::uint64_t dropped_ = 0;       ///< received messages the program never took

  // program -> relay
  byte_buffer output_buf_;          ///< uninitialised: an idle connection touches none of it
  std::string relay_frames_, relay_frames_flight_;  ///< for the relay: gathering, in flight
  bool writing_relay_ = false;
  bool output_ended_ = false;       ///< EOF (or refusal) on the program's stdout
  bool input_end_sent_ = false;
  std::string refusal_;
  std::uint64_t counted_ = 0;
  boost::asio::steady_timer exit_wait_;

  // stderr
  byte_buffer error_buf_;
  error_lines error_lines_{who_};
  bool errors_done_ = true;         ///< no stderr to relay (yet), or it ended

  // the end
  std::optional<int> exit_status_;  ///< the program's wait status, from the supervisor
  bool closed_seen_ = false;
  bool leaving_ = false;
  int leave_status_ = 0;
  boost::asio::steady_timer wind_down_;
  bool wind_down_armed_ = false;

  // -v: the hint for a program that holds its output in a buffer (watch_idle)
  boost::asio::steady_timer idle_hint_;
  bool idle_hint_given_ = false;
};

/// Server mode with --exec: the process's session with the program's end in it.
bool frames_program_here(const net_settings& cfg);

}  // namespace wsbridge::netproc
