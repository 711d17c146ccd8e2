#include "netproc/io_outbox.hpp"

#include <boost/asio/write.hpp>
#include <cstdio>

#include "bridge/common/fd_util.hpp"
#include "bridge/common/safe_text.hpp"

namespace wsbridge::netproc {

io_outbox::io_outbox(boost::asio::io_context& ioc, int fd) : fd_(fd), pipe_(ioc, fd) {}

void io_outbox::append(ipc::frame_type type, std::string_view payload) { ipc::append_frame(pending_, type, payload); }

void io_outbox::notice(const std::string& step, const std::string& detail) {
  const std::string line = step + ": " + safe_text(detail);
  if (gone_) {
    std::fprintf(stderr, "wsbridge: %s\n", line.c_str());
    return;
  }
  append(ipc::frame_type::notice, line);
  flush();
}

void io_outbox::flush() {
  if (before_write) before_write();
  if (writing_ || gone_ || pending_.empty()) return;
  writing_ = true;
  in_flight_.swap(pending_);
  boost::asio::async_write(pipe_, boost::asio::buffer(in_flight_),
                           [this](boost::system::error_code ec, std::size_t) { on_write(ec); });
}

void io_outbox::on_write(boost::system::error_code ec) {
  writing_ = false;
  in_flight_.clear();
  if (ec) {
    gone_ = true;
    pending_.clear();
    if (on_gone) on_gone();
    return;
  }
  if (on_written) on_written();
}

void io_outbox::flush_now() {
  if (!gone_ && !writing_) write_all(fd_, pending_);
}

}  // namespace wsbridge::netproc
