#include "netproc/lock_down.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "bridge/common/fd_util.hpp"
#include "bridge/common/sandbox.hpp"
#include "bridge/protocol/exit_codes.hpp"

namespace wsbridge::netproc {

bool lock_down(const net_settings& cfg, status_board& board, io_outbox& out, session_end& end) {
  if (!cfg.sandbox) return true;
  std::string applied, err;
  const std::string user = "uid " + std::to_string(::geteuid());  // before the filter
  bool fatal = false;
  if (!sandbox::lock_down_network_process(board, &applied, &err, &fatal)) {
    if (fatal) {
      end.fail("sandbox", err, exit_failure);
      return false;
    }
    out.notice("sandbox", err + "; going on without it");
  } else if (cfg.verbose) {
    out.notice("sandbox", "network process: " + user + ", " + applied);
  }
#ifdef WSBRIDGE_TEST_HOOKS
  // Test builds only: try a call the sandbox must refuse, and say what happened.
  if (const char* probe = std::getenv("WSBRIDGE_TEST_NETPROC_PROBE")) {
    const std::string what = probe;
    if (what == "open") {
      const int fd = ::open("/etc/hostname", O_RDONLY);
      out.notice("sandbox probe", fd >= 0 ? "open: allowed" : "open: " + errno_text(errno));
    } else if (what == "socket") {
      const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
      out.notice("sandbox probe", fd >= 0 ? "socket: allowed" : "socket: " + errno_text(errno));
    } else if (what == "abort") {  // what a failed allocation ends in
      out.flush_now();
      std::abort();
    } else if (what == "exec") {
      out.flush_now();
      char* const argv[] = {const_cast<char*>("/bin/true"), nullptr};
      ::execv("/bin/true", argv);
      out.notice("sandbox probe", "exec: " + errno_text(errno));
    }
  }
#endif
  return true;
}

bool drop_root(const net_settings& cfg) {
  std::string err;
  if (!cfg.sandbox || sandbox::drop_root(SIGKILL, &err)) return true;
  std::fprintf(stderr, "wsbridge: network process: %s\n", err.c_str());
  return false;
}

}  // namespace wsbridge::netproc
