// wsbridge: one executable, three roles. Run by the user it is the supervisor, which
// forks the network and I/O processes (docs/architecture.md).

#include <cstdio>
#include <string>
#include <unistd.h>

#include "bridge/cli/config.hpp"
#include "bridge/supervisor/listener.hpp"
#include "bridge/protocol/exit_codes.hpp"
#include "bridge/supervisor/supervisor.hpp"
#include "ioproc/ioproc.hpp"
#include "netproc/netproc.hpp"

int main(int argc, char** argv) {
  using namespace wsbridge;
  config cfg;
  std::string text;
  switch (parse_command_line(argc, argv, cfg, &text)) {
    case parse_outcome::help:
    case parse_outcome::version:
      std::fputs(text.c_str(), stdout);
      return exit_ok;
    case parse_outcome::error:
      std::fprintf(stderr, "wsbridge: %s\n", text.c_str());
      return exit_usage;
    case parse_outcome::run:
      break;
  }
  for (const std::string& line : cfg.warnings) std::fprintf(stderr, "wsbridge: warning: %s\n", line.c_str());
  const child_roles roles{run_netproc, run_ioproc, prepare_netprocs};
  if (cfg.server() && cfg.target.tls && !check_server_tls(net_settings_of(cfg), &text)) {
    std::fprintf(stderr, "wsbridge: tls: %s\n", text.c_str());
    return exit_usage;
  }
  const int status = cfg.server() ? run_listener(cfg, roles) : run_supervisor(cfg, roles);
  // Everything that matters is done (children reaped, terminal restored); skip the
  // static destructors and the libraries' exit handlers, as the children do.
  std::fflush(nullptr);
  ::_exit(status);
}
