#pragma once
// Small POSIX helpers: an owning descriptor and EINTR-safe whole reads and writes.

#include <cerrno>
#include <cstddef>
#include <string>
#include <span>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace wsbridge {

/// Owns a file descriptor; -1 when empty.
class unique_fd {
 public:
  unique_fd() = default;
  explicit unique_fd(int fd) : fd_(fd) {}
  unique_fd(unique_fd&& o) noexcept : fd_(o.release()) {}
  unique_fd& operator=(unique_fd&& o) noexcept;
  unique_fd(const unique_fd&) = delete;
  unique_fd& operator=(const unique_fd&) = delete;
  ~unique_fd() { reset(); }

  int get() const { return fd_; }
  int release() { int f = fd_; fd_ = -1; return f; }
  void reset(int fd = -1);
  explicit operator bool() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

/// Hands all of `data` to `put` (a call like write(2): bytes taken, or -1 and errno),
/// retrying on EINTR and short writes. Returns 0 or the errno.
template <class Put>
int put_all(std::string_view data, Put&& put) {
  while (!data.empty()) {
    const ssize_t n = put(data);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return 0;
}

/// Writes all of `data` (put_all with write(2)). Returns 0 or the errno.
int write_all(int fd, std::string_view data);

/// One read(2), retried on EINTR. Returns bytes read, 0 at EOF, -errno on error.
ssize_t read_some(int fd, char* buf, std::size_t len);

/// Creates a pipe whose both ends are close-on-exec. Returns false and fills *err.
bool make_pipe(unique_fd& read_end, unique_fd& write_end, std::string* err);

/// A connected pair of Unix stream sockets (close-on-exec): a channel that can carry
/// descriptors (SCM_RIGHTS) as well as bytes. Returns false and fills *err.
bool make_socket_pair(unique_fd& a, unique_fd& b, std::string* err);

/// Writes all of `data` to the Unix socket `sock`, with descriptor `fd` attached to its
/// first byte (SCM_RIGHTS, unix(7)). Returns 0 or the errno.
int send_with_fd(int sock, std::string_view data, int fd);
/// The same with up to max_fds_per_message descriptors (a program's three pipes).
inline constexpr std::size_t max_fds_per_message = 4;
int send_with_fds(int sock, std::string_view data, std::span<const int> fds);

/// One recvmsg(2) on a Unix socket, retried on EINTR: up to `len` bytes into `buf`, and
/// every descriptor that came with them appended to `fds` (close-on-exec; the caller
/// owns them). Returns bytes read, 0 at EOF, -errno on error.
ssize_t recv_with_fds(int sock, void* buf, std::size_t len, std::vector<int>& fds);

/// "Broken pipe" style text for an errno.
std::string errno_text(int err);

}  // namespace wsbridge
