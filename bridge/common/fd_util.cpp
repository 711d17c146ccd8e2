#include "bridge/common/fd_util.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/uio.h>
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

bool make_socket_pair(unique_fd& a, unique_fd& b, std::string* err) {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    if (err) *err = "socketpair: " + errno_text(errno);
    return false;
  }
  a.reset(fds[0]);
  b.reset(fds[1]);
  return true;
}

int send_with_fds(int sock, std::string_view data, std::span<const int> fds) {
  if (data.empty() || fds.empty() || fds.size() > max_fds_per_message) return EINVAL;
  iovec iov{const_cast<char*>(data.data()), data.size()};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * max_fds_per_message)] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
  std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  ssize_t n;
  do n = ::sendmsg(sock, &msg, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (n < 0) return errno;
  // The descriptors went with the first byte; the rest, if any, as plain bytes.
  return write_all(sock, data.substr(static_cast<std::size_t>(n)));
}

ssize_t recv_with_fds(int sock, void* buf, std::size_t len, std::vector<int>& fds) {
  iovec iov{buf, len};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * max_fds_per_message)];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  do n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n < 0) return -errno;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
      for (std::size_t i = 0; CMSG_LEN(sizeof(int) * (i + 1)) <= c->cmsg_len; ++i) {
        int fd;
        std::memcpy(&fd, CMSG_DATA(c) + sizeof(int) * i, sizeof fd);
        fds.push_back(fd);
      }
  return n;
}

int send_with_fd(int sock, std::string_view data, int fd) { return send_with_fds(sock, data, std::span<const int>(&fd, 1)); }

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
