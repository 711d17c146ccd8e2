// The IPC decoder, fed in pieces whose sizes come from the input: it must never read
// out of bounds, never accept a payload over its cap, and decode the same frames at any
// split. Close payloads are decoded and re-encoded.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "bridge/protocol/ipc.hpp"

using namespace wsbridge;

namespace {

std::vector<std::string> decode_all(const std::uint8_t* data, std::size_t size, std::size_t piece) {
  constexpr std::size_t cap = 4096;
  ipc::frame_decoder d(cap);
  std::vector<std::string> out;
  std::string err;
  for (std::size_t at = 0; at < size;) {
    const std::size_t n = std::min(piece, size - at);
    auto space = d.prepare(n);
    std::memcpy(space.data(), data + at, n);
    d.commit(n);
    at += n;
    ipc::frame f;
    for (;;) {
      const auto r = d.next(f, &err);
      if (r == ipc::frame_decoder::result::need_more) break;
      if (r == ipc::frame_decoder::result::error) return out;
      if (f.payload.size() > cap) __builtin_trap();
      out.push_back(std::string(1, static_cast<char>(f.type)) + std::string(f.payload));
      if (f.type == ipc::frame_type::closed || f.type == ipc::frame_type::close_request) {
        ipc::close_info c;
        if (ipc::decode_close(f.payload, c, &err)) {
          ipc::close_info again;
          if (!ipc::decode_close(ipc::encode_close(c), again, &err) || again.code != c.code ||
              again.reason != c.reason || again.by_server != c.by_server)
            __builtin_trap();
        }
      }
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::size_t piece = 1 + data[0] % 64;
  const auto whole = decode_all(data + 1, size - 1, size);
  const auto pieces = decode_all(data + 1, size - 1, piece);
  if (whole != pieces) __builtin_trap();  // the split of the reads must not matter
  return 0;
}
