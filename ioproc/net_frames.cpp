#include "ioproc/net_frames.hpp"

#include "bridge/common/fd_util.hpp"
#include "bridge/protocol/child_fd.hpp"

namespace wsbridge {

int net_reader::fd() const { return child_fd::peer_in; }

net_reader::result net_reader::read_once(const std::function<bool(const ipc::frame&)>& on, std::string* err) {
  auto space = decoder_.prepare();
  const ssize_t n = read_some(child_fd::peer_in, space.data(), space.size());
  if (n <= 0) return result::gone;  // EOF before a `closed` frame: netproc died
  decoder_.commit(static_cast<std::size_t>(n));
  ipc::frame f;
  std::string why;
  for (;;) {
    const auto r = decoder_.next(f, &why);
    if (r == ipc::frame_decoder::result::need_more) return result::frames;
    if (r == ipc::frame_decoder::result::error) {
      *err = "internal protocol error from network process: " + why;
      return result::broken;
    }
    if (const std::string bad = checker_.accept(f.type); !bad.empty()) {
      *err = "internal protocol error: " + bad;
      return result::broken;
    }
    if (!on(f)) return result::frames;
  }
}

std::string net_frame_checker::accept(ipc::frame_type type) {
  using ft = ipc::frame_type;
  const auto refuse = [&](const char* when) {
    return std::string("unexpected ") + ipc::to_string(type) + " frame from the network process " + when;
  };
  switch (phase_) {
    case phase::connecting:
      if (type == ft::notice) return {};
      if (type == ft::opened) {
        phase_ = phase::open;
        return {};
      }
      if (type == ft::closed) {
        phase_ = phase::closed;
        return {};
      }
      return refuse("before the connection opened");
    case phase::open:
      if (type == ft::text || type == ft::binary || type == ft::pong || type == ft::notice) return {};
      if (type == ft::opened && reconnecting_) return {};
      if (type == ft::closed) {
        phase_ = phase::closed;
        return {};
      }
      return refuse("while the connection is open");
    case phase::closed:
      return refuse("after the connection closed");
  }
  return refuse("");
}

}  // namespace wsbridge
