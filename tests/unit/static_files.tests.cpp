// --static-dir's pure rules (bridge/protocol/static_files.hpp): what a request target
// may name, checked by netproc and again by the supervisor before it opens anything.
#include <catch2/catch.hpp>

#include "bridge/protocol/static_files.hpp"

using wsbridge::static_path;
using wsbridge::static_path_allowed;

TEST_CASE("static_path: targets that name a file beneath the directory", "[static]") {
  CHECK(static_path("/") == "");
  CHECK(static_path("/index.html") == "index.html");
  CHECK(static_path("/a/b.css?v=3#top") == "a/b.css");
  CHECK(static_path("/docs/") == "docs/");
  CHECK(static_path("//a///b") == "a/b");
  CHECK(static_path("/caf%C3%A9.txt") == "caf\xc3\xa9.txt");
  CHECK(static_path("/a%20b") == "a b");
  CHECK(static_path("/a.b/c..d") == "a.b/c..d");  // dots inside a name are fine
}

TEST_CASE("static_path: targets that name nothing that may be served", "[static]") {
  for (const char* bad : {"", "index.html", "*", "http://x/", "/..", "/a%0ab", "/a\x7f", "/../etc/passwd", "/a/../../b", "/%2e%2e/x",
                          "/%2E%2e/x", "/.", "/./a", "/.env", "/a/.git/config", "/a%2fb", "/a%2F..%2Fb", "/a%00b",
                          "/a%zz", "/a%4", "/a%", "/a\\..\\b", "/%5c..%5cb"})
    CHECK_FALSE(static_path(bad).has_value());
}

TEST_CASE("static_path_allowed: the supervisor's second check", "[static]") {
  CHECK(static_path_allowed(""));
  CHECK(static_path_allowed("a/b.html"));
  CHECK(static_path_allowed("docs/"));
  for (const char* bad : {"/etc/passwd", "../x", "a/../b", "a/./b", ".env", "a/.git", "a//b", "a\\b"})
    CHECK_FALSE(static_path_allowed(bad));
  CHECK_FALSE(static_path_allowed(std::string_view("a\0b", 3)));
}

TEST_CASE("content types and HTTP dates", "[static]") {
  CHECK(wsbridge::content_type_for("a/index.HTML") == "text/html; charset=utf-8");
  CHECK(wsbridge::content_type_for("app.mjs") == "text/javascript; charset=utf-8");
  CHECK(wsbridge::content_type_for("x.wasm") == "application/wasm");
  CHECK(wsbridge::content_type_for("README") == "application/octet-stream");
  CHECK(wsbridge::http_date(784111777) == "Sun, 06 Nov 1994 08:49:37 GMT");  // RFC 9110's example
  CHECK(wsbridge::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT") == 784111777);
  CHECK_FALSE(wsbridge::parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT").has_value());
  CHECK_FALSE(wsbridge::parse_http_date("Sun, 06 Nov 1994 25:49:37 GMT").has_value());
}
