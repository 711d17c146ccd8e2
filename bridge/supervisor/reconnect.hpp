#pragma once
// --reconnect: whether, and when, the supervisor makes a lost connection again.
// One pure function, so that the policy is in one place and unit-tested; the
// supervisor gathers the facts (netproc's exit status and what it left on the status
// board) and acts on the answer, as it does for redirects.

#include <chrono>
#include <cstdint>
#include <string>

#include "bridge/cli/config.hpp"

namespace wsbridge {

/// How one connection attempt ended.
struct attempt_end {
  int status = 0;                  ///< netproc's exit status (exit_codes.hpp)
  bool opened = false;             ///< this attempt reached the open state
  std::uint16_t close_code = 0;    ///< the Close that ended it (0: none, the connection was lost)
  bool close_by_server = false;
  bool close_requested = false;    ///< we were asked to close (/close, Ctrl+D, Ctrl+C): not a loss
  unsigned http_status = 0;        ///< a refused upgrade's status, else 0
  unsigned retry_after = 0;        ///< its Retry-After in seconds, else 0
  bool certificate_refused = false;  ///< the server's certificate failed verification
  bool work_left = false;          ///< messages wait to be sent, or input goes on, or -n receives
};

struct reconnect_decision {
  bool reconnect = false;
  std::chrono::milliseconds delay{0};
  std::string why_not;  ///< when not: one line for the user, or "" for an ordinary end
};

/// `failures`: attempts in a row that ended this way, this one included (an attempt
/// that opened starts the count again at 1). `jitter` in [0, 1): the wait is between
/// half and all of the backoff (min * 2^(failures-1), at most max), so that many
/// clients cut off together do not come back together.
reconnect_decision decide_reconnect(const attempt_end& end, const config& cfg, unsigned failures, double jitter);

}  // namespace wsbridge
