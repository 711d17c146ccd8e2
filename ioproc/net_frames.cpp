#include "ioproc/net_frames.hpp"

namespace wsbridge {

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
