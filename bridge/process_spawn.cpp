#include "bridge/process_spawn.hpp"

#include <boost/process/args.hpp>
#include <boost/process/child.hpp>
#include <boost/process/exe.hpp>
#include <boost/process/extend.hpp>
#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <limits.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "bridge/fd_util.hpp"

namespace bp = boost::process;

namespace wsbridge {
namespace {

/// The path of this executable, so that the child's argv[0] and its name in ps are
/// "wsbridge" rather than "exe".
std::string self_path() {
  char buf[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "/proc/self/exe";
  std::string p(buf, static_cast<std::size_t>(n));
  // A binary replaced while running reads as "path (deleted)"; the link still works.
  if (p.ends_with(" (deleted)")) return "/proc/self/exe";
  return p;
}

}  // namespace

pid_t spawn_child(const child_spec& spec, std::string* err) {
  // Move the descriptors above the fixed numbers first (still close-on-exec), so the
  // dup2 calls in the child can never overwrite one another.
  std::array<unique_fd, child_fd::count> high;
  for (std::size_t i = 0; i < spec.fds.size(); ++i) {
    high[i].reset(::fcntl(spec.fds[i], F_DUPFD_CLOEXEC, 10));
    if (!high[i]) {
      *err = "spawn " + spec.role + ": " + errno_text(errno);
      return -1;
    }
  }
  const pid_t parent = ::getpid();
  const int death_signal = spec.parent_death_signal;
  std::vector<std::string> args;
  args.push_back("--role=" + spec.role);
  args.insert(args.end(), spec.args.begin(), spec.args.end());

  // Runs in the child between fork and exec: async-signal-safe calls only.
  auto setup = [&](auto& /*executor*/) {
    for (std::size_t i = 0; i < high.size(); ++i)
      if (::dup2(high[i].get(), child_fd::peer_in + static_cast<int>(i)) < 0) ::_exit(126);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int s : {SIGINT, SIGQUIT, SIGTERM, SIGHUP}) ::signal(s, SIG_IGN);
    if (death_signal != 0) {
      ::prctl(PR_SET_PDEATHSIG, death_signal);
      // The supervisor may have died before prctl; then the signal would never come.
      if (::getppid() != parent) ::_exit(126);
    }
  };

  std::error_code ec;
  bp::child c(bp::exe = self_path(), bp::args = args, bp::extend::on_exec_setup = setup, ec);
  if (ec) {
    *err = "spawn " + spec.role + ": " + ec.message();
    return -1;
  }
  const pid_t pid = c.id();
  // The supervisor reaps its children itself (waitpid(-1) on SIGCHLD), so the
  // Boost.Process handle must neither wait for nor terminate this one.
  c.detach();
  return pid;
}

}  // namespace wsbridge
