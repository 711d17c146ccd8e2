#include <catch2/catch.hpp>
#include <cstring>

#include "bridge/protocol/ipc.hpp"
#include "bridge/common/safe_text.hpp"
#include "bridge/common/base64.hpp"
#include "bridge/framing/input_framer.hpp"
#include "bridge/framing/output_framer.hpp"
#include "bridge/framing/program_report.hpp"
#include <csignal>

using namespace wsbridge;

namespace {

struct message {
  ipc::frame_type type;
  std::string payload;
  bool operator==(const message&) const = default;
};

std::vector<message> decode(const std::string& frames) {
  ipc::frame_decoder d;
  if (!frames.empty()) {  // (memcpy may not be given the null of an empty space)
    auto space = d.prepare(frames.size());
    std::memcpy(space.data(), frames.data(), frames.size());
    d.commit(frames.size());
  }
  std::vector<message> out;
  ipc::frame f;
  std::string err;
  while (d.next(f, &err) == ipc::frame_decoder::result::frame) out.push_back({f.type, std::string(f.payload)});
  return out;
}

std::vector<std::string> texts(const std::string& frames) {
  std::vector<std::string> out;
  for (const auto& m : decode(frames)) {
    REQUIRE(m.type == ipc::frame_type::text);
    out.push_back(m.payload);
  }
  return out;
}

std::string all_bytes() {
  std::string s;
  for (int i = 0; i < 256; ++i) s.push_back(static_cast<char>(i));
  return s;
}

std::string be32(std::size_t n) {
  return {static_cast<char>(n >> 24), static_cast<char>(n >> 16), static_cast<char>(n >> 8), static_cast<char>(n)};
}

}  // namespace

TEST_CASE("one line becomes one text frame", "[input_framer]") {
  input_framer in(framing::lines, payload_encoding::text);
  std::string frames, err;
  CHECK(in.feed("a\r\nbb\n\nccc", frames, &err));
  CHECK(in.finish(frames, &err));
  CHECK(texts(frames) == std::vector<std::string>{"a", "bb", "", "ccc"});
  CHECK(in.messages() == 4);
}

TEST_CASE("lines split across reads are joined", "[input_framer]") {
  input_framer in(framing::lines, payload_encoding::text);
  std::string frames, err;
  CHECK(in.feed("hel", frames, &err));
  CHECK(in.feed("lo\r", frames, &err));
  CHECK(in.feed("\nwor", frames, &err));
  CHECK(in.feed("ld\n", frames, &err));
  CHECK(in.finish(frames, &err));  // nothing pending: no empty message at EOF
  CHECK(texts(frames) == std::vector<std::string>{"hello", "world"});
}

TEST_CASE("a line longer than the limit is an error naming the line", "[input_framer]") {
  input_framer in(framing::lines, payload_encoding::text, 8);
  std::string frames, err;
  CHECK_FALSE(in.feed("short\n0123456789", frames, &err));
  CHECK(err == "line 2 is longer than 8 bytes");
  CHECK(texts(frames) == std::vector<std::string>{"short"});  // what came before still goes
}

TEST_CASE("text messages must be UTF-8; the error names the line and byte", "[input_framer]") {
  input_framer in(framing::lines, payload_encoding::text);
  std::string frames, err;
  CHECK(in.feed("caf\xc3\xa9\n", frames, &err));
  CHECK_FALSE(in.feed("ok\xff\n", frames, &err));
  CHECK(err == "line 2 is not valid UTF-8 (at byte 3); --binary sends bytes as they are");
  CHECK(texts(frames) == std::vector<std::string>{"caf\xc3\xa9"});
  // Overlong encodings and UTF-16 surrogates are not UTF-8 either.
  for (const char* bad : {"\xc0\xaf\n", "\xed\xa0\x80\n", "\xf4\x90\x80\x80\n"}) {
    input_framer again(framing::lines, payload_encoding::text);
    CHECK_FALSE(again.feed(bad, frames, &err));
  }
}

TEST_CASE("binary input: any bytes go; -0 splits at NUL and keeps newlines", "[input_framer]") {
  input_framer in(framing::null, payload_encoding::binary);
  std::string frames, err;
  CHECK(in.feed(std::string("a\nb\r\n\0\xff", 7), frames, &err));
  CHECK(in.feed(std::string("\0last", 5), frames, &err));
  CHECK(in.finish(frames, &err));
  CHECK(decode(frames) == std::vector<message>{{ipc::frame_type::binary, "a\nb\r\n"},
                                               {ipc::frame_type::binary, "\xff"},
                                               {ipc::frame_type::binary, "last"}});
}

TEST_CASE("length-prefixed messages carry every byte, split anywhere", "[input_framer]") {
  const std::string payload = all_bytes();
  const std::string stream = be32(payload.size()) + payload + be32(0) + be32(2) + "hi";
  for (std::size_t cut = 0; cut <= stream.size(); cut += 7) {
    input_framer in(framing::length_prefixed, payload_encoding::binary);
    std::string frames, err;
    CHECK(in.feed(std::string_view(stream).substr(0, cut), frames, &err));
    CHECK(in.feed(std::string_view(stream).substr(cut), frames, &err));
    CHECK(in.finish(frames, &err));
    CHECK(decode(frames) == std::vector<message>{{ipc::frame_type::binary, payload},
                                                 {ipc::frame_type::binary, ""},
                                                 {ipc::frame_type::binary, "hi"}});
  }
}

TEST_CASE("a bad length prefix or a truncated message is refused", "[input_framer]") {
  std::string frames, err;
  input_framer big(framing::length_prefixed, payload_encoding::binary, 100);
  CHECK_FALSE(big.feed(be32(101), frames, &err));
  CHECK(err == "message 1: its length prefix says 101 bytes, over the limit of 100");
  input_framer cut(framing::length_prefixed, payload_encoding::binary);
  CHECK(cut.feed(be32(10) + "abc", frames, &err));
  CHECK_FALSE(cut.finish(frames, &err));
  CHECK(err == "input ended inside message 1 (7 bytes of it, with its length prefix)");
}

TEST_CASE("raw framing sends each read; a UTF-8 sequence cut by a read waits for its end", "[input_framer]") {
  input_framer in(framing::raw, payload_encoding::text);
  std::string frames, err;
  CHECK(in.feed("ab\ncaf\xc3", frames, &err));
  CHECK(in.feed("\xa9!", frames, &err));
  CHECK(in.finish(frames, &err));
  CHECK(texts(frames) == std::vector<std::string>{"ab\ncaf", "\xc3\xa9!"});
  input_framer bad(framing::raw, payload_encoding::text);
  CHECK_FALSE(bad.feed("a\xff", frames, &err));
}

TEST_CASE("base64 lines become binary messages", "[input_framer]") {
  input_framer in(framing::lines, payload_encoding::base64);
  std::string frames, err, encoded;
  append_base64(encoded, all_bytes());
  CHECK(in.feed(encoded + "\naGk\n\n", frames, &err));
  CHECK(decode(frames) == std::vector<message>{{ipc::frame_type::binary, all_bytes()},
                                               {ipc::frame_type::binary, "hi"},
                                               {ipc::frame_type::binary, ""}});
  CHECK_FALSE(in.feed("not base64!\n", frames, &err));
  CHECK(err == "line 4 is not valid base64");
}

TEST_CASE("utf8_valid_prefix finds a bad byte at any offset of the fast path", "[safe_text]") {
  for (std::size_t at = 0; at < 300; ++at) {  // the 128- and 8-byte steps, and the rest
    std::string s(300, 'a');
    s[at] = '\xff';
    CHECK(utf8_valid_prefix(s) == at);
    s[at] = '\xc3';  // a valid two-byte sequence straddling the steps
    if (at + 1 < s.size()) {
      s[at + 1] = '\xa9';
      CHECK(utf8_valid_prefix(s) == s.size());
    }
  }
}

TEST_CASE("utf8_valid_prefix tells invalid from cut short", "[safe_text]") {
  bool incomplete = false;
  CHECK(utf8_valid_prefix("abc") == 3);
  CHECK(utf8_valid_prefix("ab\xe2\x82", &incomplete) == 2);
  CHECK(incomplete);
  CHECK(utf8_valid_prefix("ab\xe2(", &incomplete) == 2);
  CHECK_FALSE(incomplete);
}

TEST_CASE("output framing: lines, escaped lines, NUL, length prefix, raw, base64", "[output_framer]") {
  io_settings cfg;
  std::string out;
  {
    output_framer lines(cfg, false);
    lines.append(ipc::frame_type::text, "one", out);
    CHECK(lines.take_warning().empty());
    lines.append(ipc::frame_type::text, "two\nthree", out);
    CHECK(out == "one\ntwo\nthree\n");
    CHECK_FALSE(lines.take_warning().empty());  // said once...
    lines.append(ipc::frame_type::text, "again\n", out);
    CHECK(lines.take_warning().empty());        // ...not again
  }
  {
    out.clear();
    cfg.escape_newlines = true;
    output_framer escaped(cfg, false);
    escaped.append(ipc::frame_type::text, "a\\b\nc\r", out);
    CHECK(out == "a\\\\b\\nc\\r\n");
    cfg.escape_newlines = false;
  }
  {
    out.clear();
    cfg.framing_mode = framing::length_prefixed;
    output_framer prefixed(cfg, false);
    prefixed.append(ipc::frame_type::binary, all_bytes(), out);
    CHECK(out == be32(256) + all_bytes());
  }
  {
    out.clear();
    cfg.framing_mode = framing::null;
    output_framer nul(cfg, false);
    nul.append(ipc::frame_type::text, "a\nb", out);
    CHECK(out == std::string("a\nb\0", 4));
  }
  {
    out.clear();
    cfg.framing_mode = framing::lines;
    cfg.encoding = payload_encoding::base64;
    output_framer b64(cfg, false);
    b64.append(ipc::frame_type::binary, std::string("\0\xff\n", 3), out);
    b64.append(ipc::frame_type::text, "text stays text", out);
    CHECK(out == "AP8K\ntext stays text\n");
  }
  {
    out.clear();
    output_framer terminal(cfg, true);  // a terminal is never given raw bytes
    terminal.append(ipc::frame_type::text, "\x1b[2J", out);
    CHECK(out == "\\x1b[2J\n");
  }
}

TEST_CASE("base64: RFC 4648 test vectors, padding optional, anything else refused", "[base64]") {
  const std::pair<std::string, std::string> vectors[] = {{"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},
                                                         {"foo", "Zm9v"},  {"foob", "Zm9vYg=="},  {"fooba", "Zm9vYmE="},
                                                         {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : vectors) {
    std::string e;
    append_base64(e, plain);
    CHECK(e == encoded);
    std::string d;
    CHECK(append_base64_decoded(d, encoded));
    CHECK(d == plain);
    std::string unpadded;
    CHECK(append_base64_decoded(unpadded, encoded.substr(0, encoded.find('='))));
    CHECK(unpadded == plain);
  }
  for (const char* bad : {"Z", "Zg=", "Zm9v YmFy", "Zm=v", "Zm9v\n", "Zm9v====", "Zm9-", "=Zm9"}) {
    std::string d = "kept";
    CHECK_FALSE(append_base64_decoded(d, bad));
    CHECK(d == "kept");  // nothing appended on failure
  }
}

namespace {

/// The messages `input` frames into, fed in two pieces split at `at`.
std::vector<message> framed_split(const std::string& input, std::size_t at, framing mode, message_typing typing,
                                  bool* ok) {
  input_framer in(mode, payload_encoding::text, limits::max_ipc_payload, std::move(typing));
  std::string frames, err;
  *ok = in.feed(std::string_view(input).substr(0, at), frames, &err) &&
        in.feed(std::string_view(input).substr(at), frames, &err) && in.finish(frames, &err);
  return decode(frames);
}

}  // namespace

TEST_CASE("typed framing keeps each message's type at every split of the reads", "[input_framer][typed]") {
  const std::string bin("\xff\x00\n", 3);
  const std::vector<message> expected = {{ipc::frame_type::text, "text"},
                                         {ipc::frame_type::binary, bin},
                                         {ipc::frame_type::binary, ""},
                                         {ipc::frame_type::text, ""},
                                         {ipc::frame_type::text, "plain"}};
  SECTION("length-prefixed: the top bit marks binary") {
    message_typing typing;
    typing.length_bit = true;
    const std::string top("\x80", 1);
    const std::string input = be32(4) + "text" + top + be32(3).substr(1) + bin + top + std::string(3, '\0') +
                              be32(0) + be32(5) + "plain";
    for (std::size_t at = 0; at <= input.size(); ++at) {
      bool ok = false;
      CHECK(framed_split(input, at, framing::length_prefixed, typing, &ok) == expected);
      CHECK(ok);
    }
  }
  SECTION("lines and NUL: prefixes, binary as base64, no prefix the default") {
    message_typing typing;
    typing.text_prefix = "t:";
    typing.binary_prefix = "b:";
    for (const char sep : {'\n', '\0'}) {
      const std::string input = std::string("t:text") + sep + "b:/wAK" + sep + "b:" + sep + "t:" + sep + "plain";
      for (std::size_t at = 0; at <= input.size(); ++at) {
        bool ok = false;
        CHECK(framed_split(input, at, sep == '\n' ? framing::lines : framing::null, typing, &ok) == expected);
        CHECK(ok);
      }
    }
  }
  SECTION("one prefix may start with the other: the longer wins") {
    message_typing typing;
    typing.text_prefix = "t";
    typing.binary_prefix = "tb";
    bool ok = false;
    CHECK(framed_split("tbAP8=\ntx\n", 0, framing::lines, typing, &ok) ==
          std::vector<message>{{ipc::frame_type::binary, std::string("\0\xff", 2)}, {ipc::frame_type::text, "x"}});
    CHECK(ok);
  }
  SECTION("refusals: text that is not UTF-8, binary that is not base64, an oversize typed length") {
    message_typing typing;
    typing.length_bit = true;
    bool ok = true;
    framed_split(be32(2) + "\xff\xfe", 0, framing::length_prefixed, typing, &ok);
    CHECK_FALSE(ok);  // the top bit is clear: a text message, and not UTF-8
    input_framer big(framing::length_prefixed, payload_encoding::text, 100, typing);
    std::string frames, err;
    CHECK_FALSE(big.feed(std::string("\x80\x00\x00\x65", 4), frames, &err));  // binary of 101 > 100
    CHECK(err.find("101 bytes") != std::string::npos);
    message_typing prefixes;
    prefixes.binary_prefix = "b:";
    framed_split("b:***\n", 0, framing::lines, prefixes, &ok);
    CHECK_FALSE(ok);
  }
}

TEST_CASE("typed output: the length's top bit, and the prefixes with base64 binary", "[output_framer][typed]") {
  io_settings cfg;
  std::string out;
  cfg.framing_mode = framing::length_prefixed;
  cfg.typing.length_bit = true;
  {
    output_framer typed(cfg, false);
    typed.append(ipc::frame_type::text, "hi", out);
    typed.append(ipc::frame_type::binary, std::string("\0", 1), out);
    typed.append(ipc::frame_type::binary, "", out);
    CHECK(out == be32(2) + "hi" + std::string("\x80\x00\x00\x01\x00\x80\x00\x00\x00", 9));
  }
  cfg.typing = {};
  cfg.typing.text_prefix = "T:";
  cfg.typing.binary_prefix = "B:";
  for (const auto mode : {framing::lines, framing::null}) {
    out.clear();
    cfg.framing_mode = mode;
    output_framer prefixed(cfg, false);
    prefixed.append(ipc::frame_type::text, "hi", out);
    prefixed.append(ipc::frame_type::binary, std::string("\0\xff\n", 3), out);
    prefixed.append(ipc::frame_type::binary, "", out);
    const char sep = mode == framing::lines ? '\n' : '\0';
    CHECK(out == std::string("T:hi") + sep + "B:AP8K" + sep + "B:" + sep);
  }
}

TEST_CASE("a program's stderr: whole lines prefixed and made safe, long lines in pieces, the rest at the end",
          "[program_report]") {
  error_lines lines("client 1.2.3.4:5: ", 8);
  CHECK(lines.add("one\ntw") == "client 1.2.3.4:5: one\n");
  CHECK(lines.add("o\x1b[2J\n") == "client 1.2.3.4:5: two\\x1b[2J\n");
  CHECK(lines.add("0123456789") == "client 1.2.3.4:5: 01234567\n");  // a piece of `piece` bytes
  CHECK(lines.finish() == "client 1.2.3.4:5: 89\n");
  CHECK(lines.finish().empty());
  CHECK(exit_status_code(0) == 0);
  CHECK(exit_status_code(3 << 8) == 3);
  CHECK(exit_status_code(SIGTERM) == 128 + SIGTERM);
}
