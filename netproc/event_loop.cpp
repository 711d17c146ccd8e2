#include "netproc/event_loop.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <chrono>
#include <sched.h>

#include "netproc/spin_policy.hpp"

namespace wsbridge::netproc {

namespace net = boost::asio;

net::io_context& completions() {
  static net::io_context ctx{1};
  static auto guard = net::make_work_guard(ctx);  // never "out of work": poll() keeps working
  return ctx;
}

void run_loop(net::io_context& ioc) {
  using clock = std::chrono::steady_clock;
  spin_policy spin;
  for (;;) {
    // poll_one runs a ready handler, or the reactor without blocking.
    const auto until = clock::now() + spin.window();
    bool ran = false;
    do {
      ran = ioc.poll_one() != 0;
      if (!ran) ::sched_yield();  // a polling process gives way to any that can run
    } while (!ran && spin.window() > spin_policy::duration::zero() && clock::now() < until);
    if (!ran) {
      const auto before = clock::now();
      if (ioc.run_one() == 0) return;
      spin.slept(std::chrono::duration_cast<spin_policy::duration>(clock::now() - before));
    }
    completions().poll();
  }
}

}  // namespace wsbridge::netproc
