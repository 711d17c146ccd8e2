#include "ioproc/ioproc.hpp"

#include <cerrno>
#include <csignal>
#include <poll.h>
#include <cstdlib>
#include <sys/socket.h>
#include <cstdio>
#include <thread>
#include <termios.h>
#include <unistd.h>

#include "bridge/protocol/exit_codes.hpp"
#include "bridge/common/fd_util.hpp"
#include "bridge/common/module_loader.hpp"
#include "bridge/protocol/child_fd.hpp"
#include "bridge/common/sandbox.hpp"
#include "bridge/protocol/status_board.hpp"
#include "ioproc/pipe_mode.hpp"
#include "ioproc/terminal_mode.hpp"
#include "ioproc/wrapped_program.hpp"

namespace wsbridge {
namespace {

/// The terminal settings before the line editor changed them (terminal mode only).
termios original_termios{};
bool have_original_termios = false;
/// Our parent at start: the supervisor.
pid_t supervisor_pid = 0;

/// The supervisor is gone and cannot restore the terminal, so we do, and leave.
/// Async-signal-safe: it also runs as the SIGUSR1 (parent-death signal) handler.
extern "C" void on_supervisor_gone(int) {
  if (have_original_termios) ::tcsetattr(STDIN_FILENO, TCSANOW, &original_termios);
  // The supervisor (killed, say, with SIGKILL) can no longer say why the session
  // ended; we still can, in one line, before we go.
  static constexpr char line[] = "\r\nwsbridge: the supervisor process died; ending the session\n";
  [[maybe_unused]] const ssize_t n = ::write(STDERR_FILENO, line + (have_original_termios ? 0 : 2),
                                             sizeof line - 1 - (have_original_termios ? 0 : 2));
  ::_exit(exit_process_died);
}

/// Watches the supervisor's control pipe. EOF means the supervisor is gone; we leave
/// too, even if PR_SET_PDEATHSIG was somehow missed.
void watch_supervisor() {
  char buf[256];
  while (read_some(child_fd::control_in, buf, sizeof buf) > 0) {
  }
  on_supervisor_gone(0);
}

}  // namespace

void leave_if_supervisor_gone() {
  // Its death kills netproc too (PR_SET_PDEATHSIG), which may reach us as the end of
  // netproc's pipe before our own parent-death signal does, and even before we are
  // given a new parent. A dying process closes its descriptors first, so by then the
  // supervisor's end of our control pipe is closed: that pipe has hung up.
  pollfd control{child_fd::control_in, 0, 0};
  const bool hung_up = ::poll(&control, 1, 0) == 1 && (control.revents & POLLHUP) != 0;
  if (hung_up || ::getppid() != supervisor_pid) on_supervisor_gone(0);
}

int run_ioproc(const io_settings& cfg, status_board& board) {
  supervisor_pid = ::getppid();
  std::signal(SIGPIPE, SIG_IGN);
  std::string err;
  // --exec: the launcher is forked now, while we are one thread and not yet sandboxed.
  wrapped_program program;
  if (!cfg.exec.empty() && !program.prepare(cfg, &err)) {
    std::fprintf(stderr, "wsbridge: %s\n", err.c_str());
    return exit_failure;
  }
  // The line editor for a person at a terminal; framings made for programs (and a
  // wrapped program) use pipe mode, which still escapes what it shows on a terminal.
  const bool terminal = cfg.terminal;
  terminal_mode_fn run_terminal_mode = nullptr;
  if (terminal) {
    run_terminal_mode = reinterpret_cast<terminal_mode_fn>(
        load_module("wsbridge-term.so", terminal_entry_point, "line editor module", &err));
    if (!run_terminal_mode) {
      std::fprintf(stderr, "wsbridge: %s\n", err.c_str());
      return exit_failure;
    }
    have_original_termios = ::tcgetattr(STDIN_FILENO, &original_termios) == 0;
    ::tzset();  // --timestamps: the local time zone is read from a file, before the sandbox
  }
  struct sigaction sa {};
  sa.sa_handler = on_supervisor_gone;
  ::sigaction(SIGUSR1, &sa, nullptr);  // our PR_SET_PDEATHSIG (process_spawn.hpp)
  if (cfg.sandbox) {
    std::string applied;
    // On a kernel without seccomp, netproc says so (once, for both); -v says it here too.
    const std::string who = cfg.who();
    if (!sandbox::lock_down_terminal_process(&applied, &err)) {
      if (cfg.verbose) std::fprintf(stderr, "wsbridge: %ssandbox: I/O process: %s\n", who.c_str(), err.c_str());
    } else if (cfg.verbose)
      std::fprintf(stderr, "wsbridge: %ssandbox: I/O process: %s\n", who.c_str(), applied.c_str());
  }
#ifdef WSBRIDGE_TEST_HOOKS
  // Test builds only: try to open a socket, which the sandbox must refuse.
  if (const char* probe = std::getenv("WSBRIDGE_TEST_IOPROC_PROBE"); probe && std::string(probe) == "socket") {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    std::fprintf(stderr, "wsbridge: sandbox probe: I/O process socket: %s\n",
                 fd >= 0 ? "allowed" : errno_text(errno).c_str());
  }
#endif
  if (terminal) {
    // The line editor reads resizes and Ctrl+C from a signalfd (terminal_mode.cpp).
    // Blocked here, before the watcher thread starts with our mask: a process-directed
    // signal goes to a thread that does not block it, and that thread would drop it.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGWINCH);
    sigaddset(&signals, SIGINT);
    ::sigprocmask(SIG_BLOCK, &signals, nullptr);
  }
  std::thread(watch_supervisor).detach();
  const int status = terminal ? run_terminal_mode(cfg, board)
                              : run_pipe_mode(cfg, board, cfg.exec.empty() ? nullptr : &program);
  std::fflush(stdout);
  std::fflush(stderr);
  // _exit: the input thread may be inside read(); no static destructors race with it.
  ::_exit(status);
}

}  // namespace wsbridge
