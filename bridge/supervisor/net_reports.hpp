#pragma once
// What a netproc tells the supervisor on its own channel (child_fd::to_supervisor),
// checked as it arrives with the supervisor's dispatch table, as OpenSSH's monitor
// checks each request of its child against the state it is in. netproc parsed
// untrusted bytes: anything out of place is a protocol error, and every value is
// bounded by the codec before it is used.

#include <optional>
#include <string>
#include <string_view>

#include "bridge/protocol/ipc.hpp"

namespace wsbridge {

class net_reports {
 public:
  /// Takes bytes read from the channel. Returns false and fills *err at a frame that
  /// is malformed or out of place: `redirect` alone, or `ended` then `unsent` pieces,
  /// each at most once but the pieces; `file_request`s, one at a time, and one
  /// `program_start`, before either; where `notices_allowed`, `notice`s at any time;
  /// and nothing else.
  bool take(std::string_view bytes, std::string* err);

  /// A partial frame was left when the channel ended (netproc died while writing).
  bool incomplete() const { return !decoder_.empty(); }

  std::optional<ipc::redirect_report> redirect;  ///< netproc left to let us decide
  std::optional<ipc::end_report> end;            ///< --reconnect: how it ended
  std::string unsent;                            ///< --reconnect: the frames for the next one
  /// --static-dir: the path of a file netproc asks for, until answered (one at a time).
  std::optional<std::string> file_request;
  /// Server mode with --exec: the `opened` payload to start the program with, until
  /// taken (once per connection).
  std::optional<std::string> program_start;
  /// Server mode with --exec, where no ioproc shows netproc's lines: they come here
  /// (`notice`, lines without their last newline), for the listener to write out.
  bool notices_allowed = false;
  std::string notices;  ///< gathered lines, each ending in a newline, until taken

 private:
  bool program_asked_ = false;
  bool on_frame(const ipc::frame& f, std::string* err);
  ipc::frame_decoder decoder_;
};

}  // namespace wsbridge
