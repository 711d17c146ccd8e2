#include "ioproc/wrapped_program.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sys/syscall.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#include "bridge/protocol/ipc.hpp"
#include "bridge/protocol/limits.hpp"
#include "bridge/protocol/child_fd.hpp"

namespace wsbridge {
namespace {

/// In the launcher: read the go message ("1" + the `opened` payload) until EOF.
/// False: no go.
bool wait_for_go(int fd, std::string& opened) {
  std::string msg;
  char buf[512];
  for (;;) {
    const ssize_t n = read_some(fd, buf, sizeof buf);
    if (n <= 0) break;
    msg.append(buf, static_cast<std::size_t>(n));
  }
  if (msg.empty() || msg[0] != '1') return false;
  opened = msg.substr(1);
  return true;
}

/// The `opened` payload's environment lines (server mode), each checked: they come
/// from netproc, which parsed a client's bytes (ipc.hpp, program_variable_allowed).
void set_program_environment(std::string_view lines) {
  while (!lines.empty()) {
    const std::size_t end = std::min(lines.find('\n'), lines.size());
    const std::string line(lines.substr(0, end));
    lines.remove_prefix(std::min(end + 1, lines.size()));
    if (!ipc::program_variable_allowed(line)) continue;
    const std::size_t eq = line.find('=');
    ::setenv(line.substr(0, eq).c_str(), line.c_str() + eq + 1, 1);
  }
}

[[noreturn]] void run_launcher(const io_settings& cfg, pid_t parent, int go, int program_in, int program_out,
                               int program_err) {
  // The program must not outlive ioproc (if ioproc is killed, nobody would end it).
  // The thread rule of PR_SET_PDEATHSIG holds: ioproc forks from its main thread.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(limits::child_setup_failed);
  // Its own process group, so that whatever it starts (`sleep 30 &`) can be signalled
  // with it when the connection ends (also set by ioproc, whichever runs first).
  ::setpgid(0, 0);
  // Our copies of the wsbridge pipes would hide an EOF that tells the other processes
  // that ioproc is gone.
  for (int fd = child_fd::peer_in; fd < child_fd::peer_in + child_fd::count; ++fd) ::close(fd);
  std::string opened;
  if (!wait_for_go(go, opened)) ::_exit(0);
  // subprotocol \n extensions [\n environment]
  const std::size_t first = opened.find('\n');
  const std::string subprotocol = opened.substr(0, first);
  const std::size_t second = first == std::string::npos ? first : opened.find('\n', first + 1);
  // ioproc ignores these (the supervisor decides about signals); the program must
  // get a normal process's dispositions, so that Ctrl+C reaches it.
  for (int s : {SIGINT, SIGQUIT, SIGTERM, SIGHUP, SIGPIPE, SIGUSR1}) ::signal(s, SIG_DFL);
  if (::dup2(program_in, STDIN_FILENO) < 0 || ::dup2(program_out, STDOUT_FILENO) < 0 ||
      (program_err >= 0 && ::dup2(program_err, STDERR_FILENO) < 0))
    ::_exit(limits::child_setup_failed);
  // --user: root gives the program away, group first (setgid needs root), with no
  // supplementary group of ours left, and for good (setuid as root sets all three ids).
  if (cfg.program_uid >= 0 &&
      (::setgroups(0, nullptr) != 0 || ::setgid(static_cast<gid_t>(cfg.program_gid)) != 0 ||
       ::setuid(static_cast<uid_t>(cfg.program_uid)) != 0)) {
    std::fprintf(stderr, "wsbridge: --user: %s\n", errno_text(errno).c_str());
    ::_exit(limits::child_setup_failed);
  }
  if (!cfg.server()) ::setenv("WSBRIDGE_URL", cfg.display.c_str(), 1);  // without a password
  ::setenv("WSBRIDGE_SUBPROTOCOL", subprotocol.c_str(), 1);
  if (cfg.server() && second != std::string::npos) set_program_environment(std::string_view(opened).substr(second + 1));
  std::vector<char*> argv;
  for (const auto& a : cfg.exec) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  ::execvp(argv[0], argv.data());  // every other descriptor is close-on-exec
  const int e = errno;
  std::fprintf(stderr, "wsbridge: exec %s: %s\n", cfg.exec[0].c_str(), errno_text(e).c_str());
  ::_exit(e == ENOENT ? 127 : limits::child_setup_failed);  // the shell's codes for "not found" and "cannot run"
}

}  // namespace

bool wrapped_program::prepare(const io_settings& cfg, std::string* err) {
  // The program's descendants that lose their parent become ours (tini's way), so
  // that end_group() can reap them; ioproc has no other children.
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  unique_fd go_r, in_r, out_w;
  if (!make_pipe(go_r, go_, err) || !make_pipe(in_r, to_program_, err) || !make_pipe(from_program_, out_w, err))
    return false;
  // Server mode: many programs share our stderr; ioproc prefixes each of their lines
  // with the connection (stderr_relay).
  unique_fd err_w;
  if (cfg.server() && !make_pipe(errors_from_program_, err_w, err)) return false;
  const pid_t parent = ::getpid();
  std::fflush(nullptr);
  pid_ = ::fork();
  if (pid_ < 0) {
    *err = "exec: fork: " + errno_text(errno);
    return false;
  }
  if (pid_ == 0) {
    // ioproc's ends: held here, they would hide the EOFs that end the launcher's wait
    // and the program's input.
    go_.reset();
    to_program_.reset();
    from_program_.reset();
    errors_from_program_.reset();
    run_launcher(cfg, parent, go_r.get(), in_r.get(), out_w.get(), err_w ? err_w.get() : -1);
  }
  ::setpgid(pid_, pid_);  // EACCES once it has exec'd: it did this itself first
  // glibc 2.36's <sys/pidfd.h> lacks extern "C", so the system call directly.
  pidfd_.reset(static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0)));
  return true;
}

void wrapped_program::start(std::string_view opened) {
  if (started_ || !go_) return;
  started_ = true;
  std::string msg = "1";
  msg.append(opened);
  write_all(go_.get(), msg);
  go_.reset();
}

bool wrapped_program::poll_exit() {
  if (reaped_) return true;
  // With peek_exit's lock: between this waitpid and reaped_, the exit would be seen by
  // neither (a failed program reported as a success, Close 1000 instead of 1011).
  const std::lock_guard lock(reap_mutex_);
  if (reaped_) return true;
  int status = 0;
  const pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r != pid_) return false;
  wait_status_ = status;
  reaped_.store(true, std::memory_order_release);
  return true;
}

std::optional<int> wrapped_program::peek_exit(std::chrono::milliseconds wait) const {
  if (pidfd_) {
    pollfd p{pidfd_.get(), POLLIN, 0};
    ::poll(&p, 1, static_cast<int>(wait.count()));
  }
  const std::lock_guard lock(reap_mutex_);
  siginfo_t info{};
  if (::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid_)
    return info.si_code == CLD_EXITED ? (info.si_status & 0xff) << 8 : info.si_status & 0x7f;  // as waitpid's
  if (reaped_.load(std::memory_order_acquire)) return wait_status_;  // poll_exit was first
  return std::nullopt;
}

bool wrapped_program::wait_exit(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!poll_exit()) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    if (pidfd_) {
      pollfd p{pidfd_.get(), POLLIN, 0};
      ::poll(&p, 1, static_cast<int>(left.count()));
    } else {  // kernel without pidfd_open (before 5.3): poll the wait status
      ::poll(nullptr, 0, static_cast<int>(std::min<long long>(left.count(), 10)));
    }
  }
  return true;
}

int wrapped_program::finish(std::chrono::milliseconds grace, bool* killed_by_us) {
  *killed_by_us = false;
  go_.reset();           // a launcher still waiting exits
  to_program_.reset();   // EOF on the program's stdin
  if (pid_ <= 0) return 0;
  if (!wait_exit(grace)) {
    *killed_by_us = true;
    ::kill(-pid_, SIGTERM);
    if (!wait_exit(grace)) {
      ::kill(-pid_, SIGKILL);
      wait_exit(std::chrono::hours(1));  // SIGKILL cannot be refused
    }
  }
  end_group(grace);
  return wait_status_;
}

void wrapped_program::end_group(std::chrono::milliseconds grace) {
  // What the program started and left behind is in its process group (unless it made
  // a session or group of its own). No process outlives its connection: SIGTERM, a
  // grace, then SIGKILL, reaping them as they end (they are ours: subreaper).
  if (::kill(-pid_, SIGTERM) != 0) return;  // ESRCH: nobody left
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (std::chrono::steady_clock::now() < deadline) {
    while (::waitpid(-pid_, nullptr, WNOHANG) > 0) {}
    if (::kill(-pid_, 0) != 0) return;
    ::poll(nullptr, 0, 10);
  }
  ::kill(-pid_, SIGKILL);
  while (::waitpid(-pid_, nullptr, 0) > 0) {}
}

}  // namespace wsbridge
