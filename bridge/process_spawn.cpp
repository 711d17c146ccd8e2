#include "bridge/process_spawn.hpp"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <fcntl.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "bridge/fd_util.hpp"
#include "bridge/protocol/limits.hpp"

namespace wsbridge {

pid_t spawn_child(const child_spec& spec, const std::function<int()>& body, std::string* err) {
  // Move the descriptors above the fixed numbers first, so the dup2 calls in the child
  // can never overwrite one another.
  std::array<unique_fd, child_fd::count + 1> high;
  const std::size_t placed = spec.extra >= 0 ? high.size() : spec.fds.size();
  for (std::size_t i = 0; i < placed; ++i) {
    high[i].reset(::fcntl(i < spec.fds.size() ? spec.fds[i] : spec.extra, F_DUPFD_CLOEXEC, 10));
    if (!high[i]) {
      *err = std::string("start ") + spec.name + ": " + errno_text(errno);
      return -1;
    }
  }
  // Anything buffered in stdio now would otherwise be written twice, once by each.
  std::fflush(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    *err = std::string("start ") + spec.name + ": fork: " + errno_text(errno);
    return -1;
  }
  if (pid > 0) return pid;

  // The child. The parent-death signal comes first: from here on, a supervisor that
  // dies takes us with it (it may have died before prctl; then the signal never comes).
  if (spec.parent_death_signal != 0) {
    ::prctl(PR_SET_PDEATHSIG, spec.parent_death_signal);
    if (::getppid() != parent) ::_exit(limits::child_setup_failed);
  }
  static_assert(child_fd::socket == child_fd::peer_in + child_fd::count && child_fd::log == child_fd::socket);
  for (std::size_t i = 0; i < placed; ++i)
    if (::dup2(high[i].get(), child_fd::peer_in + static_cast<int>(i)) < 0) ::_exit(limits::child_setup_failed);
  // Everything else the supervisor had open: the other pipe ends, its signalfd, and
  // whatever the user's shell left open to us.
  const int first_unused = child_fd::peer_in + static_cast<int>(placed);
  if (::close_range(static_cast<unsigned>(first_unused), ~0U, 0) != 0) {
    for (int fd = first_unused; fd < 1024; ++fd) ::close(fd);
  }
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int s : {SIGINT, SIGQUIT, SIGTERM, SIGHUP}) ::signal(s, SIG_IGN);
  ::prctl(PR_SET_NAME, spec.name);
  const int status = body();
  std::fflush(nullptr);
  // _exit: the supervisor's objects on the stack we share a copy of are not ours to
  // destroy, and no atexit handler of its should run twice.
  ::_exit(status);
}

}  // namespace wsbridge
