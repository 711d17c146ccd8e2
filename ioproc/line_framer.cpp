#include "ioproc/line_framer.hpp"

#include <cstring>

#include "bridge/ipc.hpp"

namespace wsbridge {

void line_framer::emit(std::string_view line, std::string& frames) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  ipc::append_frame(frames, ipc::frame_type::text, line);
  ++lines_;
}

long line_framer::feed(std::string_view data, std::string& frames, std::string* err) {
  long n = 0;
  while (!data.empty()) {
    const void* nl = std::memchr(data.data(), '\n', data.size());
    if (!nl) {
      if (partial_.size() + data.size() > max_line_) {
        *err = "line " + std::to_string(lines_ + 1) + " is longer than " + std::to_string(max_line_) + " bytes";
        return -1;
      }
      partial_.append(data);
      break;
    }
    const std::size_t len = static_cast<std::size_t>(static_cast<const char*>(nl) - data.data());
    if (partial_.empty()) {
      emit(data.substr(0, len), frames);  // the common case: no copy into partial_
    } else {
      partial_.append(data.substr(0, len));
      emit(partial_, frames);
      partial_.clear();
    }
    ++n;
    data.remove_prefix(len + 1);
  }
  return n;
}

long line_framer::finish(std::string& frames) {
  if (partial_.empty()) return 0;
  emit(partial_, frames);
  partial_.clear();
  return 1;
}

}  // namespace wsbridge
