#pragma once
// The frames netproc sends ioproc (messages received, notices, `opened`, `closed`),
// gathered and written with one write in flight, as the IPC codec frames them.
// Every stage of a session writes through the one outbox, so that a notice is always
// in order with the messages around it.

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <functional>
#include <string>
#include <string_view>

#include "bridge/protocol/ipc.hpp"

namespace wsbridge::netproc {

class io_outbox {
 public:
  /// Writes to `fd` (child_fd::peer_out in netproc; a pipe of a test's own).
  io_outbox(boost::asio::io_context& ioc, int fd);

  /// Frames gathering for the next write: a stage may append to it in place
  /// (frame_received_message), then call flush().
  std::string& pending() { return pending_; }
  void append(ipc::frame_type type, std::string_view payload);

  /// "wsbridge: STEP: DETAIL" for the user, through ioproc, in order with the messages
  /// (and so above the input line on a terminal); on stderr once ioproc is gone.
  /// `detail` may come from the peer and is made terminal-safe.
  void notice(const std::string& step, const std::string& detail);

  /// Starts writing what is pending, unless a write is in flight (it then follows).
  void flush();
  /// Best effort before an abrupt exit: what is pending, written blocking.
  void flush_now();

  bool gone() const { return gone_; }
  /// ioproc's other pipe ended: it is gone, or going; notices go to stderr from now on.
  void mark_gone() { gone_ = true; }
  bool writing() const { return writing_; }
  bool idle() const { return !writing_ && pending_.empty(); }
  /// Bytes not yet taken by the pipe: the relay stops reading the socket above a limit.
  std::size_t backlog() const { return pending_.size() + in_flight_.size(); }

  /// Called before each write starts: the relay publishes its counters first, so that
  /// the board never lags behind what ioproc has seen.
  std::function<void()> before_write;
  /// Called after each completed write (pending may hold more).
  std::function<void()> on_written;
  /// Called once, when a write fails: ioproc has gone (its output closed, or it died).
  std::function<void()> on_gone;

 private:
  void on_write(boost::system::error_code ec);

  int fd_;
  boost::asio::posix::stream_descriptor pipe_;
  std::string pending_;    ///< gathering
  std::string in_flight_;  ///< in the write in flight
  bool writing_ = false;
  bool gone_ = false;
};

}  // namespace wsbridge::netproc
