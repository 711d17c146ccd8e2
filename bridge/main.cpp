// wsbridge: one executable, three roles. Run by the user it is the supervisor; the
// supervisor re-executes it with a hidden --role=netproc / --role=ioproc for the
// children (README "Architecture").

#include <cstdio>
#include <string>
#include <vector>

#include "bridge/config.hpp"
#include "bridge/exit_codes.hpp"
#include "bridge/supervisor.hpp"
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
  switch (cfg.role) {
    case process_role::netproc: return run_netproc(cfg);
    case process_role::ioproc: return run_ioproc(cfg);
    case process_role::supervisor: break;
  }
  return run_supervisor(cfg, std::vector<std::string>(argv + 1, argv + argc));
}
