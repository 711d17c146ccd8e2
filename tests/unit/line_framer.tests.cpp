#include <catch2/catch.hpp>
#include <cstring>

#include "bridge/ipc.hpp"
#include "ioproc/line_framer.hpp"

using namespace wsbridge;

namespace {

std::vector<std::string> texts(const std::string& frames) {
  ipc::frame_decoder d;
  auto space = d.prepare(frames.size());
  std::memcpy(space.data(), frames.data(), frames.size());
  d.commit(frames.size());
  std::vector<std::string> out;
  ipc::frame f;
  std::string err;
  while (d.next(f, &err) == ipc::frame_decoder::result::frame) {
    REQUIRE(f.type == ipc::frame_type::text);
    out.emplace_back(f.payload);
  }
  return out;
}

}  // namespace

TEST_CASE("one line becomes one text frame", "[line_framer]") {
  line_framer lf;
  std::string frames, err;
  CHECK(lf.feed("a\r\nbb\n\nccc", frames, &err) == 3);
  CHECK(lf.finish(frames) == 1);
  CHECK(texts(frames) == std::vector<std::string>{"a", "bb", "", "ccc"});
  CHECK(lf.lines() == 4);
}

TEST_CASE("lines split across reads are joined", "[line_framer]") {
  line_framer lf;
  std::string frames, err;
  CHECK(lf.feed("hel", frames, &err) == 0);
  CHECK(lf.feed("lo\r", frames, &err) == 0);
  CHECK(lf.feed("\nwor", frames, &err) == 1);
  CHECK(lf.feed("ld\n", frames, &err) == 1);
  CHECK(lf.finish(frames) == 0);  // nothing pending: no empty message at EOF
  CHECK(texts(frames) == std::vector<std::string>{"hello", "world"});
}

TEST_CASE("a line longer than the limit is an error naming the line", "[line_framer]") {
  line_framer lf(8);
  std::string frames, err;
  CHECK(lf.feed("short\n0123456789", frames, &err) == -1);
  CHECK(err == "line 2 is longer than 8 bytes");
}
