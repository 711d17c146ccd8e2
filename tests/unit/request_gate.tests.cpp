// request_gate: connections held until their request head is complete, over socket
// pairs (the test writes the client's side).
#include <catch2/catch.hpp>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "bridge/supervisor/request_gate.hpp"

using wsbridge::request_gate;
using wsbridge::unique_fd;

namespace {

struct client {
  unique_fd ours, theirs;  ///< theirs goes into the gate
  client() {
    int sv[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    ours.reset(sv[0]);
    theirs.reset(sv[1]);
  }
  void send(const std::string& s) { REQUIRE(::write(ours.get(), s.data(), s.size()) == static_cast<ssize_t>(s.size())); }
};

struct outcome {
  std::vector<std::string> ready, expired;
};

/// One poll (without waiting) and one service() of the gate.
outcome step(request_gate& gate) {
  std::vector<pollfd> fds;
  gate.add_polls(fds);
  ::poll(fds.data(), fds.size(), 0);
  outcome o;
  gate.service(fds.data(), fds.size(), [&](unique_fd, const std::string& peer) { o.ready.push_back(peer); },
               [&](unique_fd, const std::string& peer) { o.expired.push_back(peer); });
  return o;
}

}  // namespace

TEST_CASE("request gate: a connection leaves once its head is complete", "[gate]") {
  request_gate gate(8, std::chrono::seconds(10), false);
  client a, b;
  gate.admit(std::move(a.theirs), "a");
  gate.admit(std::move(b.theirs), "b");
  a.send("GET / HTTP/1.1\r\nHost: x\r\n");  // half a request
  b.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n\x81\x85");  // a whole head, a frame after it
  auto o = step(gate);
  CHECK(o.ready == std::vector<std::string>{"b"});
  CHECK(gate.size() == 1);
  a.send("\r\n");
  o = step(gate);
  CHECK(o.ready == std::vector<std::string>{"a"});
  CHECK(gate.size() == 0);
}

TEST_CASE("request gate: what left is closed, what waited too long expires", "[gate]") {
  request_gate gate(8, std::chrono::milliseconds(0), false);
  client gone, slow;
  gate.admit(std::move(gone.theirs), "gone");
  gate.admit(std::move(slow.theirs), "slow");
  gone.ours.reset();  // EOF
  const auto o = step(gate);
  CHECK(o.ready.empty());
  CHECK(o.expired == std::vector<std::string>{"slow"});
  CHECK(gate.size() == 0);
}

TEST_CASE("request gate: when full, the connection waiting longest makes room", "[gate]") {
  request_gate gate(2, std::chrono::seconds(10), false);
  client a, b, c;
  CHECK_FALSE(gate.admit(std::move(a.theirs), "a"));
  CHECK_FALSE(gate.admit(std::move(b.theirs), "b"));
  CHECK(gate.admit(std::move(c.theirs), "c") == std::string("a"));
  CHECK(gate.size() == 2);
}

TEST_CASE("request gate: over TLS the first bytes are enough; an endless head is netproc's", "[gate]") {
  request_gate tls(8, std::chrono::seconds(10), true);
  client hello;
  tls.admit(std::move(hello.theirs), "tls");
  hello.send("\x16\x03\x01");
  CHECK(step(tls).ready == std::vector<std::string>{"tls"});

  request_gate plain(8, std::chrono::seconds(10), false);
  client big;
  plain.admit(std::move(big.theirs), "big");
  big.send(std::string(20000, 'x'));  // longer than any head, never ends: netproc answers 431
  CHECK(step(plain).ready == std::vector<std::string>{"big"});
}
