// Server mode's pure decisions (issue #17): --listen's address, the subprotocol a
// server chooses, the Origin check, and which environment lines from netproc the
// launcher may set for the program.
#include <catch2/catch.hpp>

#include "bridge/cli/config.hpp"
#include "bridge/protocol/ipc.hpp"
#include "netproc/handshake.hpp"

using namespace wsbridge;

TEST_CASE("the listen address is [ADDR:]PORT, loopback by default", "[server]") {
  std::string host, port, err;
  CHECK(parse_listen("8080", host, port, &err));
  CHECK((host == "127.0.0.1" && port == "8080"));
  CHECK(parse_listen("0.0.0.0:0", host, port, &err));
  CHECK((host == "0.0.0.0" && port == "0"));
  CHECK(parse_listen("[::1]:9000", host, port, &err));
  CHECK((host == "::1" && port == "9000"));
  CHECK(parse_listen("localhost:80", host, port, &err));
  CHECK(host == "127.0.0.1");
  for (const char* bad : {"", "65536", "x", ":8080", "::1:80", "[::1]", "[::1:80", "[zz]:80", "999.1.1.1:80", "1.2.3.4:"}) {
    INFO(bad);
    CHECK_FALSE(parse_listen(bad, host, port, &err));
  }
}

TEST_CASE("a server chooses the first of its subprotocols that the client offers", "[server]") {
  using netproc::choose_subprotocol;
  CHECK(choose_subprotocol("a, chat, b", {"chat", "b"}) == "chat");
  CHECK(choose_subprotocol("a, b", {"chat", "b"}) == "b");  // our order, not the client's
  CHECK(choose_subprotocol("Chat", {"chat"}) == "");       // names are case-sensitive
  CHECK(choose_subprotocol("", {"chat"}) == "");
  CHECK(choose_subprotocol("chat", {}) == "");
}

TEST_CASE("an allowed origin is a listed one, or none at all (not a browser)", "[server]") {
  using netproc::origin_allowed;
  const std::vector<std::string> allowed{"https://good.example", "http://localhost:8080/"};
  CHECK(origin_allowed("https://good.example", allowed));
  CHECK(origin_allowed("HTTPS://GOOD.example/", allowed));
  CHECK(origin_allowed("http://localhost:8080", allowed));
  CHECK(origin_allowed("", allowed));
  CHECK_FALSE(origin_allowed("https://evil.example", allowed));
  CHECK_FALSE(origin_allowed("https://good.example.evil", allowed));
  CHECK_FALSE(origin_allowed("null", allowed));
  CHECK(origin_allowed("https://anything", {}));
}

TEST_CASE("same origin: the Origin's host and port are the Host header's", "[server]") {
  using netproc::same_origin_request;
  CHECK(same_origin_request("http://localhost:8080", "localhost:8080"));
  CHECK(same_origin_request("https://Example.com", "example.com"));
  CHECK(same_origin_request("", "example.com"));
  CHECK_FALSE(same_origin_request("http://localhost:8081", "localhost:8080"));
  CHECK_FALSE(same_origin_request("https://evil.example", "example.com"));
  CHECK_FALSE(same_origin_request("null", "example.com"));
}

TEST_CASE("the launcher sets only websocketd's variables and HTTP_ headers", "[server][sandbox]") {
  using ipc::program_variable_allowed;
  for (const char* ok : {"REMOTE_ADDR=127.0.0.1", "QUERY_STRING=a=b", "PATH_INFO=/x", "HTTP_X_TOKEN=t",
                         "HTTP_SEC_WEBSOCKET_KEY=k==", "WSBRIDGE_REMOTE=127.0.0.1:1", "UNIQUE_ID=1", "HTTPS=on"}) {
    INFO(ok);
    CHECK(program_variable_allowed(ok));
  }
  // A compromised netproc must not choose what the program loads or runs.
  for (const char* bad : {"LD_PRELOAD=/tmp/x.so", "PATH=/tmp", "HTTP_PROXY=http://evil/", "HTTP_=x", "HTTP_x=y",
                          "HTTP_A.B=c", "REMOTE_ADDR", "=x", "BASH_ENV=/tmp/x", "IFS= "}) {
    INFO(bad);
    CHECK_FALSE(program_variable_allowed(bad));
  }
  CHECK_FALSE(program_variable_allowed(std::string("HTTP_X=a\0b", 10)));
}

TEST_CASE("a refused upgrade says what to try next", "[handshake]") {
  using netproc::refusal_hint;
  CHECK(refusal_hint(401, "", "", "") == "; try -u USER:PASSWORD, or -H 'Authorization: ...' for a token");
  CHECK(refusal_hint(403, "", "", "") == "");  // forbidden without a challenge: credentials would not help
  CHECK(refusal_hint(403, "Bearer", "", "").starts_with("; it asks for credentials (WWW-Authenticate: Bearer)"));
  CHECK(refusal_hint(426, "", "", "8, 7") == "; it speaks WebSocket version 8, 7, wsbridge 13 (RFC 6455)");
  CHECK(refusal_hint(429, "", "120", "") == "; it says to retry after 120 s");
  CHECK(refusal_hint(503, "", "Wed, 21 Oct 2026 07:28:00 GMT", "") ==
        "; it says to retry after Wed, 21 Oct 2026 07:28:00 GMT");
  CHECK(refusal_hint(500, "", "", "") == "");
  CHECK(refusal_hint(401, std::string(500, 'x'), "", "").size() < 300);  // a server's text is cut
}
