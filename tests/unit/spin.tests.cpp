#include <catch2/catch.hpp>

#include "netproc/spin_policy.hpp"

using wsbridge::netproc::spin_policy;
using us = std::chrono::microseconds;

TEST_CASE("the polling window grows while sleeps are short and closes when they are long", "[spin]") {
  spin_policy p;
  CHECK(p.window() == us(0));  // a new session sleeps at once
  p.slept(us(60));             // woken soon: polling would have caught it
  CHECK(p.window() == spin_policy::start);
  p.slept(us(60));
  CHECK(p.window() == 2 * spin_policy::start);
  for (int i = 0; i < 10; ++i) p.slept(us(60));
  CHECK(p.window() == spin_policy::max);  // never more than the cap
  p.slept(us(5000));                      // a pause in the conversation
  CHECK(p.window() == spin_policy::max / 2);
  p.slept(us(5000));
  p.slept(us(5000));
  CHECK(p.window() == us(0));  // a quiet session costs no CPU
}
