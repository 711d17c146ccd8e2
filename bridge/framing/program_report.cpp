#include "bridge/framing/program_report.hpp"

#include <sys/wait.h>

#include "bridge/common/safe_text.hpp"

namespace wsbridge {

std::string error_lines::add(std::string_view bytes) {
  pending_.append(bytes);
  std::string out;
  std::size_t start = 0;
  for (std::size_t nl; (nl = pending_.find('\n', start)) != std::string::npos || pending_.size() - start >= piece_;) {
    const std::size_t end = nl == std::string::npos ? start + piece_ : nl;
    out += prefix_ + safe_text(std::string_view(pending_).substr(start, end - start)) + "\n";
    start = nl == std::string::npos ? end : nl + 1;
  }
  pending_.erase(0, start);
  return out;
}

std::string error_lines::finish() {
  if (pending_.empty()) return {};
  std::string out = prefix_ + safe_text(pending_) + "\n";
  pending_.clear();
  return out;
}

int exit_status_code(int wait_status) {
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : 0;
}

}  // namespace wsbridge
