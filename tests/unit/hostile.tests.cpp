// Regression tests for the defects found with hostile servers (issue #16), at the level
// of the pure functions that decide: the redirect policy, the handshake checks, the
// netproc dispatch table, the input framers' limits and the user-facing texts.
#include <catch2/catch.hpp>
#include <cstring>

#include "bridge/cli/config.hpp"
#include "bridge/protocol/ipc.hpp"
#include "bridge/common/safe_text.hpp"
#include "bridge/protocol/status_board.hpp"
#include "bridge/framing/display.hpp"
#include "bridge/framing/input_framer.hpp"
#include "ioproc/net_frames.hpp"
#include "netproc/close_phase.hpp"
#include "netproc/handshake.hpp"

using namespace wsbridge;

namespace {

ws_target target_of(const std::string& url) {
  ws_target t;
  std::string err;
  REQUIRE(parse_ws_url(url, t, &err));
  return t;
}

config parsed(std::vector<const char*> argv, std::string* text) {
  config cfg;
  argv.insert(argv.begin(), "wsbridge");
  const auto outcome = parse_command_line(static_cast<int>(argv.size()), argv.data(), cfg, text);
  if (outcome != parse_outcome::run) cfg.url = "<refused>";
  return cfg;
}

}  // namespace

TEST_CASE("a redirect may lead only to ws, wss, http or https, never down from wss", "[redirect]") {
  const ws_target plain = target_of("ws://h:8080/a/b");
  const ws_target secure = target_of("wss://h/a");
  std::string url, why;
  SECTION("relative, absolute and http(s) targets are followed") {
    REQUIRE(resolve_redirect(plain, "c?x=1", 0, 10, url, &why));
    CHECK(url == "ws://h:8080/a/c?x=1");
    REQUIRE(resolve_redirect(plain, "https://other.test/x#frag", 0, 10, url, &why));
    CHECK(url == "wss://other.test/x");  // the fragment goes (RFC 6455 §3)
    REQUIRE(resolve_redirect(secure, "//h/next", 0, 10, url, &why));
    CHECK(url == "wss://h/next");
  }
  SECTION("a local socket is never a redirect target") {
    // The server's answer must not make us connect to /run/docker.sock.
    CHECK_FALSE(resolve_redirect(plain, "ws+unix:///run/docker.sock:/v1/containers/json", 0, 10, url, &why));
    CHECK(why.find("ws+unix") != std::string::npos);
    CHECK_FALSE(resolve_redirect(plain, "file:///etc/passwd", 0, 10, url, &why));
    CHECK_FALSE(resolve_redirect(plain, "ftp://h/", 0, 10, url, &why));
  }
  SECTION("no downgrade, a hop limit, a length limit, no control characters") {
    CHECK_FALSE(resolve_redirect(secure, "ws://h/", 0, 10, url, &why));
    CHECK(why == "refusing to follow a redirect from wss:// to ws://");
    CHECK_FALSE(resolve_redirect(secure, "http://h/", 0, 10, url, &why));
    CHECK_FALSE(resolve_redirect(plain, "/x", 3, 3, url, &why));
    CHECK(why == "too many redirects (3; see --max-redirects)");
    CHECK_FALSE(resolve_redirect(plain, "/" + std::string(5000, 'a'), 0, 10, url, &why));
    CHECK_FALSE(resolve_redirect(plain, "/a\nb", 0, 10, url, &why));
    CHECK_FALSE(resolve_redirect(plain, "/a\x1b[2Jb", 0, 10, url, &why));
  }
  SECTION("what netproc hands the supervisor passes the same check unchanged") {
    REQUIRE(resolve_redirect(plain, "../up", 0, 10, url, &why));
    std::string again;
    REQUIRE(resolve_redirect(plain, url, 1, 10, again, &why));
    CHECK(again == url);
  }
}

TEST_CASE("a redirect drops Proxy-Authorization across origins too", "[redirect]") {
  std::string text, err;
  config cfg = parsed({"-H", "Proxy-Authorization: Basic eA==", "-H", "X-Keep: 1", "ws://h/"}, &text);
  REQUIRE(apply_redirect(cfg, "ws://other.test/", &err));
  CHECK(cfg.headers == std::vector<std::pair<std::string, std::string>>{{"X-Keep", "1"}});
}

TEST_CASE("URLs with control characters are refused before Boost.URL sees them", "[config]") {
  ws_target t;
  std::string err;
  // Boost.URL 1.81 asserts on this one in debug builds.
  CHECK_FALSE(parse_ws_url("nn-:\n", t, &err));
  CHECK(err.find("control character") != std::string::npos);
  CHECK(err.find('\n') == std::string::npos);  // the message itself stays one line
  CHECK_FALSE(parse_ws_url("ws://h/a b", t, &err));
  CHECK(err.find("space") != std::string::npos);
  proxy_target p;
  CHECK_FALSE(parse_proxy_url("http://p\r\n:8080", p, &err));
}

TEST_CASE("a header value (-H) refuses every control character but HTAB", "[config]") {
  std::string text;
  CHECK(parsed({"-H", "X-A: tab\tok", "ws://h/"}, &text).url != "<refused>");
  for (const char* bad : {"X-A: \x1b[31mred", "X-A: a\x7f", "X-A: a\rb", "X-A: a\x01"}) {
    CHECK(parsed({"-H", bad, "ws://h/"}, &text).url == "<refused>");
    CHECK(text.find("control characters") != std::string::npos);
  }
}

TEST_CASE("an extension the client did not offer is found", "[handshake]") {
  using netproc::unoffered_extension;
  CHECK(unoffered_extension("permessage-deflate; client_max_window_bits=15", true).empty());
  CHECK(unoffered_extension("permessage-deflate", false) == "permessage-deflate");  // --no-compress
  CHECK(unoffered_extension("x-unknown-ext", true) == "x-unknown-ext");
  CHECK(unoffered_extension("permessage-deflate, x-webkit-deflate-frame", true) == "x-webkit-deflate-frame");
  CHECK(unoffered_extension("PerMessage-Deflate", true).empty());  // tokens are case-insensitive
  CHECK_FALSE(unoffered_extension(";;;", true).empty());            // not an extension list at all
}

TEST_CASE("a deflate window size outside 8-15 is named", "[handshake]") {
  using netproc::bad_deflate_parameter;
  CHECK(bad_deflate_parameter("permessage-deflate; server_max_window_bits=15; client_max_window_bits=8").empty());
  CHECK(bad_deflate_parameter("permessage-deflate").empty());
  CHECK(bad_deflate_parameter("permessage-deflate; server_max_window_bits=7") == "server_max_window_bits=7");
  CHECK(bad_deflate_parameter("permessage-deflate; client_max_window_bits=16") == "client_max_window_bits=16");
  CHECK(bad_deflate_parameter("permessage-deflate; client_max_window_bits") == "client_max_window_bits");
  CHECK(bad_deflate_parameter("permessage-deflate; server_max_window_bits=010") == "server_max_window_bits=010");
  CHECK(bad_deflate_parameter("x-other; server_max_window_bits=1").empty());  // not ours to judge
}

TEST_CASE("verbose output (-v) masks secret query values", "[handshake]") {
  using netproc::shown_target;
  CHECK(shown_target("/chat") == "/chat");
  CHECK(shown_target("/c?token=abc&room=5") == "/c?token=***&room=5");
  CHECK(shown_target("/c?API_KEY=k&x&Signature=s&password=&auth") == "/c?API_KEY=***&x&Signature=***&password=***&auth");
  CHECK(shown_target("/c?") == "/c?");
}

TEST_CASE("verbose output (-v) masks every credential-bearing header", "[handshake]") {
  using netproc::shown_header_value;
  CHECK(shown_header_value("Authorization", "Basic dTpw") == "Basic ***");
  CHECK(shown_header_value("Proxy-Authorization", "Bearer abc") == "Bearer ***");
  CHECK(shown_header_value("Cookie", "session=s3cret") == "***");
  CHECK(shown_header_value("Set-Cookie", "id=1; HttpOnly") == "***");
  CHECK(shown_header_value("X-Auth-Token", "t") == "***");
  CHECK(shown_header_value("X-Api-Key", "k") == "***");
  CHECK(shown_header_value("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==") == "dGhlIHNhbXBsZSBub25jZQ==");
  CHECK(shown_header_value("User-Agent", "wsbridge/0.1.0") == "wsbridge/0.1.0");
}

TEST_CASE("netproc's dispatch table: what ioproc may send in each phase", "[netproc][dispatch]") {
  using netproc::frame_rule;
  using netproc::io_frame_rule;
  using netproc::io_phase;
  using ft = ipc::frame_type;
  SECTION("open: data, pings, input_end and close requests") {
    for (ft t : {ft::text, ft::binary, ft::ping, ft::input_end, ft::close_request})
      CHECK(io_frame_rule(io_phase::open, t) == frame_rule::accept);
  }
  SECTION("closing: what was already on its way is dropped, not fatal") {
    for (ft t : {ft::text, ft::binary, ft::ping}) CHECK(io_frame_rule(io_phase::closing, t) == frame_rule::drop);
    CHECK(io_frame_rule(io_phase::closing, ft::input_end) == frame_rule::accept);
  }
  SECTION("after input_end ioproc sends nothing but close requests") {
    for (ft t : {ft::text, ft::binary, ft::ping, ft::input_end})
      CHECK(io_frame_rule(io_phase::input_ended, t) == frame_rule::fatal);
    CHECK(io_frame_rule(io_phase::input_ended, ft::close_request) == frame_rule::accept);
  }
  SECTION("netproc's own frames never come from ioproc") {
    for (io_phase p : {io_phase::open, io_phase::closing, io_phase::input_ended})
      for (ft t : {ft::opened, ft::closed, ft::pong, ft::notice}) CHECK(io_frame_rule(p, t) == frame_rule::fatal);
  }
}

TEST_CASE("netproc's closing phases: the order of the closing handshake", "[netproc][close]") {
  using netproc::after;
  using cp = netproc::close_phase;
  using ce = netproc::close_event;
  SECTION("the client closes: linger, Close written, Close in the kernel, then the end") {
    cp p = cp::none;
    for (auto [e, want] : {std::pair{ce::linger, cp::lingering}, {ce::send, cp::sent}, {ce::flushed, cp::flushed},
                           {ce::finish, cp::finished}}) {
      p = after(p, e);
      CHECK(p == want);
    }
  }
  SECTION("a request wins over lingering and drops what is queued; a second one changes nothing") {
    CHECK(after(cp::lingering, ce::request) == cp::requested);
    CHECK(after(cp::requested, ce::request) == cp::requested);
    CHECK(after(cp::requested, ce::send) == cp::sent);
    // Once our Close is written, neither a request nor a linger goes back.
    for (cp p : {cp::sent, cp::flushed})
      for (ce e : {ce::linger, ce::request, ce::send}) CHECK(after(p, e) == p);
    CHECK(after(cp::requested, ce::linger) == cp::requested);
  }
  SECTION("the server closes first: Beast answers, and we never send a Close of our own") {
    for (cp p : {cp::none, cp::lingering, cp::requested}) CHECK(after(p, ce::server_close) == cp::answering);
    for (ce e : {ce::linger, ce::request, ce::send, ce::flushed}) CHECK(after(cp::answering, e) == cp::answering);
    CHECK_FALSE(netproc::our_close_sent(cp::answering));
  }
  SECTION("the server's Close after ours completes the handshake (the caller finishes)") {
    for (cp p : {cp::sent, cp::flushed}) {
      CHECK(netproc::our_close_sent(p));
      CHECK(after(p, ce::server_close) == p);
    }
  }
  SECTION("only `sent` becomes `flushed`") {
    for (cp p : {cp::none, cp::lingering, cp::requested, cp::answering}) CHECK(after(p, ce::flushed) == p);
  }
  SECTION("finished is final; every phase can finish") {
    for (cp p : {cp::none, cp::lingering, cp::requested, cp::sent, cp::flushed, cp::answering}) {
      CHECK(after(p, ce::finish) == cp::finished);
    }
    for (ce e : {ce::linger, ce::request, ce::send, ce::flushed, ce::server_close, ce::finish})
      CHECK(after(cp::finished, e) == cp::finished);
  }
}

TEST_CASE("an over-limit line is refused at any split of the reads", "[input_framer]") {
  constexpr std::size_t limit = 64;
  for (const framing mode : {framing::lines, framing::null}) {
    const char delimiter = mode == framing::lines ? '\n' : '\0';
    const std::string ok = std::string(limit, 'a') + delimiter;
    const std::string over = std::string(limit + 1, 'a') + delimiter;
    for (std::size_t split = 0; split <= over.size(); ++split) {
      input_framer in(mode, payload_encoding::text, limit);
      std::string frames, err;
      const bool first = in.feed(std::string_view(over).substr(0, split), frames, &err);
      const bool second = first && in.feed(std::string_view(over).substr(split), frames, &err) &&
                          in.finish(frames, &err);
      CHECK_FALSE(second);
      CHECK(err.find(mode == framing::lines ? "line 1 is longer than 64 bytes" : "message 1 is longer than") !=
            std::string::npos);
      CHECK(frames.empty());
    }
    for (std::size_t split = 0; split <= ok.size(); ++split) {
      input_framer in(mode, payload_encoding::text, limit);
      std::string frames, err;
      CHECK(in.feed(std::string_view(ok).substr(0, split), frames, &err));
      CHECK(in.feed(std::string_view(ok).substr(split), frames, &err));
      CHECK(in.finish(frames, &err));
      CHECK(in.messages() == 1);
    }
  }
  // A line of exactly the limit may end in "\r\n": the "\r" is not part of it.
  input_framer crlf(framing::lines, payload_encoding::text, limit);
  std::string frames, err;
  CHECK(crlf.feed(std::string(limit, 'b') + "\r", frames, &err));
  CHECK(crlf.feed("\n", frames, &err));
  CHECK(crlf.messages() == 1);
}

TEST_CASE("a last line without a newline loses its \\r too", "[input_framer]") {
  input_framer in(framing::lines, payload_encoding::text);
  std::string frames, err;
  CHECK(in.feed("first\r\nlast\r", frames, &err));
  CHECK(in.finish(frames, &err));
  ipc::frame_decoder d;
  auto space = d.prepare(frames.size());
  std::memcpy(space.data(), frames.data(), frames.size());
  d.commit(frames.size());
  ipc::frame f;
  REQUIRE(d.next(f, &err) == ipc::frame_decoder::result::frame);
  CHECK(f.payload == "first");
  REQUIRE(d.next(f, &err) == ipc::frame_decoder::result::frame);
  CHECK(f.payload == "last");
}

TEST_CASE("raw input: bytes that can never be UTF-8 are invalid, not cut short", "[input_framer][safe_text]") {
  bool incomplete = true;
  CHECK(utf8_valid_prefix("ok\xf5\x97", &incomplete) == 2);
  CHECK_FALSE(incomplete);  // F5 never starts a sequence
  for (const char* cut : {"\xe0\xa0", "\xed\x9f", "\xf0\x90", "\xf4\x8f\xbf", "\xc3", "\xe2\x82"}) {
    CHECK(utf8_valid_prefix(cut, &incomplete) == 0);
    CHECK(incomplete);
  }
  for (const char* bad : {"\xc0", "\xe0\x80", "\xed\xa0", "\xf0\x80", "\xf4\x90", "\xf8"}) {
    CHECK(utf8_valid_prefix(bad, &incomplete) == 0);
    CHECK_FALSE(incomplete);
  }
  input_framer raw(framing::raw, payload_encoding::text);
  std::string frames, err;
  CHECK_FALSE(raw.feed("ok\xf5\x97", frames, &err));
  CHECK(err.find("not valid UTF-8 (at byte 3") != std::string::npos);
  input_framer cut(framing::raw, payload_encoding::text);
  CHECK(cut.feed("ok\xe2\x82", frames, &err));
  CHECK_FALSE(cut.finish(frames, &err));
  CHECK(err.find("ended inside a UTF-8 sequence (at byte 3)") != std::string::npos);
}

TEST_CASE("what the user reads about a close and about unsent input", "[display]") {
  CHECK(close_text({1005, true, ""}) == "connection closed by server (no status code)");
  CHECK(close_text({1001, true, "bye"}) == "connection closed by server: 1001 (going away) \"bye\"");
  CHECK(count_text(1, "message", " from the program") == "1 message from the program");
  CHECK(count_text(2, "message", " from the program") == "2 messages from the program");
  status_board board;
  board.input_messages = 2;
  board.input_ended = 1;
  CHECK(undelivered_text(board, "message", " from the program") ==
        "2 messages from the program were not sent: the connection closed first");
  board.messages_sent = 2;
  CHECK(undelivered_text(board, "input line", {}, true).empty());
  board.input_ended = 0;  // the server closed before the producer's input ended
  CHECK(undelivered_text(board, "input line", {}, true) ==
        "the connection closed before all input was sent (input was not read to its end)");
  CHECK(undelivered_text(board, "input line").empty());
}

TEST_CASE("ioproc's table: what netproc may send in each phase", "[ioproc][dispatch]") {
  using ft = ipc::frame_type;
  SECTION("the usual life: notices, opened, messages, pongs, closed") {
    net_frame_checker c;
    for (ft t : {ft::notice, ft::notice, ft::opened, ft::text, ft::binary, ft::pong, ft::notice, ft::closed})
      CHECK(c.accept(t).empty());
    CHECK(c.current() == net_frame_checker::phase::closed);
  }
  SECTION("a connection that never opened ends with closed") {
    net_frame_checker c;
    CHECK(c.accept(ft::notice).empty());
    CHECK(c.accept(ft::closed).empty());
  }
  SECTION("messages before opened, a second opened, anything after closed") {
    for (ft early : {ft::text, ft::binary, ft::pong}) {
      net_frame_checker c;
      CHECK(c.accept(early) == std::string("unexpected ") + ipc::to_string(early) +
                                   " frame from the network process before the connection opened");
    }
    net_frame_checker twice;
    CHECK(twice.accept(ft::opened).empty());
    CHECK_FALSE(twice.accept(ft::opened).empty());
    net_frame_checker after;
    CHECK(after.accept(ft::closed).empty());
    CHECK_FALSE(after.accept(ft::notice).empty());
  }
  SECTION("frames that only go towards netproc never come from it") {
    for (ft t : {ft::input_end, ft::close_request, ft::ping}) {
      net_frame_checker c;
      CHECK_FALSE(c.accept(t).empty());
      CHECK(c.accept(ft::opened).empty());
      CHECK_FALSE(c.accept(t).empty());
    }
  }
}

TEST_CASE("the upgrade request's headers: credentials, subprotocols, and -H last", "[handshake]") {
  std::string text;
  const config cfg = parsed({"--origin", "https://app.test", "--subprotocol", "chat.v2", "--subprotocol", "chat",
                             "-H", "X-A: 1", "ws://al%40ice:p%3Ass@h/"},
                            &text);
  const auto headers = netproc::upgrade_headers(net_settings_of(cfg));
  REQUIRE(headers.size() == 5);
  CHECK(headers[0].first == "User-Agent");
  CHECK(headers[1] == std::pair<std::string, std::string>{"Origin", "https://app.test"});
  CHECK(headers[2] == std::pair<std::string, std::string>{"Authorization", "Basic YWxAaWNlOnA6c3M="});  // al@ice:p:ss
  CHECK(headers[3] == std::pair<std::string, std::string>{"Sec-WebSocket-Protocol", "chat.v2, chat"});
  CHECK(headers[4] == std::pair<std::string, std::string>{"X-A", "1"});
  // --user wins over the URL; -H Authorization comes after both, so it is what is sent.
  const config over = parsed({"-u", "u:p", "-H", "Authorization: Bearer t", "ws://x:y@h/"}, &text);
  const auto h2 = netproc::upgrade_headers(net_settings_of(over));
  CHECK(h2[1] == std::pair<std::string, std::string>{"Authorization", "Basic dTpw"});
  CHECK(h2.back() == std::pair<std::string, std::string>{"Authorization", "Bearer t"});
  CHECK(netproc::subprotocol_offered("", {}));
  CHECK(netproc::subprotocol_offered("chat", {"chat.v2", "chat"}));
  CHECK_FALSE(netproc::subprotocol_offered("Chat", {"chat"}));  // RFC 6455 §4.1: exact match
}

TEST_CASE("options are matched exactly, and a near miss gets a suggestion", "[config]") {
  std::string text;
  // Program_options guessed prefixes: --cace became --cacert and --head --header, silently.
  CHECK(parsed({"--cace", "x.pem", "ws://h/"}, &text).url == "<refused>");
  CHECK(text == "unknown option --cace (did you mean --cacert?) (see wsbridge --help)");
  CHECK(parsed({"--head", "X: 1", "ws://h/"}, &text).url == "<refused>");
  CHECK(parsed({"--verbos", "ws://h/"}, &text).url == "<refused>");
  CHECK(text.find("did you mean --verbose?") != std::string::npos);
  CHECK(parsed({"--zzzzzz", "ws://h/"}, &text).url == "<refused>");
  CHECK(text.find("did you mean") == std::string::npos);
  // http:// and https:// on the command line mean ws:// and wss://.
  const config https = parsed({"https://h:8443/x"}, &text);
  CHECK(https.target.tls);
  CHECK(https.target.port == "8443");
}

TEST_CASE("an --exec given before the URL says that it must come last", "[config]") {
  std::string text;
  CHECK(parsed({"--exec", "cat", "ws://h/"}, &text).url == "<refused>");
  CHECK(text.find("--exec takes the rest of the command line, so it must come last") != std::string::npos);
}

TEST_CASE("other tools' spellings are accepted", "[config]") {
  std::string text;
  // wscat: -c URL, -s subprotocol, --auth; curl: --max-redirs, --unix-socket, -A; --ca.
  const config cfg = parsed({"-c", "ws://h/x", "-s", "chat", "--auth", "u:p", "--max-redirs", "3", "--ca", "ca.pem",
                             "-A", "probe/1.0"},
                            &text);
  REQUIRE(cfg.url == "ws://h/x");
  CHECK(cfg.subprotocols == std::vector<std::string>{"chat"});
  CHECK(cfg.user == "u:p");
  CHECK(cfg.max_redirects == 3);
  CHECK(cfg.cacert == "ca.pem");
  CHECK(netproc::upgrade_headers(net_settings_of(cfg)).back() == std::pair<std::string, std::string>{"User-Agent", "probe/1.0"});
  const config unix_socket = parsed({"--unix-socket", "/run/app.sock", "ws://localhost/"}, &text);
  CHECK(unix_socket.target.unix_path == "/run/app.sock");
}

TEST_CASE("durations and sizes take units", "[config]") {
  std::string text;
  config cfg = parsed({"--ping-interval", "500ms", "--close-timeout", "2m", "--linger", "1.5", "--max-size", "64K",
                       "ws://h/"}, &text);
  CHECK(cfg.ping_interval == std::chrono::milliseconds(500));
  CHECK(cfg.close_timeout == std::chrono::minutes(2));
  CHECK(cfg.linger == std::chrono::milliseconds(1500));
  CHECK(cfg.max_message == 64u << 10);
  CHECK(parsed({"--max-size", "1MiB", "ws://h/"}, &text).max_message == 1u << 20);
  CHECK(parsed({"--max-size", "1048576", "ws://h/"}, &text).max_message == 1u << 20);
  for (const char* bad : {"3x", "-1", "ms", "1e9", "nan"}) {
    INFO(bad);
    CHECK(parsed({"--timeout", bad, "ws://h/"}, &text).url == "<refused>");
  }
  CHECK(parsed({"--max-size", "65M", "ws://h/"}, &text).url == "<refused>");
  CHECK(text == "--max-size: expected 1 byte to 64M");
}

TEST_CASE("terminal helpers: the hex dump, the extension names, the clock", "[display]") {
  CHECK(hex_dump("") == "");
  CHECK(hex_dump(std::string("Hi\x00\xff", 4)) ==
        "00000000  48 69 00 ff" + std::string(39, ' ') + "|Hi..|\n");
  CHECK(hex_dump(std::string(17, 'a')).find("\n00000010  61") != std::string::npos);
  CHECK(extension_names("permessage-deflate; client_max_window_bits=15; server_no_context_takeover") ==
        "permessage-deflate");
  CHECK(extension_names(" x-one ; a=1 , x-two") == "x-one, x-two");
  CHECK(extension_names("") == "");
  const std::string local = time_text(false), utc = time_text(true);
  CHECK(local.size() == 13);  // "13:45:01.123 "
  CHECK(local[2] == ':');
  CHECK(utc.size() == 24);    // "2026-12-02T13:45:01.123Z"
  CHECK(utc[10] == 'T');
  CHECK(utc.back() == 'Z');
}
