#pragma once
// Turns input bytes into IPC frames, one text message per line.

#include <cstdint>
#include <string>
#include <string_view>

#include "bridge/limits.hpp"

namespace wsbridge {

/// Splits a byte stream at '\n' (a '\r' before it is dropped too) and appends one
/// `text` frame per line to a caller's buffer, so a whole read becomes one pipe write.
class line_framer {
 public:
  explicit line_framer(std::size_t max_line = limits::max_ipc_payload) : max_line_(max_line) {}

  /// Frames every complete line in `data`; keeps a trailing partial line. Returns the
  /// number of frames appended, or -1 and fills *err when a line is too long.
  long feed(std::string_view data, std::string& frames, std::string* err);

  /// At end of input: frames the last line if it did not end in '\n'. Returns 0 or 1.
  long finish(std::string& frames);

  std::uint64_t lines() const { return lines_; }

 private:
  void emit(std::string_view line, std::string& frames);
  std::string partial_;
  std::size_t max_line_;
  std::uint64_t lines_ = 0;
};

}  // namespace wsbridge
