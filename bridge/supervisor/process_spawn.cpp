#include "bridge/supervisor/process_spawn.hpp"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memory>

#include "bridge/common/fd_util.hpp"
#include "bridge/protocol/limits.hpp"

namespace wsbridge {

pid_t spawn_child(const child_spec& spec, const std::function<int()>& body, std::string* err) {
  // Move the descriptors above the fixed numbers first, so the dup2 calls in the child
  // can never overwrite one another.
  std::vector<unique_fd> high(spec.fds.size());
  const std::size_t placed = spec.fds.size();
  for (std::size_t i = 0; i < placed; ++i) {
    if (spec.fds[i] < 0) continue;  // that number stays unused
    high[i].reset(::fcntl(spec.fds[i], F_DUPFD_CLOEXEC, 10));
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
  for (std::size_t i = 0; i < placed; ++i) {
    const int at = child_fd::peer_in + static_cast<int>(i);
    if (!high[i]) ::close(at);  // a gap: whatever the parent had there is not the child's
    else if (::dup2(high[i].get(), at) < 0) ::_exit(limits::child_setup_failed);
  }
  // Everything else the supervisor had open: the other pipe ends, its signalfd, and
  // whatever the user's shell left open to us.
  const int first_unused = child_fd::peer_in + static_cast<int>(placed);
  if (::close_range(static_cast<unsigned>(first_unused), ~0U, 0) != 0) {
    for (int fd = first_unused; fd < 1024; ++fd) ::close(fd);
  }
  if (!spec.supervises) {
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int s : {SIGINT, SIGQUIT, SIGTERM, SIGHUP}) ::signal(s, SIG_IGN);
  }
  ::prctl(PR_SET_NAME, spec.name);
  const int status = body();
  std::fflush(nullptr);
  // _exit: the supervisor's objects on the stack we share a copy of are not ours to
  // destroy, and no atexit handler of its should run twice.
  ::_exit(status);
}

unique_fd watch_signals(std::string* err) {
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGCHLD, SIGINT, SIGTERM, SIGHUP, SIGQUIT}) sigaddset(&set, s);
  ::sigprocmask(SIG_BLOCK, &set, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  unique_fd fd(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!fd) *err = "signalfd: " + errno_text(errno);
  return fd;
}

void read_signals(int fd, const std::function<void(const signalfd_siginfo&)>& on) {
  signalfd_siginfo si;
  while (::read(fd, &si, sizeof si) == sizeof si) on(si);
}

void reap_children(const std::function<void(pid_t, int)>& on) {
  for (;;) {
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid <= 0) return;
    on(pid, status);
  }
}

}  // namespace wsbridge
