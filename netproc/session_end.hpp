#pragma once
// The one way a session ends, whichever stage it is in: the outcome is published (the
// board's state, the access-log line, then a `closed` frame to ioproc, or with
// --reconnect an `ended` report and the unsent messages to the supervisor), and the
// process leaves once ioproc has every frame. A redirect is the other way out: it is
// the supervisor's to follow.

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "bridge/protocol/ipc.hpp"
#include "bridge/protocol/settings.hpp"
#include "bridge/protocol/status_board.hpp"
#include "netproc/io_outbox.hpp"
#include "netproc/supervisor_link.hpp"

namespace wsbridge::netproc {

/// What taken from ioproc never reached the peer, as IPC frames in ioproc's order, for
/// the next netproc (--reconnect).
struct leftovers {
  std::string frames;
  std::uint64_t messages = 0;
};

/// Server mode: what the access-log line says of the request.
struct access_record {
  std::string target;     ///< the request's target
  unsigned status = 0;    ///< 101, or the refusal's status
  std::chrono::steady_clock::time_point accepted_at{};
  std::string client;     ///< behind a trusted proxy: the client it names ("" otherwise)
};

class session_end {
 public:
  session_end(const net_settings& cfg, status_board& board, io_outbox& out, supervisor_link& link);

  connection_state state() const { return state_; }
  void set_state(connection_state s);

  /// --reconnect: what the supervisor decides by, filled as it happens.
  ipc::end_report& report() { return report_; }
  access_record& access() { return access_; }

  /// True once the end is decided: nothing but writing the last frames happens after.
  bool decided() const { return decided_; }

  /// A failure before the connection opened: "wsbridge: STEP: DETAIL", then the end.
  void fail(const std::string& step, const std::string& detail, int status);

  /// The end: `info` is how the connection closed (code 0: it never opened, or was
  /// lost). Happens once; later calls do nothing.
  void finish(int status, const ipc::close_info& info, connection_state final_state, leftovers left = {});

  /// A 3xx with a Location: the supervisor decides (the redirect policy is its alone)
  /// and starts a fresh netproc for the new target. No `closed` frame: the supervisor
  /// says what happens next, on the same pipe.
  void redirect(unsigned status, std::string_view location);

  /// Leaves now, with the status of the end (0 before one was decided). Leaving with
  /// _exit: no destructor may run while Beast operations are in flight (beast #2747);
  /// the kernel closes the socket.
  void exit_now();

  /// ioproc or the supervisor broke the IPC protocol: said, and the process leaves.
  void protocol_error(const std::string& what);

  /// How the process leaves; tests replace it to watch the end instead.
  std::function<void(int status)> leave;

 private:
  void leave_when_written();
  void hand_over(const ipc::close_info& info, const leftovers& left);
  void log_access(const ipc::close_info& info);

  const net_settings& cfg_;
  status_board& board_;
  io_outbox& out_;
  supervisor_link& link_;
  connection_state state_ = connection_state::starting;
  ipc::end_report report_;
  access_record access_;
  bool decided_ = false;
  int status_ = 0;
};

}  // namespace wsbridge::netproc
