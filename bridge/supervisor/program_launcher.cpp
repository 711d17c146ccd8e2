// Boost.Process v2, header-only in this one translation unit, on std::filesystem.
#define BOOST_PROCESS_USE_STD_FS 1
#include "bridge/supervisor/program_launcher.hpp"

// Boost 1.81's Process v2 on std::filesystem names boost::optional, boost's
// remove_pointer and std's type traits without including them: included first.
#include <boost/optional.hpp>
#include <boost/type_traits/remove_pointer.hpp>
#include <memory>
#include <type_traits>

#include <boost/asio/io_context.hpp>
#include <boost/process/v2/environment.hpp>
#include <boost/process/v2/posix/vfork_launcher.hpp>
#include <boost/process/v2/process.hpp>
#include <boost/process/v2/stdio.hpp>
#include <csignal>
#include <cstring>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>

#include "bridge/protocol/ipc.hpp"

extern char** environ;

namespace wsbridge {
namespace {

namespace bp = boost::process::v2;

/// What the program's process does between vfork and execve (Boost.Process calls
/// on_exec_setup there). Only system calls: the child shares our memory until it
/// execs, so nothing here may allocate, take a lock or touch a global.
struct program_setup {
  pid_t parent;
  long uid, gid;
  rlim_t nofile;

  template <class Launcher>
  bp::error_code on_exec_setup(Launcher&, const std::filesystem::path&, const char* const*&) const {
    // Its own process group: what it starts (`sleep 30 &`) is ended with it.
    ::setpgid(0, 0);
    // It dies with the listener (the thread rule of PR_SET_PDEATHSIG holds: the
    // listener is one thread), and a listener already gone leaves it nothing to serve.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) return bp::error_code(ESRCH, bp::system_category());
    // The listener blocks its signals for its signalfd and ignores SIGPIPE; a program
    // gets a normal process's mask and dispositions.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int s : {SIGINT, SIGQUIT, SIGTERM, SIGHUP, SIGPIPE, SIGUSR1, SIGCHLD}) ::signal(s, SIG_DFL);
    // The listener raised its descriptor limit; programs expect the usual one
    // (select() and FD_SETSIZE).
    rlimit r{};
    if (::getrlimit(RLIMIT_NOFILE, &r) == 0) {
      r.rlim_cur = std::min(nofile, r.rlim_max);
      ::setrlimit(RLIMIT_NOFILE, &r);
    }
    // --user: the group first (setgid needs root), no supplementary group of ours, and
    // for good (all three ids). Raw system calls: glibc's wrappers would signal the
    // other threads of a process, and this one shares our memory.
    if (uid >= 0 && (::syscall(SYS_setgroups, 0, nullptr) != 0 || ::syscall(SYS_setresgid, gid, gid, gid) != 0 ||
                     ::syscall(SYS_setresuid, uid, uid, uid) != 0))
      return bp::error_code(errno, bp::system_category());
    return {};
  }

  /// After a failed execve: leave without running exit handlers, which in a vfork
  /// child would run the listener's (Boost.Process calls exit() after this).
  template <class Launcher>
  void on_exec_error(Launcher&, const std::filesystem::path&, const char* const*&, const bp::error_code&) const {
    ::_exit(127);
  }
};

bool allowed_to_inherit(std::string_view entry) {
  // Systemd's socket-activation variables are removed at start (listener.cpp); the
  // program's own are set below, never inherited from whoever started us.
  return !entry.starts_with("WSBRIDGE_SUBPROTOCOL=") && !entry.starts_with("WSBRIDGE_URL=");
}

}  // namespace

program_launcher::program_launcher(program_spec spec) : spec_(std::move(spec)) {
  for (char** e = environ; e && *e; ++e)
    if (allowed_to_inherit(*e)) base_env_.emplace_back(*e);
}

std::vector<std::string> program_launcher::environment(std::string_view opened) const {
  // subprotocol \n extensions [\n environment lines]
  std::vector<std::string> env = base_env_;
  const auto set = [&env](std::string line) {
    const std::string_view name = std::string_view(line).substr(0, line.find('=') + 1);
    std::erase_if(env, [&](const std::string& e) { return e.starts_with(name); });
    env.push_back(std::move(line));
  };
  const std::size_t first = opened.find('\n');
  set("WSBRIDGE_SUBPROTOCOL=" + std::string(opened.substr(0, first)));
  const std::size_t second = first == std::string_view::npos ? first : opened.find('\n', first + 1);
  std::string_view lines = second == std::string_view::npos ? std::string_view() : opened.substr(second + 1);
  while (!lines.empty()) {
    const std::size_t end = std::min(lines.find('\n'), lines.size());
    const std::string_view line = lines.substr(0, end);
    lines.remove_prefix(std::min(end + 1, lines.size()));
    if (ipc::program_variable_allowed(line)) set(std::string(line));
  }
  return env;
}

bool program_launcher::start(std::string_view opened, started_program& out, std::string* err, int* status) {
  const std::string& name = spec_.argv.front();
  // As execvp: a name with a slash is a path, anything else is looked for in PATH.
  const std::filesystem::path exe =
      name.find('/') != std::string::npos ? std::filesystem::path(name) : bp::environment::find_executable(name);
  if (exe.empty()) {
    *err = "exec " + name + ": not found in PATH";
    *status = 127 << 8;  // the shell's "command not found"
    return false;
  }
  unique_fd in_r, in_w, out_r, out_w, err_r, err_w;
  if (!make_pipe(in_r, in_w, err) || !make_pipe(out_r, out_w, err) || !make_pipe(err_r, err_w, err)) {
    *status = 126 << 8;
    return false;
  }
  const std::vector<std::string> env = environment(opened);
  std::vector<const char*> envp;
  envp.reserve(env.size() + 1);
  for (const auto& e : env) envp.push_back(e.c_str());
  envp.push_back(nullptr);
  // An execution context Boost.Process requires and that never runs: the exit is
  // observed on the listener's own loop (SIGCHLD, waitpid), and the process is
  // detached. A fresh one each time, with no reactor yet: the launcher tells the
  // context of the fork in the vfork child too, and a reactor there would reopen its
  // descriptors in memory it shares with us (Asio's fork_child handling).
  boost::asio::io_context unused;
  bp::posix::vfork_launcher launcher;
  launcher.env = envp.data();
  bp::error_code ec;
  const std::vector<std::string> args(spec_.argv.begin() + 1, spec_.argv.end());
  auto proc = launcher(unused.get_executor(), ec, exe, args, bp::process_stdio{in_r.get(), out_w.get(), err_w.get()},
                       program_setup{::getpid(), spec_.uid, spec_.gid, static_cast<rlim_t>(spec_.nofile)});
  if (ec) {
    if (launcher.pid > 0) ::waitpid(launcher.pid, nullptr, 0);  // it left with _exit(127)
    *err = "exec " + name + ": " + ec.message();
    *status = (ec.value() == ENOENT ? 127 : 126) << 8;  // the shell's codes for "not found" and "cannot run"
    return false;
  }
  out.pid = proc.id();
  proc.detach();  // its exit is the listener's to see; the handle would otherwise kill it
  out.to_stdin = std::move(in_w);
  out.from_stdout = std::move(out_r);
  out.from_stderr = std::move(err_r);
  return true;
}

}  // namespace wsbridge
