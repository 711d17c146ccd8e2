#include <catch2/catch.hpp>

#include "bridge/common/safe_text.hpp"

using wsbridge::safe_text;

TEST_CASE("printable text and UTF-8 pass unchanged", "[safe_text]") {
  CHECK(safe_text("hello, world") == "hello, world");
  CHECK(safe_text("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80") == "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
}

TEST_CASE("terminal controls are escaped, never passed through", "[safe_text]") {
  // ESC starts cursor moves, title changes (OSC) and key injection.
  CHECK(safe_text("\x1b[2J\x1b]0;title\x07") == "\\x1b[2J\\x1b]0;title\\x07");
  // \r would let a message overwrite what is already on the line.
  CHECK(safe_text("ok\rfake") == "ok\\rfake");
  CHECK(safe_text("a\nb\tc") == "a\\nb\\tc");
  CHECK(safe_text("a\nb\tc", /*keep_newlines=*/true) == "a\nb\tc");
  CHECK(safe_text("\x7f") == "\\x7f");
  // C1 controls encoded in UTF-8 (U+009B is CSI on many terminals).
  CHECK(safe_text("\xc2\x9b" "2J") == "\\u009b2J");
  // Bidi overrides can make text read differently from what it is.
  CHECK(safe_text("\xe2\x80\xae" "gpj.exe") == "\\u202egpj.exe");
  CHECK(safe_text("\xe2\x81\xa6x") == "\\u2066x");
}

TEST_CASE("invalid UTF-8 is shown byte by byte", "[safe_text]") {
  CHECK(safe_text("\xff\xfe") == "\\xff\\xfe");
  CHECK(safe_text("\xc0\x80") == "\\xc0\\x80");                  // overlong NUL
  CHECK(safe_text("\xed\xa0\x80") == "\\xed\\xa0\\x80");          // surrogate
  CHECK(safe_text("\xe2\x82") == "\\xe2\\x82");                   // truncated
  CHECK(safe_text(std::string("a\0b", 3)) == "a\\x00b");
}
