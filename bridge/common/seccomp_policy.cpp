// Build step: the seccomp policies of netproc and ioproc, compiled by libseccomp into
// BPF programs that the build writes to a generated header (seccomp_filters.hpp).
//
// At run time each process only loads its program with seccomp(2). Compiling the
// policy with libseccomp in every process cost 1 ms of each start-up, on the critical
// path for netproc (rule resolution 0.4 ms, BPF generation 0.6 ms; the kernel's load
// 0.25 ms), and made every start load libseccomp. Firecracker's seccompiler makes the
// same choice. The policy stays written in libseccomp's terms, here, and the program
// is what libseccomp would have generated at run time for this architecture.
//
// Usage: wsbridge_seccomp_policy [--sanitizer] > seccomp_filters.hpp
//   --sanitizer: the build runs under AddressSanitizer and UBSan, whose runtime makes
//   calls of its own inside the sandbox (pipe2, to probe whether memory is readable);
//   they are allowed in that build only.

#include <seccomp.h>

#include <cerrno>
#include <csignal>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <linux/filter.h>
#include <string>
#include <unistd.h>
#include <vector>

namespace {

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "wsbridge_seccomp_policy: %s\n", what.c_str());
  std::exit(1);
}

class policy {
 public:
  explicit policy(std::uint32_t default_action) : ctx_(seccomp_init(default_action)) {
    if (!ctx_) die("seccomp_init failed");
  }
  ~policy() { seccomp_release(ctx_); }

  void rule(std::uint32_t action, const char* name) {
    const int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR) return;  // not a call of this architecture: nothing to allow or deny
    if (const int rc = seccomp_rule_add(ctx_, action, nr, 0); rc != 0)
      die(std::string("rule for ") + name + ": " + std::strerror(-rc));
  }

  /// Allows `name` only when its argument `arg` equals `value`.
  void rule_if_arg(std::uint32_t action, const char* name, unsigned arg, std::uint64_t value) {
    rule_if(action, name, {arg, SCMP_CMP_EQ, value, 0});
  }

  /// Allows `name` only when (argument `arg` & mask) == 0.
  void rule_if_clear(std::uint32_t action, const char* name, unsigned arg, std::uint64_t mask) {
    rule_if(action, name, {arg, SCMP_CMP_MASKED_EQ, mask, 0});
  }

  void rule_if(std::uint32_t action, const char* name, scmp_arg_cmp cmp) {
    const int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR) return;
    if (const int rc = seccomp_rule_add_array(ctx_, action, nr, 1, &cmp); rc != 0)
      die(std::string("rule for ") + name + ": " + std::strerror(-rc));
  }

  std::vector<sock_filter> bpf() const {
    std::FILE* tmp = std::tmpfile();
    if (!tmp) die(std::string("tmpfile: ") + std::strerror(errno));
    if (const int rc = seccomp_export_bpf(ctx_, fileno(tmp)); rc != 0) die(std::string("export: ") + std::strerror(-rc));
    std::vector<sock_filter> program(static_cast<std::size_t>(std::ftell(tmp)) / sizeof(sock_filter));
    std::rewind(tmp);
    if (std::fread(program.data(), sizeof(sock_filter), program.size(), tmp) != program.size()) die("short read");
    std::fclose(tmp);
    return program;
  }

 private:
  scmp_filter_ctx ctx_;
};

void print_program(const char* name, const std::vector<sock_filter>& program) {
  std::printf("inline constexpr sock_filter %s[] = {\n", name);
  for (const sock_filter& f : program)
    std::printf("    {0x%04x, %u, %u, 0x%08x},\n", f.code, f.jt, f.jf, f.k);
  std::printf("};\n\n");
}

}  // namespace

int main(int argc, char** argv) {
  const bool sanitizer = argc > 1 && std::string(argv[1]) == "--sanitizer";
  // netproc, once connected: what an Asio + Beast client uses (measured with strace
  // on a ws:// and a wss:// session), and nothing else. Anything else is trapped (SIGSYS), recorded
  // on the status board and reported by name.
  static const char* const network_allowed[] = {
      "read", "write", "readv", "writev", "recvmsg", "sendmsg", "recvfrom", "sendto", "close",
      "shutdown", "epoll_wait", "epoll_pwait", "epoll_ctl", "timerfd_settime", "eventfd2",
      "fcntl", "getpid", "gettid", "brk", "munmap", "mremap", "madvise", "lseek",
      "futex", "rt_sigprocmask", "rt_sigreturn", "rt_sigaction", "clock_gettime", "clock_nanosleep",
      "nanosleep", "getrandom", "exit", "exit_group", "restart_syscall", "sched_yield",
      "getsockopt", "setsockopt", "fstat", "poll", "ppoll"};
  policy network(SCMP_ACT_TRAP);
  for (const char* name : network_allowed) network.rule(SCMP_ACT_ALLOW, name);
  // abort() (a failed allocation, an assertion) sends SIGABRT to its own thread with
  // tgkill; allowing that signal alone lets the supervisor report an abort as one,
  // instead of as a trapped system call.
  network.rule_if_arg(SCMP_ACT_ALLOW, "tgkill", 2, SIGABRT);
  if (sanitizer)
    for (const char* name : {"pipe2", "pipe", "sigaltstack", "sched_getaffinity", "prctl", "getrlimit", "prlimit64"})
      network.rule(SCMP_ACT_ALLOW, name);
  // Memory, never executable once locked down (every library is loaded by then), and
  // only the ioctl requests netproc makes: FIONBIO (Asio's non-blocking mode), FIONREAD
  // (bulk reads, byte_buffer.hpp), TIOCOUTQ (bytes the server has not acknowledged,
  // while closing). Others are trapped and reported by name, as in OpenSSH's filter.
  network.rule_if_clear(SCMP_ACT_ALLOW, "mmap", 2, PROT_EXEC);
  network.rule_if_clear(SCMP_ACT_ALLOW, "mprotect", 2, PROT_EXEC);
  for (const int request : {FIONBIO, FIONREAD, TIOCOUTQ})
    network.rule_if_arg(SCMP_ACT_ALLOW, "ioctl", 1, static_cast<unsigned>(request));
  // Opening or inspecting files fails politely (OpenSSH's choice), so a library that
  // tries gets an error instead of killing us; a new socket likewise.
  for (const char* name : {"open", "openat", "openat2", "stat", "lstat", "newfstatat", "statx", "access",
                           "faccessat", "faccessat2", "socket", "socketpair"})
    network.rule(SCMP_ACT_ERRNO(EACCES), name);

  // ioproc never needs the network or another program (a --exec program is started
  // by a launcher forked before the filter).
  policy terminal(SCMP_ACT_ALLOW);
  for (const char* name : {"socket", "socketpair", "execve", "execveat"}) terminal.rule(SCMP_ACT_ERRNO(EACCES), name);

  std::printf("// Generated at build time by bridge/seccomp_policy.cpp with libseccomp %u.%u.%u. Do not edit.\n",
              seccomp_version()->major, seccomp_version()->minor, seccomp_version()->micro);
  std::printf("#pragma once\n#include <linux/filter.h>\n\nnamespace wsbridge::sandbox::generated {\n\n");
  std::printf("inline constexpr unsigned network_calls_allowed = %zu;\n", std::size(network_allowed));
  std::printf("inline constexpr unsigned network_calls_checked = 4;  // tgkill, mmap, mprotect, ioctl\n\n");
  print_program("network_filter", network.bpf());
  print_program("terminal_filter", terminal.bpf());
  // Names for reporting a trapped call, by number, for this architecture.
  std::printf("inline constexpr const char* syscall_names[] = {\n");
  for (int nr = 0; nr < 512; ++nr) {
    char* name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
    std::printf("    \"%s\",\n", name ? name : "");
    std::free(name);
  }
  std::printf("};\n\n}  // namespace wsbridge::sandbox::generated\n");
  return std::fflush(stdout) == 0 ? 0 : 1;
}
