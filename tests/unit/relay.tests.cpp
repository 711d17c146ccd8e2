// The relay, the session's last stage, over an in-memory stream with Beast on top and
// real pipes on ioproc's and the supervisor's side: messages both ways, the closing
// handshake either side starts, the end reported to ioproc or (with --reconnect) to the
// supervisor, and ioproc's protocol errors. The peer is the fake stream: what it is fed
// is the server's bytes, what it has `written` is the relay's frames, masked as a
// client's (RFC 6455 §5.3).
#include <fcntl.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/detail/hybi13.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bridge/protocol/exit_codes.hpp"
#include "netproc/event_loop.hpp"
#include "netproc/impl/relay.hpp"
#include "netproc/session_parts.hpp"
#include "tests/support/memory_stream.hpp"

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using beast::error_code;
using namespace wsbridge;
using test_layer = netproc::session_transport<fake::stream>;

template class wsbridge::netproc::relay<test_layer>;

namespace {

struct test_pipe {
  int read = -1, write = -1;
  test_pipe() {
    int fds[2];
    REQUIRE(::pipe2(fds, O_CLOEXEC | O_NONBLOCK) == 0);
    read = fds[0];
    write = fds[1];
  }
};

/// One frame on the wire, unmasked.
struct wire_frame {
  unsigned opcode;
  std::string payload;
};

/// A relay between an opened websocket on the fake stream and pipes of its own.
struct relay_rig {
  net::io_context ioc;
  net_settings cfg;
  status_board board;
  test_pipe to_io, from_io, requests, reports;
  std::optional<netproc::session_parts> parts;
  std::shared_ptr<netproc::relay<test_layer>> relay;
  std::optional<int> left;  ///< the status the session ended with
  std::string from_relay;   ///< bytes read from ioproc's pipe so far

  explicit relay_rig(const std::function<void(net_settings&)>& settings = {}) {
    cfg.close_timeout = std::chrono::seconds(5);
    cfg.max_message = 1 << 20;
    if (settings) settings(cfg);
    parts.emplace(ioc, cfg, board, to_io.write, requests.read, reports.write);
    parts->end.leave = [this](int status) { left = status; };
    websocket::stream<test_layer> ws(ioc);
    open(ws);
    relay = std::make_shared<netproc::relay<test_layer>>(*parts, from_io.read, std::move(ws),
                                                         websocket::response_type{});
    relay->start();
    run();
  }

  ~relay_rig() {
    // Handlers the relay queued on the shared completion queue must not outlive it.
    netproc::completions().restart();
    netproc::completions().poll();
    for (int fd : {to_io.read, from_io.write, requests.write, reports.read}) ::close(fd);
  }

  fake::stream& peer() { return relay->websocket().next_layer().next_layer(); }

  /// The client's handshake against the fake peer, as the connector would have done.
  void open(websocket::stream<test_layer>& ws) {
    bool done = false;
    ws.async_handshake("h", "/", [&](error_code ec) {
      REQUIRE_FALSE(ec);
      done = true;
    });
    run();
    auto& p = ws.next_layer().next_layer();
    const auto at = p.written.find("Sec-WebSocket-Key: ");
    REQUIRE(at != std::string::npos);
    const std::string key = p.written.substr(at + 19, p.written.find("\r\n", at) - at - 19);
    websocket::detail::sec_ws_accept_type accept;
    websocket::detail::make_sec_ws_accept(accept, key);
    p.feed("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Accept: " + std::string(accept.data(), accept.size()) + "\r\n\r\n");
    run();
    REQUIRE(done);
    p.written.clear();
  }

  /// Runs what is ready, on the loop and on the completion queue, until nothing is.
  void run() {
    for (int i = 0; i < 100; ++i) {
      ioc.restart();
      const auto a = ioc.poll();
      netproc::completions().restart();
      const auto b = netproc::completions().poll();
      if (a == 0 && b == 0) return;
    }
  }

  /// Runs until `done`, or fails after a deadline (timers need the clock to move).
  void run_until(const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!done()) {
      REQUIRE(std::chrono::steady_clock::now() < deadline);
      ioc.restart();
      ioc.run_one_for(std::chrono::milliseconds(5));
      run();
    }
  }

  /// ioproc's side: a frame into the relay's input pipe.
  void from_ioproc(ipc::frame_type type, std::string_view payload) {
    std::string f;
    ipc::append_frame(f, type, payload);
    REQUIRE(::write(from_io.write, f.data(), f.size()) == static_cast<ssize_t>(f.size()));
  }

  /// Every frame the relay has written to ioproc so far, as (type, payload).
  std::vector<std::pair<ipc::frame_type, std::string>> to_ioproc() { return decode(to_io.read, from_relay); }

  /// Every frame the relay has reported to the supervisor so far.
  std::vector<std::pair<ipc::frame_type, std::string>> to_supervisor() {
    std::string bytes;
    return decode(reports.read, bytes);
  }

  static std::vector<std::pair<ipc::frame_type, std::string>> decode(int fd, std::string& bytes) {
    char buf[65536];
    for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) bytes.append(buf, static_cast<std::size_t>(n));
    ipc::frame_decoder d;
    auto space = d.prepare(bytes.size() + 1);
    std::memcpy(space.data(), bytes.data(), bytes.size());
    d.commit(bytes.size());
    std::vector<std::pair<ipc::frame_type, std::string>> frames;
    ipc::frame f;
    std::string err;
    while (d.next(f, &err) == ipc::frame_decoder::result::frame) frames.emplace_back(f.type, std::string(f.payload));
    return frames;
  }

  /// The frames the relay wrote to the peer, unmasked.
  std::vector<wire_frame> on_the_wire() {
    std::vector<wire_frame> frames;
    const std::string& w = peer().written;
    for (std::size_t i = 0; i + 2 <= w.size();) {
      const unsigned opcode = static_cast<unsigned char>(w[i]) & 0x0f;
      std::size_t len = static_cast<unsigned char>(w[i + 1]) & 0x7f;
      std::size_t at = i + 2;
      if (len == 126) {
        len = (static_cast<unsigned char>(w[at]) << 8) | static_cast<unsigned char>(w[at + 1]);
        at += 2;
      }
      REQUIRE((static_cast<unsigned char>(w[i + 1]) & 0x80) != 0);  // a client masks every frame
      const char* key = w.data() + at;
      at += 4;
      std::string payload = w.substr(at, len);
      for (std::size_t k = 0; k < payload.size(); ++k) payload[k] ^= key[k % 4];
      frames.push_back({opcode, payload});
      i = at + len;
    }
    return frames;
  }
};

std::string server_frame(unsigned opcode, std::string_view payload) {
  std::string f;
  f += static_cast<char>(0x80 | opcode);
  f += static_cast<char>(payload.size());
  f += payload;
  return f;
}

std::string close_payload(std::uint16_t code, std::string_view reason = {}) {
  std::string p{static_cast<char>(code >> 8), static_cast<char>(code & 0xff)};
  return p + std::string(reason);
}

ipc::close_info closed_report(const std::vector<std::pair<ipc::frame_type, std::string>>& frames) {
  REQUIRE(!frames.empty());
  REQUIRE(frames.back().first == ipc::frame_type::closed);
  ipc::close_info c;
  std::string err;
  REQUIRE(ipc::decode_close(frames.back().second, c, &err));
  return c;
}

}  // namespace

TEST_CASE("relay: messages both ways, as IPC frames on one side and masked frames on the other", "[relay]") {
  relay_rig rig;
  rig.from_ioproc(ipc::frame_type::text, "typed line");
  rig.from_ioproc(ipc::frame_type::binary, std::string("\x00\xff", 2));
  rig.run();
  const auto wire = rig.on_the_wire();
  REQUIRE(wire.size() == 2);
  CHECK(wire[0].opcode == 1);
  CHECK(wire[0].payload == "typed line");
  CHECK(wire[1].opcode == 2);
  CHECK(wire[1].payload == std::string("\x00\xff", 2));
  CHECK(rig.board.messages_sent.load() == 2);

  rig.peer().feed(server_frame(1, "answer") + server_frame(2, "\x01"));
  rig.run();
  const auto frames = rig.to_ioproc();
  REQUIRE(frames.size() == 3);
  CHECK(frames[0].first == ipc::frame_type::opened);
  CHECK(frames[1] == std::pair{ipc::frame_type::text, std::string("answer")});
  CHECK(frames[2] == std::pair{ipc::frame_type::binary, std::string("\x01")});
  CHECK(rig.board.messages_received.load() == 2);
  CHECK_FALSE(rig.left);
}

TEST_CASE("relay: the peer's Close is answered, and the session ends reporting it", "[relay]") {
  relay_rig rig;
  rig.peer().feed(server_frame(1, "last words") + server_frame(8, close_payload(1001, "bye")));
  rig.run_until([&] { return rig.left.has_value(); });
  CHECK(*rig.left == exit_ok);
  const auto frames = rig.to_ioproc();
  CHECK(frames[frames.size() - 2] == std::pair{ipc::frame_type::text, std::string("last words")});
  const auto c = closed_report(frames);
  CHECK(c.code == 1001);
  CHECK(c.by_server);
  CHECK(c.reason == "bye");
  const auto wire = rig.on_the_wire();
  REQUIRE(wire.size() == 1);
  CHECK(wire[0].opcode == 8);  // Beast's answer
  CHECK(rig.board.state.load() == connection_state::closed);
}

TEST_CASE("relay: the end of input sends our Close after every message, and the answer ends it", "[relay]") {
  relay_rig rig;
  rig.from_ioproc(ipc::frame_type::text, "one");
  rig.from_ioproc(ipc::frame_type::input_end, ipc::encode_close({4001, false, "done"}));
  rig.run();
  auto wire = rig.on_the_wire();
  REQUIRE(wire.size() == 2);
  CHECK(wire[0].payload == "one");
  CHECK(wire[1].opcode == 8);
  CHECK(wire[1].payload == close_payload(4001, "done"));
  CHECK_FALSE(rig.left);  // waiting for the answer
  // Messages the peer sends before its answer are still delivered.
  rig.peer().feed(server_frame(1, "late") + server_frame(8, close_payload(4001)));
  rig.run_until([&] { return rig.left.has_value(); });
  CHECK(*rig.left == exit_ok);
  const auto frames = rig.to_ioproc();
  CHECK(frames[frames.size() - 2] == std::pair{ipc::frame_type::text, std::string("late")});
  const auto c = closed_report(frames);
  CHECK(c.code == 4001);
  CHECK_FALSE(c.by_server);
  CHECK(rig.on_the_wire().size() == 2);  // Beast's own reply to the answer was dropped
}

TEST_CASE("relay: a Close code not allowed on the wire is answered with 1002", "[relay]") {
  relay_rig rig;
  rig.peer().feed(server_frame(8, close_payload(5000)));
  rig.run_until([&] { return rig.left.has_value(); });
  CHECK(*rig.left == exit_closed_abnormally);
  const auto wire = rig.on_the_wire();
  REQUIRE(wire.size() == 1);
  CHECK(wire[0].payload == close_payload(1002));
  CHECK(closed_report(rig.to_ioproc()).code == 1002);
}

TEST_CASE("relay: a close request from the supervisor drops what is queued and closes", "[relay]") {
  relay_rig rig;
  std::string f;
  ipc::append_frame(f, ipc::frame_type::close_request, ipc::encode_close({1000, false, "interrupted"}));
  REQUIRE(::write(rig.requests.write, f.data(), f.size()) == static_cast<ssize_t>(f.size()));
  rig.run_until([&] { return !rig.on_the_wire().empty(); });
  CHECK(rig.on_the_wire()[0].payload == close_payload(1000, "interrupted"));
  CHECK(rig.board.close_requested.load() == 1);
  CHECK(rig.board.state.load() == connection_state::closing);
}

TEST_CASE("relay: a frame out of place from ioproc is a protocol error that ends the process", "[relay]") {
  relay_rig rig;
  rig.from_ioproc(ipc::frame_type::opened, "");  // only netproc sends `opened`
  rig.run();
  REQUIRE(rig.left);
  CHECK(*rig.left == exit_failure);
  const auto frames = rig.to_ioproc();
  REQUIRE(frames.back().first == ipc::frame_type::notice);
  CHECK(frames.back().second.find("internal protocol error") != std::string::npos);
}

TEST_CASE("relay: with --reconnect, what the peer never had goes to the supervisor in order", "[relay]") {
  relay_rig rig([](net_settings& s) {
    s.reconnect = true;
    s.close_timeout = std::chrono::milliseconds(200);  // Beast's reply cannot go out either
  });
  rig.peer().stall_writes = true;  // the peer reads nothing: the messages stay in the transport
  rig.from_ioproc(ipc::frame_type::text, "first");
  rig.from_ioproc(ipc::frame_type::text, "second");
  rig.from_ioproc(ipc::frame_type::input_end, "");
  rig.run();
  // The peer's Close ends it; our messages, never taken by the peer, are handed on.
  rig.peer().feed(server_frame(8, close_payload(1001)));
  rig.run_until([&] { return rig.left.has_value(); });
  const auto reports = rig.to_supervisor();
  REQUIRE(reports.size() >= 2);
  CHECK(reports[0].first == ipc::frame_type::ended);
  ipc::end_report end;
  std::string err;
  REQUIRE(ipc::decode_end(reports[0].second, end, &err));
  CHECK(end.close.code == 1001);
  CHECK(end.unsent_messages == 2);
  std::string unsent;
  for (std::size_t i = 1; i < reports.size(); ++i) unsent += reports[i].second;
  std::string expected;
  ipc::append_frame(expected, ipc::frame_type::text, "first");
  ipc::append_frame(expected, ipc::frame_type::text, "second");
  ipc::append_frame(expected, ipc::frame_type::input_end, "");
  CHECK(unsent == expected);
  for (const auto& [type, payload] : rig.to_ioproc()) CHECK(type != ipc::frame_type::closed);  // the supervisor decides
}
