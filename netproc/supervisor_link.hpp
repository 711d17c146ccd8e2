#pragma once
// netproc's two pipes with the supervisor: requests come in on one (a close, when the
// user interrupts), reports go out on the other (a redirect, how the connection ended).
// Both carry IPC frames; a frame out of place from the supervisor is fatal.

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <functional>
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

  /// One frame to the supervisor, written at once; false if it is gone.
  bool tell(ipc::frame_type type, std::string_view payload);

 private:
  void read_more();

  boost::asio::posix::stream_descriptor requests_;
  int reports_fd_;
  ipc::frame_decoder decoder_{4096};
};

}  // namespace wsbridge::netproc
