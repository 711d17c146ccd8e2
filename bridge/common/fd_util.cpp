#include "bridge/common/fd_util.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace wsbridge {

unique_fd& unique_fd::operator=(unique_fd&& o) noexcept {
  if (this != &o) reset(o.release());
  return *this;
}

void unique_fd::reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

int write_all(int fd, std::string_view data) {
  return put_all(data, [fd](std::string_view rest) { return ::write(fd, rest.data(), rest.size()); });
}

ssize_t read_some(int fd, char* buf, std::size_t len) {
  for (;;) {
    const ssize_t n = ::read(fd, buf, len);
    if (n >= 0) return n;
    if (errno != EINTR) return -errno;
  }
}

bool make_pipe(unique_fd& read_end, unique_fd& write_end, std::string* err) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    if (err) *err = "pipe: " + errno_text(errno);
    return false;
  }
  read_end.reset(fds[0]);
  write_end.reset(fds[1]);
  return true;
}

std::string errno_text(int err) { return std::strerror(err); }

}  // namespace wsbridge
