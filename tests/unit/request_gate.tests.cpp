// request_gate: connections held until their request head is complete, over socket
// pairs (the test writes the client's side).
#include <catch2/catch.hpp>
#include <poll.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <chrono>
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
  // A Unix socket is looked at again after a pause (its poll ignores SO_RCVLOWAT).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (gate.size() != 0 && std::chrono::steady_clock::now() < deadline) {
    const auto next = gate.next_deadline();
    ::poll(nullptr, 0, next ? static_cast<int>(next->count()) : 10);
    o = step(gate);
  }
  CHECK(o.ready == std::vector<std::string>{"a"});
  CHECK(gate.size() == 0);
}

TEST_CASE("request gate: a half request over TCP is not polled readable until more arrives", "[gate]") {
  // A peek leaves the bytes unread; without the low-water mark, poll would report the
  // socket readable at once, forever (a listener spinning on a half-open connection).
  unique_fd listening(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(listening.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::listen(listening.get(), 1) == 0);
  socklen_t len = sizeof addr;
  ::getsockname(listening.get(), reinterpret_cast<sockaddr*>(&addr), &len);
  unique_fd client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  REQUIRE(::connect(client.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  unique_fd accepted(::accept4(listening.get(), nullptr, nullptr, SOCK_CLOEXEC));
  REQUIRE(accepted);
  request_gate gate(8, std::chrono::seconds(10), false);
  gate.admit(std::move(accepted), "tcp");
  const std::string half = "GET / HTTP/1.1\r\nHost: x\r\n";
  REQUIRE(::write(client.get(), half.data(), half.size()) == static_cast<ssize_t>(half.size()));
  std::vector<pollfd> fds;
  gate.add_polls(fds);
  REQUIRE(::poll(fds.data(), fds.size(), 2000) == 1);  // the first bytes wake it
  gate.service(fds.data(), fds.size(), [](unique_fd, const std::string&) {}, [](unique_fd, const std::string&) {});
  fds.clear();
  gate.add_polls(fds);
  CHECK(::poll(fds.data(), fds.size(), 50) == 0);  // nothing new: not readable
  REQUIRE(::write(client.get(), "\r\n", 2) == 2);
  fds.clear();
  gate.add_polls(fds);
  REQUIRE(::poll(fds.data(), fds.size(), 2000) == 1);  // more bytes wake it at once
  std::vector<std::string> ready;
  gate.service(fds.data(), fds.size(), [&](unique_fd, const std::string& p) { ready.push_back(p); },
               [](unique_fd, const std::string&) {});
  CHECK(ready == std::vector<std::string>{"tcp"});
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
