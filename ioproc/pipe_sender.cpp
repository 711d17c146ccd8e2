#include "ioproc/pipe_sender.hpp"

#include <cerrno>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/uio.h>

#include "bridge/protocol/byte_buffer.hpp"
#include "bridge/common/fd_util.hpp"

namespace wsbridge {

pipe_sender::pipe_sender(int fd) : fd_(fd) {
  // Not a pipe (a test's file, or a kernel without F_GETPIPE_SZ): always copy.
  const int cap = ::fcntl(fd, F_GETPIPE_SZ);
  capacity_ = cap > 0 ? static_cast<std::uint64_t>(cap) : 0;
}

int pipe_sender::send() {
  slot& s = slots_[cur_];
  if (s.data.empty()) return 0;
  const bool by_reference = cur_ != copy_slot && capacity_ > 0 && s.data.size() >= min_by_reference;
  const int e = by_reference ? splice_all(s.data) : write_all(fd_, s.data);
  sent_ += s.data.size();
  if (by_reference) {
    s.end = sent_;
    by_reference_ += s.data.size();
  }
  // A batch that went by reference stays untouched; framing continues in a free one.
  if (by_reference || cur_ == copy_slot) cur_ = free_slot();
  slots_[cur_].data.clear();
  return e;
}

void pipe_sender::expect_bulk() {
  // A whole read of input, framed, fits (see byte_buffer.hpp for the mapping).
  std::string& batch = slots_[cur_].data;
  if (batch.capacity() >= slot_reserve) return;
  batch.reserve(slot_reserve);
  prefault(batch.data(), batch.capacity());
}

int pipe_sender::splice_all(std::string_view data) {
  return put_all(data, [this](std::string_view rest) {
    iovec v{const_cast<char*>(rest.data()), rest.size()};
    return ::vmsplice(fd_, &v, 1, 0);
  });
}

std::size_t pipe_sender::free_slot() {
  int unread = -1;  // asked once, only if needed
  for (std::size_t k = 1; k <= spliced_slots; ++k) {
    const std::size_t i = (cur_ + k) % spliced_slots;
    const slot& s = slots_[i];
    if (s.end == 0 || s.end + capacity_ <= sent_) return i;
    if (unread < 0 && ::ioctl(fd_, FIONREAD, &unread) != 0) return copy_slot;
    if (s.end + static_cast<std::uint64_t>(unread) <= sent_) return i;
  }
  return copy_slot;
}

}  // namespace wsbridge
