#pragma once
// netproc's two channels with the supervisor: requests and answers come in on one (a
// close, when the user interrupts; the file a --static-dir request asked for, its
// descriptor attached), reports go out on the other (a redirect, how the connection
// ended, a file wanted). Both carry IPC frames; a frame out of place from the
// supervisor is fatal.

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <deque>
#include <functional>
#include <string>
#include <string_view>

#include "bridge/protocol/ipc.hpp"

namespace wsbridge::netproc {

class supervisor_link {
 public:
  supervisor_link(boost::asio::io_context& ioc, int requests_fd, int reports_fd);

  /// Reads the supervisor's requests for as long as the process lives: each close
  /// request goes to the handler set last (the stage that runs when it arrives). At
  /// EOF the supervisor is gone and the process leaves at once (OpenSSH: EOF from the
  /// monitor means exit; PR_SET_PDEATHSIG normally came first).
  void watch();
  std::function<void(const ipc::close_info&)> on_close_request;
  /// The answer to a `file_request`: ipc::file_found with the file's descriptor (now
  /// ours), or another answer with -1. Called once: set it again for the next request.
  std::function<void(const std::string& answer, int fd)> on_file_answer;

  /// Server mode with --exec: the program's stdin, stdout and stderr (now ours), once.
  std::function<void(int in, int out, int errors)> on_program_pipes;
  /// ... and its wait status once it has exited (or could not start).
  std::function<void(int wait_status)> on_program_exit;

  /// Server mode with --exec: asks the supervisor to start the program, with the
  /// `opened` payload (ipc.hpp); once: later calls do nothing. False if it is gone.
  bool start_program(std::string_view opened);
  bool program_asked() const { return program_asked_; }

  /// One frame to the supervisor, written at once (waiting while its socket is full);
  /// false if it is gone.
  bool tell(ipc::frame_type type, std::string_view payload);

 private:
  /// Reads what is there; false at EOF (or an error other than EAGAIN).
  bool read_ready();
  bool on_frame(const ipc::frame& f, std::string* err);

  boost::asio::posix::stream_descriptor requests_;
  int reports_fd_;
  ipc::frame_decoder decoder_{4096};
  std::deque<int> fds_;  ///< descriptors received, for the answers they came with
  bool program_started_ = false;
  bool program_asked_ = false;
};

}  // namespace wsbridge::netproc
