#pragma once
// netproc's event loop: Asio's, with message completions drained after each handler
// and a short poll before sleeping (spin_policy.hpp).

#include <boost/asio/io_context.hpp>

namespace wsbridge::netproc {

/// Where message completions run. Beast completes every async_read by posting its
/// handler, and Asio's scheduler runs the reactor (an epoll_wait system call) between
/// any two posted handlers: one system call per message received. Handlers bound to
/// this second io_context, which owns no I/O objects and so has no reactor, are queued
/// here instead and run by run_loop() after each handler of the main context: a burst
/// of buffered messages costs no system call at all.
boost::asio::io_context& completions();

/// The event loop: each handler of the main context, then whatever it queued on
/// completions(). Before sleeping it polls for spin_policy's window (spin_policy.hpp).
/// netproc always leaves through _exit, never by running out of work.
void run_loop(boost::asio::io_context& ioc);

}  // namespace wsbridge::netproc
