#include "bridge/sandbox.hpp"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <seccomp.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <grp.h>

#include "bridge/fd_util.hpp"

namespace wsbridge::sandbox {
namespace {

status_board* trap_board = nullptr;

/// SIGSYS from SCMP_ACT_TRAP: record the call, then leave. Async-signal-safe.
extern "C" void on_trapped_syscall(int, siginfo_t* info, void*) {
  if (trap_board) trap_board->sandbox_syscall.store(info->si_syscall, std::memory_order_relaxed);
  ::_exit(126);
}

/// Releases the filter context on every path.
struct filter {
  scmp_filter_ctx ctx;
  explicit filter(std::uint32_t default_action) : ctx(seccomp_init(default_action)) {}
  ~filter() {
    if (ctx) seccomp_release(ctx);
  }
  bool rule(std::uint32_t action, const char* name) {
    const int nr = seccomp_syscall_resolve_name(name);
    return nr == __NR_SCMP_ERROR || seccomp_rule_add(ctx, action, nr, 0) == 0;  // absent here: fine
  }
};

bool no_new_privs(std::string* err) {
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    *err = "PR_SET_NO_NEW_PRIVS: " + errno_text(errno);
    return false;
  }
  return true;
}

bool load(filter& f, std::string* err) {
  if (!f.ctx) {
    *err = "seccomp_init failed";
    return false;
  }
  if (const int rc = seccomp_load(f.ctx); rc != 0) {
    *err = "seccomp unavailable (" + errno_text(-rc) + ")";
    return false;
  }
  return true;
}

}  // namespace

bool drop_root(int parent_death_signal, std::string* err) {
  if (::geteuid() != 0) return true;
  // 65534 is `nobody` and `nogroup` on Debian (and on most systems: it is also the
  // kernel's overflow id); all that matters is an id that owns nothing. It is not
  // looked up: getpwnam() ran the whole NSS machinery as root in the process that is
  // about to face the network (nsswitch.conf, nscd, /etc/passwd, and LDAP or SSSD
  // where they are configured), which took 1.4 ms of every start-up as root.
  constexpr uid_t uid = 65534;
  constexpr gid_t gid = 65534;
  if (::setgroups(0, nullptr) != 0 || ::setresgid(gid, gid, gid) != 0 || ::setresuid(uid, uid, uid) != 0) {
    *err = "cannot become the unprivileged user 65534 (nobody): " + errno_text(errno);
    return false;
  }
  // The kernel clears PR_SET_PDEATHSIG when credentials change.
  const pid_t parent = ::getppid();
  ::prctl(PR_SET_PDEATHSIG, parent_death_signal);
  if (::getppid() != parent || parent == 1) ::_exit(126);
  return true;
}

bool lock_down_network_process(status_board& board, std::string* applied, std::string* err) {
  // No new processes, no file writes, few descriptors, bounded memory. The memory cap
  // leaves room for the largest message (64 MiB) several times over.
  const rlimit zero{0, 0};
  ::setrlimit(RLIMIT_NPROC, &zero);
  ::setrlimit(RLIMIT_FSIZE, &zero);
  // stderr may be a file (2>log): a last-resort message there fails with EFBIG instead
  // of killing us with SIGXFSZ. (Messages normally go to ioproc through the pipe.)
  ::signal(SIGXFSZ, SIG_IGN);
  const rlimit files{32, 32};
  ::setrlimit(RLIMIT_NOFILE, &files);
  const rlimit memory{1ull << 30, 1ull << 30};
  ::setrlimit(RLIMIT_AS, &memory);
  *applied = "rlimits (no processes, no file writes, 32 descriptors, 1 GiB)";
  if (!no_new_privs(err)) return false;
  *applied += ", no new privileges";

  trap_board = &board;
  struct sigaction sa {};
  sa.sa_sigaction = on_trapped_syscall;
  sa.sa_flags = SA_SIGINFO;
  ::sigaction(SIGSYS, &sa, nullptr);

  // What an Asio + Beast client uses once connected (measured with strace; see
  // PITFALLS.md), and nothing else.
  filter f(SCMP_ACT_TRAP);
  static const char* const allowed[] = {
      "read", "write", "readv", "writev", "recvmsg", "sendmsg", "recvfrom", "sendto", "close",
      "shutdown", "epoll_wait", "epoll_pwait", "epoll_ctl", "timerfd_settime", "eventfd2", "ioctl",
      "fcntl", "getpid", "gettid", "brk", "mmap", "munmap", "mremap", "madvise", "mprotect", "lseek",
      "futex", "rt_sigprocmask", "rt_sigreturn", "rt_sigaction", "clock_gettime", "clock_nanosleep",
      "nanosleep", "getrandom", "exit", "exit_group", "restart_syscall", "sched_yield",
      "getsockopt", "setsockopt", "fstat", "poll", "ppoll"};
  for (const char* name : allowed)
    if (!f.rule(SCMP_ACT_ALLOW, name)) {
      *err = std::string("seccomp rule for ") + name;
      return false;
    }
  // Opening or inspecting files fails politely (OpenSSH's choice), so a library that
  // tries gets an error instead of killing us; a new socket likewise.
  for (const char* name : {"open", "openat", "openat2", "stat", "lstat", "newfstatat", "statx", "access",
                           "faccessat", "faccessat2", "socket", "socketpair"})
    if (!f.rule(SCMP_ACT_ERRNO(EACCES), name)) {
      *err = std::string("seccomp rule for ") + name;
      return false;
    }
  if (!load(f, err)) return false;
  *applied += ", seccomp filter (" + std::to_string(std::size(allowed)) + " system calls allowed)";
  return true;
}

bool lock_down_terminal_process(std::string* applied, std::string* err) {
  if (!no_new_privs(err)) return false;
  *applied = "no new privileges";
  filter f(SCMP_ACT_ALLOW);
  for (const char* name : {"socket", "socketpair", "execve", "execveat"})
    if (!f.rule(SCMP_ACT_ERRNO(EACCES), name)) {
      *err = std::string("seccomp rule for ") + name;
      return false;
    }
  if (!load(f, err)) return false;
  *applied += ", seccomp filter (no sockets, no exec)";
  return true;
}

std::string syscall_name(int nr) {
  char* name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
  if (!name) return "number " + std::to_string(nr);
  std::string s(name);
  std::free(name);
  return s;
}

}  // namespace wsbridge::sandbox
