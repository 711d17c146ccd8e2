#include "bridge/supervisor/request_gate.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string_view>

#include "bridge/protocol/limits.hpp"

namespace wsbridge {

std::optional<std::string> request_gate::admit(unique_fd fd, std::string peer) {
  std::optional<std::string> dropped;
  if (held_.size() >= capacity_) {
    dropped = std::move(held_.front().peer);
    held_.pop_front();
  }
  held_.push_back({std::move(fd), std::move(peer), clock::now() + deadline_});
  return dropped;
}

void request_gate::add_polls(std::vector<pollfd>& fds) const {
  for (const auto& h : held_) fds.push_back({h.fd.get(), POLLIN, 0});
}

request_gate::look request_gate::look_at(int fd) const {
  // One byte more than a head may hold: a longer one is netproc's to refuse (431).
  static char buf[limits::max_upgrade_head + 1];
  const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_PEEK | MSG_DONTWAIT);
  if (n == 0) return look::gone;
  if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? look::waiting : look::gone;
  if (encrypted_ || static_cast<std::size_t>(n) == sizeof buf) return look::complete;
  const std::string_view seen(buf, static_cast<std::size_t>(n));
  return seen.find("\r\n\r\n") != std::string_view::npos ? look::complete : look::waiting;
}

void request_gate::service(const pollfd* polled, std::size_t count, const handler& ready, const handler& expired) {
  // held_ and polled are in the same order, and nothing was added in between.
  const auto now = clock::now();
  std::deque<held> still;
  for (std::size_t i = 0; i < held_.size(); ++i) {
    held& h = held_[i];
    const look l = i < count && polled[i].revents != 0 ? look_at(h.fd.get()) : look::waiting;
    if (l == look::complete) {
      ready(std::move(h.fd), h.peer);
    } else if (l == look::waiting && now >= h.until) {
      expired(std::move(h.fd), h.peer);
    } else if (l == look::waiting) {
      still.push_back(std::move(h));
    }
  }
  held_.swap(still);
}

std::optional<std::chrono::milliseconds> request_gate::next_deadline() const {
  if (held_.empty()) return std::nullopt;  // (oldest first, one deadline for all: the first is next)
  return std::max(std::chrono::milliseconds(0),
                  std::chrono::ceil<std::chrono::milliseconds>(held_.front().until - clock::now()));
}

}  // namespace wsbridge
