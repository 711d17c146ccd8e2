// The input framer with an oracle, and the output framer. The first input byte picks the
// framing and encoding and where the reads split. Checked: no message over the limit is
// ever framed; the split of the reads changes nothing; length-prefixed and NUL framing
// round-trip through the output framer byte for byte; so does typed length-prefixed
// framing, whose messages keep their types. An encoding selector of 3 picks the
// typed framings: the length's top bit, or the prefixes "t" and "b" for lines and NUL.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "bridge/protocol/settings.hpp"
#include "bridge/protocol/ipc.hpp"
#include "bridge/framing/input_framer.hpp"
#include "bridge/framing/output_framer.hpp"

using namespace wsbridge;

namespace {

constexpr std::size_t limit = 512;

struct outcome {
  bool ok = true;
  std::vector<std::pair<ipc::frame_type, std::string>> messages;
  bool operator==(const outcome&) const = default;
};

outcome frame(framing mode, payload_encoding enc, const message_typing& typing, std::string_view input,
              std::size_t piece) {
  input_framer in(mode, enc, limit, typing);
  std::string frames, err;
  outcome o;
  for (std::size_t at = 0; at < input.size() && o.ok; at += piece)
    o.ok = in.feed(input.substr(at, piece), frames, &err);
  if (o.ok) o.ok = in.finish(frames, &err);
  if (!o.ok && err.empty()) __builtin_trap();  // a refusal always says why
  ipc::frame_decoder d;
  if (!frames.empty()) {
    auto space = d.prepare(frames.size());
    std::memcpy(space.data(), frames.data(), frames.size());
    d.commit(frames.size());
  }
  ipc::frame f;
  while (d.next(f, &err) == ipc::frame_decoder::result::frame) {
    if (f.payload.size() > limit) __builtin_trap();  // the oracle for the size limit
    o.messages.emplace_back(f.type, std::string(f.payload));
  }
  if (in.messages() != o.messages.size()) __builtin_trap();
  return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const framing modes[] = {framing::lines, framing::null, framing::length_prefixed, framing::raw};
  const payload_encoding encodings[] = {payload_encoding::text, payload_encoding::binary, payload_encoding::base64};
  const framing mode = modes[data[0] & 3];
  const payload_encoding enc = encodings[(data[0] >> 2) % 3];
  if (mode == framing::raw && enc == payload_encoding::base64) return 0;  // refused on the command line
  message_typing typing;
  if (((data[0] >> 2) & 3) == 3) {
    // Refused on the command line: --raw has no records to type, and --base64 with
    // message types ("exclude each other", option_rules.cpp).
    if (mode == framing::raw || enc == payload_encoding::base64) return 0;
    if (mode == framing::length_prefixed) {
      typing.length_bit = true;
    } else {
      typing.text_prefix = "t";
      typing.binary_prefix = "b";
    }
  }
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  const std::size_t piece = 1 + (data[0] >> 4) * 7;
  const outcome whole = frame(mode, enc, typing, input, input.size() + 1);
  const outcome split = frame(mode, enc, typing, input, piece);
  if (mode != framing::raw && !(whole == split)) __builtin_trap();
  // Round trip: what the output framer writes for these messages is the input again.
  const bool typed_length = typing.length_bit;
  if (whole.ok && (typed_length || (!typing.any() && enc == payload_encoding::binary &&
                                    (mode == framing::length_prefixed || mode == framing::null)))) {
    io_settings cfg;
    cfg.framing_mode = mode;
    cfg.encoding = enc;
    cfg.typing = typing;
    output_framer out(cfg, false);
    std::string written;
    for (const auto& [type, payload] : whole.messages) out.append(type, payload, written);
    std::string expected(input);
    if (mode == framing::null && !expected.empty() && expected.back() != '\0') expected.push_back('\0');
    if (written != expected) __builtin_trap();
  }
  return 0;
}
