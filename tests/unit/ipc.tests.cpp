#include <catch2/catch.hpp>
#include <cstring>

#include "bridge/protocol/ipc.hpp"

using namespace wsbridge::ipc;

namespace {

/// Feeds `bytes` to the decoder in pieces of `step` bytes and collects every frame.
std::vector<std::pair<frame_type, std::string>> decode_in_pieces(frame_decoder& d, const std::string& bytes,
                                                                 std::size_t step) {
  std::vector<std::pair<frame_type, std::string>> got;
  for (std::size_t at = 0; at < bytes.size(); at += step) {
    const std::size_t n = std::min(step, bytes.size() - at);
    auto space = d.prepare(n);
    std::memcpy(space.data(), bytes.data() + at, n);
    d.commit(n);
    frame f;
    std::string err;
    frame_decoder::result r;
    while ((r = d.next(f, &err)) == frame_decoder::result::frame) got.emplace_back(f.type, std::string(f.payload));
    REQUIRE(r == frame_decoder::result::need_more);
  }
  return got;
}

}  // namespace

TEST_CASE("frames round-trip, several per buffer", "[ipc]") {
  std::string bytes;
  append_frame(bytes, frame_type::text, "hello");
  append_frame(bytes, frame_type::binary, std::string("\0\n\xff", 3));
  append_frame(bytes, frame_type::input_end, "");
  frame_decoder d;
  auto got = decode_in_pieces(d, bytes, bytes.size());
  REQUIRE(got.size() == 3);
  CHECK(got[0] == std::make_pair(frame_type::text, std::string("hello")));
  CHECK(got[1] == std::make_pair(frame_type::binary, std::string("\0\n\xff", 3)));
  CHECK(got[2] == std::make_pair(frame_type::input_end, std::string()));
  CHECK(d.empty());
}

TEST_CASE("frames split at every byte boundary decode the same", "[ipc]") {
  std::string bytes;
  for (int i = 0; i < 50; ++i) append_frame(bytes, frame_type::text, std::string(static_cast<std::size_t>(i * 7), 'x'));
  for (std::size_t step : {1u, 2u, 3u, 5u, 64u, 1000u}) {
    frame_decoder d;
    auto got = decode_in_pieces(d, bytes, step);
    REQUIRE(got.size() == 50);
    for (int i = 0; i < 50; ++i) CHECK(got[static_cast<std::size_t>(i)].second.size() == static_cast<std::size_t>(i * 7));
    CHECK(d.empty());
  }
}

TEST_CASE("a truncated frame is not a frame, and is not a clean end", "[ipc]") {
  std::string bytes;
  append_frame(bytes, frame_type::text, "complete");
  append_frame(bytes, frame_type::text, "cut short");
  bytes.resize(bytes.size() - 3);
  frame_decoder d;
  auto got = decode_in_pieces(d, bytes, 4);
  REQUIRE(got.size() == 1);
  CHECK_FALSE(d.empty());  // EOF now would be a truncated frame
}

TEST_CASE("bad input is an error before anything is allocated", "[ipc]") {
  frame_decoder d(1024);
  frame f;
  std::string err;
  auto feed = [&](const std::string& bytes) {
    auto space = d.prepare(bytes.size());
    std::memcpy(space.data(), bytes.data(), bytes.size());
    d.commit(bytes.size());
    return d.next(f, &err);
  };
  SECTION("oversize length") {
    // 4 GiB - 1 announced: rejected from the header alone.
    CHECK(feed(std::string("\xff\xff\xff\xff\x01", 5)) == frame_decoder::result::error);
    CHECK(err.find("exceeds the limit") != std::string::npos);
  }
  SECTION("one byte over the cap") {
    CHECK(feed(std::string("\x00\x00\x04\x01\x01", 5)) == frame_decoder::result::error);
  }
  SECTION("unknown type") {
    CHECK(feed(std::string("\x00\x00\x00\x00\x63", 5)) == frame_decoder::result::error);
    CHECK(err == "unknown frame type 99");
  }
  SECTION("type zero") {
    CHECK(feed(std::string(5, '\0')) == frame_decoder::result::error);
  }
  SECTION("garbage") {
    CHECK(feed("GET / HTTP/1.1\r\n") == frame_decoder::result::error);
  }
}

TEST_CASE("close info round-trips", "[ipc]") {
  close_info c{1001, true, "bye"};
  close_info back;
  std::string err;
  REQUIRE(decode_close(encode_close(c), back, &err));
  CHECK(back.code == 1001);
  CHECK(back.by_server);
  CHECK(back.reason == "bye");
  // Too short, or a by_server flag that is neither 0 nor 1: malformed.
  CHECK_FALSE(decode_close("\x03", back, &err));
  CHECK_FALSE(decode_close(std::string("\x03\xe8\x07", 3), back, &err));
}
