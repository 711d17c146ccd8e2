// --reconnect's policy (bridge/supervisor/reconnect.hpp).
#include <catch2/catch.hpp>

#include "bridge/protocol/exit_codes.hpp"
#include "bridge/supervisor/reconnect.hpp"

using namespace wsbridge;
using namespace std::chrono_literals;

namespace {

config reconnecting(unsigned attempts = 0) {
  config cfg;
  cfg.reconnect = true;
  cfg.reconnect_attempts = attempts;
  return cfg;
}

attempt_end lost() {
  attempt_end e;
  e.status = exit_closed_abnormally;
  e.opened = true;
  e.work_left = true;
  return e;
}

}  // namespace

TEST_CASE("reconnect: a lost connection, a failed connect or a 5xx is made again", "[reconnect]") {
  const config cfg = reconnecting();
  CHECK(decide_reconnect(lost(), cfg, 1, 0).reconnect);
  attempt_end refused = lost();
  refused.status = exit_connect_failed;
  refused.opened = false;
  CHECK(decide_reconnect(refused, cfg, 5, 0).reconnect);
  attempt_end unavailable = refused;
  unavailable.status = exit_handshake_rejected;
  unavailable.http_status = 503;
  CHECK(decide_reconnect(unavailable, cfg, 2, 0).reconnect);
  attempt_end dead = lost();
  dead.status = exit_peer_dead;
  CHECK(decide_reconnect(dead, cfg, 1, 0).reconnect);
  attempt_end error_close = lost();
  error_close.close_code = 1011;
  error_close.close_by_server = true;
  CHECK(decide_reconnect(error_close, cfg, 1, 0).reconnect);
}

TEST_CASE("reconnect: not after an ordinary end, a close the server chose, or a 4xx", "[reconnect]") {
  const config cfg = reconnecting();
  attempt_end ours;  // our Close at the end of input
  ours.work_left = true;
  CHECK_FALSE(decide_reconnect(ours, cfg, 1, 0).reconnect);
  attempt_end asked = lost();
  asked.close_requested = true;
  CHECK_FALSE(decide_reconnect(asked, cfg, 1, 0).reconnect);
  for (const std::uint16_t code : {std::uint16_t{1000}, std::uint16_t{1005}}) {
    attempt_end server_closed = lost();
    server_closed.status = exit_ok;
    server_closed.close_code = code;
    server_closed.close_by_server = true;
    CHECK_FALSE(decide_reconnect(server_closed, cfg, 1, 0).reconnect);
    config on_close = cfg;
    on_close.reconnect_on_close = true;
    CHECK(decide_reconnect(server_closed, on_close, 1, 0).reconnect);
  }
  // A server going away or restarting (1001, 1012, 1013): come back, by default.
  for (const std::uint16_t code : {std::uint16_t{1001}, std::uint16_t{1012}, std::uint16_t{1013}}) {
    attempt_end restarting = lost();
    restarting.status = code == 1001 ? exit_ok : exit_closed_abnormally;
    restarting.close_code = code;
    restarting.close_by_server = true;
    CHECK(decide_reconnect(restarting, cfg, 1, 0).reconnect);
  }
  attempt_end forbidden = lost();
  forbidden.status = exit_handshake_rejected;
  forbidden.http_status = 403;
  const auto d = decide_reconnect(forbidden, cfg, 1, 0);
  CHECK_FALSE(d.reconnect);
  CHECK(d.why_not == "not reconnecting: the server refused the upgrade with HTTP 403");
  attempt_end done = lost();
  done.work_left = false;  // input ended, all of it sent
  CHECK_FALSE(decide_reconnect(done, cfg, 1, 0).reconnect);
  attempt_end untrusted = lost();
  untrusted.status = exit_connect_failed;
  untrusted.opened = false;
  untrusted.certificate_refused = true;
  CHECK(decide_reconnect(untrusted, cfg, 1, 0).why_not == "not reconnecting: the server's certificate was not accepted");
  attempt_end usage = lost();
  usage.status = exit_usage;  // an unreadable --cacert: the next attempt would fail alike
  CHECK_FALSE(decide_reconnect(usage, cfg, 1, 0).reconnect);
}

TEST_CASE("reconnect: a 429 waits its Retry-After", "[reconnect]") {
  attempt_end busy = lost();
  busy.status = exit_handshake_rejected;
  busy.http_status = 429;
  busy.retry_after = 7;
  const auto d = decide_reconnect(busy, reconnecting(), 1, 0.5);
  CHECK(d.reconnect);
  CHECK(d.delay == 7s);
  busy.retry_after = 0;
  CHECK_FALSE(decide_reconnect(busy, reconnecting(), 1, 0).reconnect);
}

TEST_CASE("reconnect: exponential backoff with jitter, capped, and a limit on attempts", "[reconnect]") {
  config cfg = reconnecting(3);
  cfg.reconnect_min = 1000ms;
  cfg.reconnect_max = 5000ms;
  CHECK(decide_reconnect(lost(), cfg, 1, 0).delay == 500ms);     // half of 1 s ...
  CHECK(decide_reconnect(lost(), cfg, 1, 0.999).delay >= 999ms);  // ... to all of it
  CHECK(decide_reconnect(lost(), cfg, 2, 0).delay == 1000ms);    // 2 s
  CHECK(decide_reconnect(lost(), cfg, 3, 1.0).delay == 4000ms);  // 4 s
  const auto gave_up = decide_reconnect(lost(), cfg, 4, 0);
  CHECK_FALSE(gave_up.reconnect);
  CHECK(gave_up.why_not == "giving up after 3 failed attempts to reconnect (--reconnect=3)");
  cfg.reconnect_attempts = 0;  // never give up; the wait stops growing at the maximum
  CHECK(decide_reconnect(lost(), cfg, 40, 1.0).delay == 5000ms);
}
