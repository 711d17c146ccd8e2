#pragma once
// Writes batches of IPC frames to a pipe, large ones by reference.
//
// A large batch goes with vmsplice(2): the pipe holds our pages and the reader's
// read(2) copies from them, which saves the copy into the pipe and the kernel's
// allocating and freeing a page for every 4 KiB (about a tenth of the time of bulk
// sending on two cores). A page handed over must not change until it has been read. A
// pipe holds at most its capacity in bytes, the most recent ones, so a buffer is
// framed into again only once that many bytes were sent after it, or once the pipe's
// unread count (FIONREAD) shows it was read. When every buffer may still be in the
// pipe, the batch is copied with write(2).

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "bridge/protocol/limits.hpp"

namespace wsbridge {

class pipe_sender {
 public:
  explicit pipe_sender(int fd);

  /// Where the next batch is framed (append frames to it, then call send()).
  std::string& batch() { return slots_[cur_].data; }

  /// The batch will hold the frames of a bulk read of input: its pages are mapped now,
  /// in one go, rather than faulted in one by one as the framer fills them (or as a
  /// string that grows copies itself into new ones).
  void expect_bulk();

  /// Sends the batch, blocking until the pipe took it all, and leaves an empty one.
  /// Returns 0 or the errno (EPIPE: the reader is gone).
  int send();

  /// Bytes sent by reference so far (for tests).
  std::uint64_t sent_by_reference() const { return by_reference_; }

  /// Below this a copy costs no more than handing pages over.
  static constexpr std::size_t min_by_reference = 64u << 10;

 private:
  struct slot {
    std::string data;
    std::uint64_t end = 0;  ///< sent_ just after it went by reference; 0: it never did
  };
  static constexpr std::size_t spliced_slots = 6;
  /// Room expect_bulk() reserves: a whole read of input, framed; as short lines it
  /// grows by a quarter (5-byte headers for 16-byte lines).
  static constexpr std::size_t slot_reserve = limits::read_chunk / 4 * 5;
  static constexpr std::size_t copy_slot = spliced_slots;  ///< never sent by reference

  int splice_all(std::string_view data);
  /// A buffer whose pages the pipe no longer holds, or the copy buffer.
  std::size_t free_slot();

  int fd_;
  std::uint64_t capacity_ = 0;  ///< bytes the pipe holds at most; 0: unknown, copy always
  std::uint64_t sent_ = 0;      ///< bytes written to the pipe in all
  std::uint64_t by_reference_ = 0;
  std::array<slot, spliced_slots + 1> slots_;
  std::size_t cur_ = 0;
};

}  // namespace wsbridge
