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
  // One entry each, in order (service() relies on it); -1 is not polled (poll(2)).
  const auto now = clock::now();
  for (const auto& h : held_) fds.push_back({now >= h.next_look ? h.fd.get() : -1, POLLIN, 0});
}

void request_gate::look_later(held& h, std::size_t seen) {
  int domain = 0;
  socklen_t len = sizeof domain;
  const int lowat = static_cast<int>(seen + 1);
  if (::getsockopt(h.fd.get(), SOL_SOCKET, SO_DOMAIN, &domain, &len) == 0 && domain != AF_UNIX &&
      ::setsockopt(h.fd.get(), SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof lowat) == 0)
    return;
  h.next_look = clock::now() + limits::request_look_pause;
}

request_gate::look request_gate::look_at(held& h) const {
  // One byte more than a head may hold: a longer one is netproc's to refuse (431).
  static char buf[limits::max_upgrade_head + 1];
  const ssize_t n = ::recv(h.fd.get(), buf, sizeof buf, MSG_PEEK | MSG_DONTWAIT);
  if (n == 0) return look::gone;
  if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? look::waiting : look::gone;
  if (encrypted_ || static_cast<std::size_t>(n) == sizeof buf) return look::complete;
  const std::string_view seen(buf, static_cast<std::size_t>(n));
  if (seen.find("\r\n\r\n") != std::string_view::npos) return look::complete;
  look_later(h, seen.size());
  return look::waiting;
}

void request_gate::service(const pollfd* polled, std::size_t count, const handler& ready, const handler& expired) {
  // held_ and polled are in the same order, and nothing was added in between.
  const auto now = clock::now();
  std::deque<held> still;
  for (std::size_t i = 0; i < held_.size(); ++i) {
    held& h = held_[i];
    const look l = i < count && polled[i].revents != 0 ? look_at(h) : look::waiting;
    if (l == look::complete) {
      const int one = 1;  // netproc reads whatever comes (see look_later)
      ::setsockopt(h.fd.get(), SOL_SOCKET, SO_RCVLOWAT, &one, sizeof one);
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
  if (held_.empty()) return std::nullopt;
  clock::time_point next = held_.front().until;  // oldest first, one deadline for all
  const auto now = clock::now();
  for (const auto& h : held_)
    if (h.next_look > now) next = std::min(next, h.next_look);
  return std::max(std::chrono::milliseconds(0), std::chrono::ceil<std::chrono::milliseconds>(next - now));
}

}  // namespace wsbridge
