#include "netproc/supervisor_link.hpp"

#include <unistd.h>

#include <cstdio>
#include <string>

#include "bridge/common/fd_util.hpp"
#include "bridge/protocol/exit_codes.hpp"

namespace wsbridge::netproc {

supervisor_link::supervisor_link(boost::asio::io_context& ioc, int requests_fd, int reports_fd)
    : requests_(ioc, requests_fd), reports_fd_(reports_fd) {}

void supervisor_link::watch() { read_more(); }

void supervisor_link::read_more() {
  auto space = decoder_.prepare(4096);
  requests_.async_read_some(boost::asio::buffer(space.data(), space.size()),
                            [this](boost::system::error_code ec, std::size_t n) {
                              if (ec) ::_exit(exit_process_died);
                              decoder_.commit(n);
                              ipc::frame f;
                              std::string err;
                              for (;;) {
                                const auto r = decoder_.next(f, &err);
                                if (r == ipc::frame_decoder::result::need_more) break;
                                ipc::close_info c;
                                if (r == ipc::frame_decoder::result::error || f.type != ipc::frame_type::close_request ||
                                    !ipc::decode_close(f.payload, c, &err)) {
                                  std::fprintf(stderr, "wsbridge: network process: internal protocol error from "
                                                       "supervisor: %s\n", err.empty() ? "unexpected frame" : err.c_str());
                                  ::_exit(exit_failure);
                                }
                                if (on_close_request) on_close_request(c);
                              }
                              read_more();
                            });
}

bool supervisor_link::tell(ipc::frame_type type, std::string_view payload) {
  std::string frame;
  ipc::append_frame(frame, type, payload);
  return write_all(reports_fd_, frame) == 0;
}

}  // namespace wsbridge::netproc
