#include "bridge/common/sandbox.hpp"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <grp.h>

#include "bridge/common/fd_util.hpp"
#include "bridge/protocol/limits.hpp"
#include "bridge/common/seccomp_filters.hpp"  // generated

namespace wsbridge::sandbox {
namespace {

status_board* trap_board = nullptr;

/// SIGSYS from SCMP_ACT_TRAP: record the call, then leave. Async-signal-safe.
extern "C" void on_trapped_syscall(int, siginfo_t* info, void*) {
  if (trap_board) trap_board->sandbox_syscall.store(info->si_syscall, std::memory_order_relaxed);
  ::_exit(limits::child_setup_failed);
}

bool no_new_privs(std::string* err) {
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    *err = "PR_SET_NO_NEW_PRIVS: " + errno_text(errno);
    return false;
  }
  return true;
}

/// Installs a program compiled at build time (seccomp_policy.cpp).
template <std::size_t N>
bool load(const sock_filter (&program)[N], std::string* err) {
  const sock_fprog prog{static_cast<unsigned short>(N), const_cast<sock_filter*>(program)};
  if (::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) {
    *err = "seccomp unavailable (" + errno_text(errno) + ")";
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
  if (::getppid() != parent || parent == 1) ::_exit(limits::child_setup_failed);
  return true;
}

bool lock_down_network_process(status_board& board, std::string* applied, std::string* err, bool* fatal) {
  *fatal = false;
  // No new processes, no file writes, few descriptors, bounded memory. The memory cap
  // leaves room for the largest message (64 MiB) several times over.
  // A limit that cannot be set is fatal, not reported as applied (OpenSSH's rule).
  const auto limit = [err, fatal](int resource, rlim_t value, const char* what) {
    const rlimit r{value, value};
    if (::setrlimit(resource, &r) == 0) return true;
    *err = std::string("setrlimit ") + what + ": " + errno_text(errno);
    *fatal = true;
    return false;
  };
  if (!limit(RLIMIT_NPROC, 0, "RLIMIT_NPROC") || !limit(RLIMIT_FSIZE, 0, "RLIMIT_FSIZE")) return false;
  // stderr may be a file (2>log): a last-resort message there fails with EFBIG instead
  // of killing us with SIGXFSZ. (Messages normally go to ioproc through the pipe.)
  ::signal(SIGXFSZ, SIG_IGN);
  if (!limit(RLIMIT_NOFILE, limits::network_max_files, "RLIMIT_NOFILE")) return false;
#ifndef WSBRIDGE_SANITIZE
  if (!limit(RLIMIT_AS, limits::network_max_address_space, "RLIMIT_AS")) return false;
  *applied = "rlimits (no processes, no file writes, 32 descriptors, 1 GiB)";
#else
  // AddressSanitizer maps its shadow memory (terabytes of address space) at start; an
  // address-space limit cannot apply to this build (CMakeLists.txt, WSBRIDGE_SANITIZE).
  *applied = "rlimits (no processes, no file writes, 32 descriptors; no memory cap under ASan)";
#endif
  if (!no_new_privs(err)) return false;
  *applied += ", no new privileges";

  trap_board = &board;
  struct sigaction sa {};
  sa.sa_sigaction = on_trapped_syscall;
  sa.sa_flags = SA_SIGINFO;
  ::sigaction(SIGSYS, &sa, nullptr);

  // The policy (what an Asio + Beast client uses once connected, and nothing else)
  // is in seccomp_policy.cpp, compiled at build time.
  if (!load(generated::network_filter, err)) return false;
  *applied += ", seccomp filter (" + std::to_string(generated::network_calls_allowed) + " system calls allowed, " +
              std::to_string(generated::network_calls_checked) + " more with their arguments checked)";
  return true;
}

bool lock_down_terminal_process(std::string* applied, std::string* err) {
  if (!no_new_privs(err)) return false;
  *applied = "no new privileges";
  if (!load(generated::terminal_filter, err)) return false;
  *applied += ", seccomp filter (no sockets, no exec)";
  return true;
}

std::string availability() {
  // The filters trap (netproc) and return errors (ioproc): ask the kernel whether it
  // has both actions, without installing anything.
  for (std::uint32_t action : {SECCOMP_RET_TRAP, SECCOMP_RET_ERRNO})
    if (::syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action) != 0)
      return "not available (seccomp: " + errno_text(errno) + "); the children run without filters";
  return "seccomp filters, no_new_privs, rlimits, uid 65534 for netproc when started as root";
}

std::string syscall_name(int nr) {
  if (nr >= 0 && static_cast<std::size_t>(nr) < std::size(generated::syscall_names) && *generated::syscall_names[nr])
    return generated::syscall_names[nr];
  return "number " + std::to_string(nr);
}

}  // namespace wsbridge::sandbox
