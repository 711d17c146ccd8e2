// session_transport, the session's transport under Beast's websocket::stream, tested over
// an in-memory next layer with Beast itself on top: the refusal-head cut, the Close
// that Beast sends twice and the layer drops, the code of a Close Beast fails with,
// the byte accounting, and the pong backlog that stops reading. These tests lean on how
// Beast 1.81 writes frames (one write per frame, a Close starting with 0x88): if a
// Boost upgrade changes that, they fail here before the session misbehaves.
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/detail/hybi13.hpp>
#include <catch2/catch.hpp>
#include <functional>
#include <string>
#include <vector>

#include "netproc/session_transport.hpp"
#include "tests/support/memory_stream.hpp"

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using beast::error_code;


using transport = wsbridge::netproc::session_transport<fake::stream>;

namespace {

/// Runs what is ready (an io_context that ran out of work must be restarted).
void run_ready(net::io_context& ioc) {
  ioc.restart();
  ioc.poll();
}

/// A websocket over the transport, its handshake done against the fake peer.
struct open_client {
  net::io_context ioc;
  websocket::stream<transport> ws{ioc};
  fake::stream& peer() { return ws.next_layer().next_layer(); }

  open_client() {
    bool done = false;
    ws.async_handshake("h", "/", [&](error_code ec) {
      REQUIRE_FALSE(ec);
      done = true;
    });
    run_ready(ioc);
    const std::string& req = peer().written;
    const auto at = req.find("Sec-WebSocket-Key: ");
    REQUIRE(at != std::string::npos);
    const std::string key = req.substr(at + 19, req.find("\r\n", at) - at - 19);
    websocket::detail::sec_ws_accept_type accept;
    websocket::detail::make_sec_ws_accept(accept, key);
    peer().feed("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Accept: " + std::string(accept.data(), accept.size()) + "\r\n\r\n");
    run_ready(ioc);
    REQUIRE(done);
    peer().written.clear();
  }

  std::size_t close_frames_written() const {
    std::size_t n = 0;
    const std::string& w = const_cast<open_client*>(this)->peer().written;
    for (std::size_t i = 0; i + 1 < w.size();) {  // walk the masked client frames
      const auto op = static_cast<unsigned char>(w[i]) & 0x0f;
      std::size_t len = static_cast<unsigned char>(w[i + 1]) & 0x7f;
      n += op == 8 ? 1 : 0;
      i += 2 + 4 + len;  // control frames only here: short lengths
    }
    return n;
  }
};

}  // namespace

TEST_CASE("transport: a refusal without a body length ends at its head", "[transport]") {
  net::io_context ioc;
  transport t(ioc);
  t.stop_after_refusal();
  t.next_layer().feed("HTTP/1.1 302 Found\r\nLocation: /x\r\n\r\nbody that never ends");
  std::string got;
  error_code last;
  for (int i = 0; i < 10 && !last; ++i) {
    char buf[7];
    t.async_read_some(net::buffer(buf), [&](error_code ec, std::size_t n) {
      got.append(buf, n);
      last = ec;
    });
    run_ready(ioc);
  }
  CHECK(got == "HTTP/1.1 302 Found\r\nLocation: /x\r\n\r\n");
  CHECK(last == net::error::eof);
}

TEST_CASE("transport: a refusal with a length is read on", "[transport]") {
  net::io_context ioc;
  transport t(ioc);
  t.stop_after_refusal();
  const std::string answer = "HTTP/1.1 403 Forbidden\r\nContent-Length: 4\r\n\r\nnope";
  t.next_layer().feed(answer);
  char buf[256];
  std::size_t got = 0;
  t.async_read_some(net::buffer(buf), [&](error_code ec, std::size_t n) {
    CHECK_FALSE(ec);
    got = n;
  });
  run_ready(ioc);
  CHECK(std::string(buf, got) == answer);
}

TEST_CASE("transport: after our own Close, Beast's reply Close is dropped", "[transport]") {
  open_client c;
  auto& t = c.ws.next_layer();
  t.write_raw(std::string("\x88\x82\x00\x00\x00\x00\x03\xe8", 8));  // our Close 1000 (mask 0)
  t.drop_close_frames();
  c.peer().feed(std::string("\x88\x02\x03\xe8", 4));  // the server's answer
  beast::flat_buffer buf;
  error_code read_ec;
  c.ws.async_read(buf, [&](error_code ec, std::size_t) { read_ec = ec; });
  run_ready(c.ioc);
  CHECK(read_ec == websocket::error::closed);
  CHECK(c.close_frames_written() == 1);  // ours only: Beast's echo of the Close was dropped
  CHECK(t.beast_close_code() == 0);
}

TEST_CASE("transport: the code of a Close Beast fails the connection with", "[transport]") {
  open_client c;
  c.peer().feed(std::string("\x88\x01\x03", 3));  // a 1-byte Close payload: a protocol error
  beast::flat_buffer buf;
  c.ws.async_read(buf, [&](error_code, std::size_t) {});
  run_ready(c.ioc);
  CHECK(c.ws.next_layer().beast_close_code() == 1002);
  CHECK(c.ws.next_layer().close_frame_flushed());
}

TEST_CASE("transport: accounting, and pongs that stop reading while the peer does not read", "[transport]") {
  open_client c;
  auto& t = c.ws.next_layer();
  const std::uint64_t before = t.accepted();  // the upgrade request went through it too
  t.write_raw("abc");
  CHECK(t.accepted() == before + 3);
  run_ready(c.ioc);
  CHECK(t.flushed() == before + 3);
  CHECK(t.backlog() == 0);
  c.peer().stall_writes = true;  // from now on the peer reads nothing
  std::string pings;
  for (int i = 0; i < 2000; ++i) pings += std::string("\x89\x7d", 2) + std::string(125, 'p');  // 254 KB
  c.peer().feed(pings);
  beast::flat_buffer buf;
  c.ws.async_read(buf, [&](error_code, std::size_t) {});
  run_ready(c.ioc);
  const int reads = c.peer().reads_started;
  c.peer().feed(pings);  // more pings wait in the "socket"
  run_ready(c.ioc);
  // Every ping of the first batch got its pong (accepted, unsent), and then the socket
  // was no longer read: the second batch was not asked for.
  CHECK(t.control_backlog() > (64u << 10));
  CHECK(t.control_backlog() <= 2000u * (2 + 4 + 125) + 200);
  CHECK(c.peer().reads_started == reads);
}

TEST_CASE("transport: a Close code Beast echoes that is not valid on the wire goes out as 1002", "[transport]") {
  // Beast 1.81 takes 5000 and up as valid and echoes it; RFC 6455 §7.4.2 has no such codes.
  for (const std::string& code : {std::string("\x13\x88", 2), std::string("\xff\xff", 2)}) {
    open_client c;
    c.peer().feed(std::string("\x88\x02", 2) + code);
    beast::flat_buffer buf;
    error_code read_ec;
    c.ws.async_read(buf, [&](error_code ec, std::size_t) { read_ec = ec; });
    run_ready(c.ioc);
    const std::string& w = c.peer().written;
    REQUIRE(w.size() == 8);  // one masked Close with a 2-byte payload, no reason
    CHECK(static_cast<unsigned char>(w[0]) == 0x88);
    CHECK(static_cast<unsigned char>(w[1]) == 0x82);
    const int sent = (static_cast<unsigned char>(w[6] ^ w[2]) << 8) | static_cast<unsigned char>(w[7] ^ w[3]);
    CHECK(sent == 1002);
    CHECK(c.ws.next_layer().beast_close_code() == 1002);
  }
}

TEST_CASE("transport: bytes put back are read before the next layer, as frames", "[transport]") {
  // A server reads the upgrade request outside Beast; what followed its head is the
  // client's first frames, and Beast must parse them (never pass them on as they are).
  net::io_context ioc;
  websocket::stream<transport> ws{ioc};
  ws.set_option(websocket::stream_base::decorator([](websocket::response_type&) {}));
  websocket::request_type req;
  req.method(beast::http::verb::get);
  req.target("/");
  req.version(11);
  req.set(beast::http::field::host, "h");
  req.set(beast::http::field::upgrade, "websocket");
  req.set(beast::http::field::connection, "Upgrade");
  req.set(beast::http::field::sec_websocket_key, "dGhlIHNhbXBsZSBub25jZQ==");
  req.set(beast::http::field::sec_websocket_version, "13");
  // Two masked text frames (mask 0): "first", then "second", the second split between
  // the bytes put back and the socket.
  const std::string first = std::string("\x81\x85\0\0\0\0", 6) + "first";
  const std::string second = std::string("\x81\x86\0\0\0\0", 6) + "second";
  ws.next_layer().next_layer().feed(second.substr(4));
  ws.next_layer().unread(first + second.substr(0, 4));
  bool accepted = false;
  ws.async_accept(req, [&](error_code ec) {
    REQUIRE_FALSE(ec);
    accepted = true;
  });
  run_ready(ioc);
  REQUIRE(accepted);
  std::vector<std::string> got;
  beast::flat_buffer buf;
  std::function<void(error_code, std::size_t)> on_read = [&](error_code ec, std::size_t) {
    if (ec) return;
    got.push_back(beast::buffers_to_string(buf.data()));
    buf.consume(buf.size());
    if (got.size() < 2) ws.async_read(buf, on_read);
  };
  ws.async_read(buf, on_read);
  run_ready(ioc);
  CHECK(got == std::vector<std::string>{"first", "second"});
}

// The adapters on their own (beast_adapters.hpp): the bytes they see, what they decide.

TEST_CASE("refusal_head_cut: a refused answer without a body length ends at its head", "[transport][adapter]") {
  wsbridge::netproc::refusal_head_cut cut;
  cut.arm();
  const std::string answer = "HTTP/1.1 302 Found\r\nLocation: /x\r\n\r\nbody that never ends";
  // Fed in two reads, split inside the blank line.
  const std::size_t split = answer.find("\r\n\r\n") + 2;
  CHECK(cut.readable_end(answer.data(), 0, split) == split);
  CHECK_FALSE(cut.ended());
  cut.new_buffer();
  const std::string rest = answer.substr(split);
  CHECK(cut.readable_end(rest.data(), 0, rest.size()) == 2);
  CHECK(cut.ended());
  CHECK(cut.head() == "http/1.1 302 found\r\nlocation: /x\r\n\r\n");
}

TEST_CASE("refusal_head_cut: 101, a length, chunked coding, or not armed: everything is readable",
          "[transport][adapter]") {
  for (const std::string answer : {"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x01x",
                                   "HTTP/1.1 403 Forbidden\r\nContent-Length: 4\r\n\r\nnope",
                                   "HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\n\r\n4\r\noops\r\n0\r\n\r\n"}) {
    wsbridge::netproc::refusal_head_cut cut;
    cut.arm();
    CHECK(cut.readable_end(answer.data(), 0, answer.size()) == answer.size());
    CHECK_FALSE(cut.ended());
  }
  wsbridge::netproc::refusal_head_cut idle;
  const std::string bytes = "HTTP/1.1 302 Found\r\n\r\nmore";
  CHECK(idle.readable_end(bytes.data(), 0, bytes.size()) == bytes.size());
  CHECK(idle.head().empty());
}

TEST_CASE("close_frame_watch: learns Beast's code, rewrites a code not allowed on the wire, drops a second Close",
          "[transport][adapter]") {
  using watch = wsbridge::netproc::close_frame_watch;
  const std::string text_frame("\x81\x02hi", 4);
  const std::string close_1002("\x88\x02\x03\xea", 4);            // a server's, unmasked
  const std::string close_5000("\x88\x82\x01\x02\x03\x04\x12\x8a", 8);  // a client's, masked: 0x1388 ^ key
  SECTION("the first Close Beast writes names the code it failed with") {
    watch w;
    CHECK(w.on_write(text_frame) == watch::action::pass);
    CHECK(w.beast_code() == 0);
    CHECK(w.on_write(close_1002) == watch::action::pass);
    CHECK(w.beast_code() == 1002);
  }
  SECTION("an echoed 5000 becomes 1002, masked with the frame's own key") {
    watch w;
    CHECK(watch::code_of(close_5000) == 5000);
    CHECK(w.on_write(close_5000) == watch::action::rewrite);
    CHECK(w.beast_code() == 1002);
    const std::string out = watch::rewritten(close_5000);
    CHECK(out == std::string("\x88\x82\x01\x02\x03\x04", 6) + std::string{char(0x03 ^ 0x01), char(0xea ^ 0x02)});
    CHECK(watch::code_of(out) == 1002);
  }
  SECTION("after our own Close, Beast's Close frames are dropped and teach nothing") {
    watch w;
    w.drop_from_now();
    CHECK(w.on_write(close_1002) == watch::action::drop);
    CHECK(w.on_write(text_frame) == watch::action::pass);  // other frames still go out
    CHECK(w.beast_code() == 0);
  }
}
