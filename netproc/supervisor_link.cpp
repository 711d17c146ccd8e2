#include "netproc/supervisor_link.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "bridge/common/fd_util.hpp"
#include "bridge/protocol/exit_codes.hpp"

namespace wsbridge::netproc {

supervisor_link::supervisor_link(boost::asio::io_context& ioc, int requests_fd, int reports_fd)
    : requests_(ioc, requests_fd), reports_fd_(reports_fd) {
  boost::system::error_code ignored;
  requests_.native_non_blocking(true, ignored);
}

void supervisor_link::watch() {
  requests_.async_wait(boost::asio::posix::stream_descriptor::wait_read, [this](boost::system::error_code ec) {
    if (ec) ::_exit(exit_process_died);
    if (!read_ready()) ::_exit(exit_process_died);  // EOF: the supervisor is gone
    watch();
  });
}

bool supervisor_link::read_ready() {
  for (;;) {
    auto space = decoder_.prepare(4096);
    // recvmsg on the server's socket (a descriptor may come with a file answer), read
    // on the client's pipe.
    std::vector<int> got;
    ssize_t n = recv_with_fds(requests_.native_handle(), space.data(), space.size(), got);
    fds_.insert(fds_.end(), got.begin(), got.end());
    if (n == -ENOTSOCK) n = read_some(requests_.native_handle(), space.data(), space.size());
    if (n < 0) return n == -EAGAIN;
    if (n == 0) return false;
    decoder_.commit(static_cast<std::size_t>(n));
    ipc::frame f;
    std::string err;
    for (;;) {
      const auto r = decoder_.next(f, &err);
      if (r == ipc::frame_decoder::result::need_more) break;
      if (r == ipc::frame_decoder::result::error || !on_frame(f, &err)) {
        std::fprintf(stderr, "wsbridge: network process: internal protocol error from supervisor: %s\n",
                     err.empty() ? "unexpected frame" : err.c_str());
        ::_exit(exit_failure);
      }
    }
  }
}

bool supervisor_link::on_frame(const ipc::frame& f, std::string* err) {
  switch (f.type) {
    case ipc::frame_type::close_request: {
      ipc::close_info c;
      if (!ipc::decode_close(f.payload, c, err)) return false;
      if (on_close_request) on_close_request(c);
      return true;
    }
    case ipc::frame_type::file_answer: {
      int fd = -1;
      if (f.payload.starts_with(ipc::file_found)) {
        if (fds_.empty()) return false;  // a file answer without its descriptor
        fd = fds_.front();
        fds_.pop_front();
      }
      // One answer per request: the handler is taken (it may own its caller).
      if (auto handler = std::exchange(on_file_answer, nullptr)) handler(std::string(f.payload), fd);
      else if (fd >= 0) ::close(fd);
      return true;
    }
    case ipc::frame_type::program_pipes: {
      // Its stdin, stdout and stderr, in that order, with the frame.
      if (fds_.size() < 3 || program_started_) return false;
      program_started_ = true;
      const int in = fds_[0], out = fds_[1], errors = fds_[2];
      fds_.erase(fds_.begin(), fds_.begin() + 3);
      if (on_program_pipes) on_program_pipes(in, out, errors);
      else for (int fd : {in, out, errors}) ::close(fd);
      return true;
    }
    case ipc::frame_type::program_exit: {
      int status = 0;
      if (f.payload.empty() || f.payload.size() > 10) return false;
      for (char c : f.payload) {
        if (c < '0' || c > '9') return false;
        status = status * 10 + (c - '0');
      }
      if (on_program_exit) on_program_exit(status);
      return true;
    }
    default:
      return false;
  }
}

bool supervisor_link::start_program(std::string_view opened) {
  if (std::exchange(program_asked_, true)) return true;
  return tell(ipc::frame_type::program_start, opened);
}

bool supervisor_link::tell(ipc::frame_type type, std::string_view payload) {
  std::string frame;
  ipc::append_frame(frame, type, payload);
  // The channel may be non-blocking (a server's channel is also the requests' socket,
  // which Asio watches): a full socket waits for the supervisor to read, as a blocking
  // write would.
  std::string_view rest = frame;
  while (!rest.empty()) {
    const ssize_t n = ::write(reports_fd_, rest.data(), rest.size());
    if (n > 0) {
      rest.remove_prefix(static_cast<std::size_t>(n));
    } else if (n < 0 && errno == EAGAIN) {
      pollfd p{reports_fd_, POLLOUT, 0};
      ::poll(&p, 1, -1);
    } else if (!(n < 0 && errno == EINTR)) {
      return false;
    }
  }
  return true;
}

}  // namespace wsbridge::netproc
