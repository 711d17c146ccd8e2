#include "bridge/supervisor/reconnect.hpp"

#include <algorithm>

#include "bridge/protocol/close_codes.hpp"
#include "bridge/protocol/exit_codes.hpp"

namespace wsbridge {

reconnect_decision decide_reconnect(const attempt_end& end, const config& cfg, unsigned failures, double jitter) {
  reconnect_decision d;
  // An ordinary end: the close we made at the end of input, or one we were asked for.
  if (end.status == exit_ok && !end.close_by_server) return d;
  if (end.close_requested) return d;
  // What a new connection may cure: it could not be made, it was refused or broken, or
  // it went silent. Not a usage error or an internal one, which would only repeat.
  const bool retryable = end.status == exit_connect_failed || end.status == exit_handshake_rejected ||
                         end.status == exit_closed_abnormally || end.status == exit_peer_dead ||
                         (end.status == exit_ok && end.close_by_server);
  if (!retryable) return d;
  // A certificate that does not verify will not verify on the next attempt either; a
  // connection that could be made only by trying until it does would defeat the check.
  if (end.certificate_refused) {
    d.why_not = "not reconnecting: the server's certificate was not accepted";
    return d;
  }
  // The server chose to end the conversation (RFC 6455 §7.4.1: 1000 normal; a Close
  // without a code is normal too): not a blip, unless asked. A server going away (1001)
  // or restarting (1012, 1013) is one to come back to: a graceful restart or deploy.
  const bool normal = end.close_code == close_normal || end.close_code == close_no_status;
  if (end.close_by_server && normal && !cfg.reconnect_on_close) return d;
  if (!end.work_left) return d;  // input ended and all of it was sent: nothing to reconnect for
  std::chrono::milliseconds wait{0};
  if (end.http_status >= 400 && end.http_status < 500) {
    // A refusal says the request itself is wrong: asking again changes nothing, except
    // a 429 (RFC 6585 §4) that says when to come back.
    if (end.http_status != 429 || end.retry_after == 0) {
      d.why_not = "not reconnecting: the server refused the upgrade with HTTP " + std::to_string(end.http_status);
      return d;
    }
    wait = std::chrono::seconds(std::min(end.retry_after, 3600u));
  }
  if (cfg.reconnect_attempts != 0 && failures > cfg.reconnect_attempts) {
    d.why_not = "giving up after " + std::to_string(cfg.reconnect_attempts) + " failed attempt" +
                (cfg.reconnect_attempts == 1 ? "" : "s") + " to reconnect (--reconnect=" +
                std::to_string(cfg.reconnect_attempts) + ")";
    return d;
  }
  if (wait.count() == 0) {
    // Exponential backoff with "equal jitter": between half and all of min * 2^(n-1).
    double backoff = static_cast<double>(cfg.reconnect_min.count());
    for (unsigned i = 1; i < failures && backoff < static_cast<double>(cfg.reconnect_max.count()); ++i) backoff *= 2;
    backoff = std::min(backoff, static_cast<double>(cfg.reconnect_max.count()));
    wait = std::chrono::milliseconds(static_cast<long long>(backoff / 2 + jitter * backoff / 2));
  }
  d.reconnect = true;
  d.delay = wait;
  return d;
}

}  // namespace wsbridge
