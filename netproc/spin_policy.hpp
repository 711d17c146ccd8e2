#pragma once
// How long netproc polls for work before it sleeps in epoll_wait.

#include <algorithm>
#include <chrono>

namespace wsbridge::netproc {

/// On a request-and-answer exchange a message crosses two pipes and a socket, and each
/// process that sleeps must be woken: on a virtual machine a wake-up of an idle vCPU
/// costs tens of microseconds, which made the echo round trip 1.6 times the
/// single-process client's. Polling briefly before sleeping catches the next event
/// without that wake-up, when events come close together; when they do not, polling
/// would only burn CPU. So the window adapts, as the Linux cpuidle-haltpoll governor's
/// does: a sleep that ended sooner than the largest window grows it (doubling from
/// `start`), a longer one halves it (to zero below `start`). A quiet session sleeps at
/// once; a steady stream of messages is busy anyway.
class spin_policy {
 public:
  using duration = std::chrono::microseconds;
  static constexpr duration start{50};
  static constexpr duration max{200};

  /// How long to poll before the next sleep.
  duration window() const { return window_; }

  /// A sleep (entered after the window passed with no event) lasted `slept`.
  void slept(duration slept) {
    if (slept < max) {
      window_ = std::clamp(window_ * 2, start, max);
    } else {
      window_ /= 2;
      if (window_ < start) window_ = duration::zero();
    }
  }

 private:
  duration window_{0};
};

}  // namespace wsbridge::netproc
