#include "ioproc/ioproc.hpp"

#include <csignal>
#include <cstdio>
#include <thread>
#include <unistd.h>

#include "bridge/exit_codes.hpp"
#include "bridge/fd_util.hpp"
#include "bridge/process_spawn.hpp"
#include "bridge/status_board.hpp"
#include "ioproc/pipe_mode.hpp"
#include "ioproc/terminal_mode.hpp"

namespace wsbridge {
namespace {

/// Watches the supervisor's control pipe. EOF means the supervisor is gone; we leave
/// too, even if PR_SET_PDEATHSIG was somehow missed.
void watch_supervisor() {
  char buf[256];
  while (read_some(child_fd::control_in, buf, sizeof buf) > 0) {
  }
  ::_exit(exit_process_died);
}

}  // namespace

int run_ioproc(const config& cfg) {
  std::signal(SIGPIPE, SIG_IGN);
  status_board_mapping board;
  std::string err;
  if (!board.attach(child_fd::board, &err)) {
    std::fprintf(stderr, "wsbridge: terminal process: %s\n", err.c_str());
    return exit_failure;
  }
  std::thread(watch_supervisor).detach();
  const bool terminal = ::isatty(STDIN_FILENO) && ::isatty(STDOUT_FILENO);
  const int status = terminal ? run_terminal_mode(cfg, *board.get()) : run_pipe_mode(*board.get());
  std::fflush(stdout);
  std::fflush(stderr);
  // _exit: the input thread may be inside read(); no static destructors race with it.
  ::_exit(status);
}

}  // namespace wsbridge
