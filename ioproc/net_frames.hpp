#pragma once
// ioproc's reading of netproc's pipe, shared by both front ends (pipe mode and
// terminal mode): the decoding, and ioproc's half of the dispatch tables (netproc's is
// io_frame_rule in netproc/handshake.hpp), which frames netproc may send in each phase
// of the connection. Anything out of place is fatal, as in OpenSSH's monitor.

#include <functional>
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

/// Reads netproc's frames (child_fd::peer_in) for a front end, which sees only frames
/// that decoded and that the dispatch table accepts in the current phase.
class net_reader {
 public:
  explicit net_reader(bool reconnecting) : checker_(reconnecting) {}

  enum class result {
    frames,  ///< what this read held was handed on (maybe nothing yet)
    gone,    ///< EOF or a read error: netproc died (the supervisor reports it)
    broken,  ///< a frame that did not decode or was out of place: *err says which
  };

  /// One read of the pipe; then `on(frame)` for each whole frame, while it returns
  /// true. A frame's payload is valid only during its call.
  result read_once(const std::function<bool(const ipc::frame&)>& on, std::string* err);

  /// The file descriptor to poll for readability.
  int fd() const;

 private:
  ipc::frame_decoder decoder_;
  net_frame_checker checker_;
};

}  // namespace wsbridge
