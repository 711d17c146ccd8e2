#pragma once
// ioproc's half of the dispatch tables (netproc's is io_frame_rule in
// netproc/handshake.hpp): which frames netproc may send in each phase of the
// connection. Shared by both readers, pipe mode and terminal mode; anything out of
// place is fatal, as in OpenSSH's monitor.

#include <string>

#include "bridge/protocol/ipc.hpp"

namespace wsbridge {

class net_frame_checker {
 public:
  enum class phase {
    connecting,  ///< before `opened`: notices only (a redirect's netproc too), or the end
    open,        ///< messages, pongs, notices, then `closed`
    closed,      ///< nothing more may come
  };

  /// `reconnecting`: --reconnect, where a new connection's `opened` may follow a lost
  /// one's messages (the supervisor, not netproc, sends the one `closed`).
  explicit net_frame_checker(bool reconnecting = false) : reconnecting_(reconnecting) {}

  /// Checks `type` against the phase and moves on (`opened`, `closed`). Returns an
  /// empty string when it was expected, else what was wrong, for the error message.
  std::string accept(ipc::frame_type type);

  phase current() const { return phase_; }

 private:
  phase phase_ = phase::connecting;
  bool reconnecting_;
};

}  // namespace wsbridge
