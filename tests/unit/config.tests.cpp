#include <catch2/catch.hpp>

#include "bridge/cli/config.hpp"

using namespace wsbridge;

TEST_CASE("ws and wss URLs are taken apart", "[config]") {
  ws_target t;
  std::string err;
  SECTION("defaults") {
    REQUIRE(parse_ws_url("ws://example.com", t, &err));
    CHECK_FALSE(t.tls);
    CHECK(t.host == "example.com");
    CHECK(t.port == "80");
    CHECK(t.host_header == "example.com");
    CHECK(t.resource == "/");
  }
  SECTION("port, path and query") {
    REQUIRE(parse_ws_url("wss://example.com:8443/chat?room=1", t, &err));
    CHECK(t.tls);
    CHECK(t.port == "8443");
    CHECK(t.host_header == "example.com:8443");
    CHECK(t.resource == "/chat?room=1");
  }
  SECTION("a percent-encoded control character or space in the host is refused") {
    // "%00evil.example" would reach the resolver as "" (the local host).
    for (const char* url : {"ws://%00evil.example:1/", "ws://a%0Db/", "ws://a%20b/", "ws://%7F/"}) {
      CHECK_FALSE(parse_ws_url(url, t, &err));
      CHECK(err.find("percent-encoded control character or space") != std::string::npos);
    }
    CHECK(parse_ws_url("ws://ex%61mple.com/", t, &err));  // an encoded letter is still a name
    CHECK(t.host == "example.com");
  }
  SECTION("IPv6 literal") {
    REQUIRE(parse_ws_url("ws://[::1]:9000/x", t, &err));
    CHECK(t.host == "::1");
    CHECK(t.host_header == "[::1]:9000");
  }
  SECTION("scheme is case-insensitive") {
    REQUIRE(parse_ws_url("WS://h/", t, &err));
  }
}

TEST_CASE("user info is percent-decoded for Basic auth and hidden when shown", "[config]") {
  ws_target t;
  std::string err;
  REQUIRE(parse_ws_url("ws://al%40ice:p%3Ass@h:81/x", t, &err));
  CHECK(t.userinfo == "al@ice:p:ss");
  CHECK(t.host_header == "h:81");
  CHECK(t.display == "ws://al%40ice:***@h:81/x");
}

TEST_CASE("a redirect keeps credentials only on the same origin", "[config]") {
  const auto parse = [](std::vector<const char*> argv) {
    config cfg;
    std::string text;
    argv.insert(argv.begin(), "wsbridge");
    REQUIRE(parse_command_line(static_cast<int>(argv.size()), argv.data(), cfg, &text) == parse_outcome::run);
    return cfg;
  };
  std::string err;
  config same = parse({"-H", "Cookie: a=1", "--user", "u:p", "ws://x:y@h/a"});
  REQUIRE(apply_redirect(same, "ws://H:80/b", &err));
  CHECK(same.headers.size() == 1);
  CHECK(same.user == "u:p");
  CHECK(same.target.userinfo == "x:y");
  CHECK(same.target.resource == "/b");
  config other = parse({"-H", "Cookie: a=1", "-H", "X-A: 1", "--user", "u:p", "ws://x:y@h/a"});
  REQUIRE(apply_redirect(other, "wss://h/b", &err));
  CHECK(other.headers == std::vector<std::pair<std::string, std::string>>{{"X-A", "1"}});
  CHECK(other.user.empty());
  CHECK(other.target.userinfo.empty());
  CHECK(other.target.tls);
  // A chain: once dropped, credentials do not come back on a later hop.
  REQUIRE(apply_redirect(other, "wss://h/c", &err));
  CHECK(other.user.empty());
  CHECK(other.target.userinfo.empty());
  CHECK_FALSE(apply_redirect(other, "ftp://h/", &err));
}

TEST_CASE("bad URLs are refused with a reason", "[config]") {
  ws_target t;
  std::string err;
  // No scheme: suggest the fix.
  CHECK_FALSE(parse_ws_url("localhost:8080", t, &err));
  CHECK(err.find("did you mean ws://localhost:8080") != std::string::npos);
  CHECK_FALSE(parse_ws_url("https://h/", t, &err));
  CHECK(err.find("did you mean wss://") != std::string::npos);
  CHECK_FALSE(parse_ws_url("ws://h:0/", t, &err));
  CHECK_FALSE(parse_ws_url("ws://h:65536/", t, &err));
  CHECK_FALSE(parse_ws_url("ws://h/#x", t, &err));     // RFC 6455 §3
  CHECK_FALSE(parse_ws_url("ws:// bad host/", t, &err));
}

TEST_CASE("command line options", "[config]") {
  config cfg;
  std::string text;
  SECTION("timeouts and linger") {
    const char* argv[] = {"wsbridge", "--close-timeout", "1.5", "--linger", "0", "ws://h/"};
    REQUIRE(parse_command_line(6, argv, cfg, &text) == parse_outcome::run);
    CHECK(cfg.close_timeout == std::chrono::milliseconds(1500));
    CHECK(cfg.linger == std::chrono::milliseconds(0));
  }
  SECTION("bad values are errors") {
    const char* zero[] = {"wsbridge", "--connect-timeout", "0", "ws://h/"};
    CHECK(parse_command_line(4, zero, cfg, &text) == parse_outcome::error);
    const char* nan[] = {"wsbridge", "--close-timeout", "soon", "ws://h/"};
    CHECK(parse_command_line(4, nan, cfg, &text) == parse_outcome::error);
    const char* big[] = {"wsbridge", "--max-size", "99999999999", "ws://h/"};
    CHECK(parse_command_line(4, big, cfg, &text) == parse_outcome::error);
  }
  SECTION("help mentions every visible option") {
    const char* argv[] = {"wsbridge", "--help"};
    REQUIRE(parse_command_line(2, argv, cfg, &text) == parse_outcome::help);
    for (const char* opt : {"--connect-timeout", "--close-timeout", "--linger", "--max-size", "--verbose"})
      CHECK(text.find(opt) != std::string::npos);
    CHECK(text.find("--url") == std::string::npos);  // the positional URL is not an option
  }
}
