#include "bridge/supervisor/net_reports.hpp"

#include <cstring>

namespace wsbridge {

bool net_reports::take(std::string_view bytes, std::string* err) {
  while (!bytes.empty()) {
    auto space = decoder_.prepare(bytes.size());
    const std::size_t n = std::min(space.size(), bytes.size());
    std::memcpy(space.data(), bytes.data(), n);
    decoder_.commit(n);
    bytes.remove_prefix(n);
    ipc::frame f;
    for (;;) {
      const auto r = decoder_.next(f, err);
      if (r == ipc::frame_decoder::result::need_more) break;
      if (r == ipc::frame_decoder::result::error || !on_frame(f, err)) return false;
    }
  }
  return true;
}

bool net_reports::on_frame(const ipc::frame& f, std::string* err) {
  const bool first = !redirect && !end;
  switch (f.type) {
    case ipc::frame_type::redirect:
      if (!first) break;
      redirect.emplace();
      return ipc::decode_redirect(f.payload, *redirect, err);
    case ipc::frame_type::ended:
      if (!first) break;
      end.emplace();
      return ipc::decode_end(f.payload, *end, err);
    case ipc::frame_type::unsent:
      if (!end) break;
      unsent.append(f.payload);
      return true;
    case ipc::frame_type::file_request:
      if (!first || file_request) break;
      file_request.emplace(f.payload);
      return true;
    case ipc::frame_type::notice:
      if (!notices_allowed) break;
      notices.append(f.payload).push_back('\n');
      return true;
    case ipc::frame_type::program_start:
      if (!first || program_asked_) break;  // one program per connection
      program_asked_ = true;
      program_start.emplace(f.payload);
      return true;
    default:
      break;
  }
  *err = std::string("unexpected ") + ipc::to_string(f.type) + " frame on the network process's channel";
  return false;
}

}  // namespace wsbridge
