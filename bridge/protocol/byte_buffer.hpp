#pragma once
// A growable byte buffer whose new bytes are left uninitialised and whose large blocks
// are mapped in one go.
//
// Why not std::vector<char>: resize() zeroes new bytes, and a 256 KiB read buffer zeroed
// at start touches 64 pages, one page fault each before the first byte arrives (about
// 10-16 µs apiece on the development VM). A vector with an allocator that skips the
// zeroing was tried: libstdc++ then grows and inserts with a byte-at-a-time loop (it
// uses memmove only for std::allocator), which showed up in profiles of bulk sending.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <utility>

namespace wsbridge {

/// A read or a growth of at least this much is bulk data: the buffer's pages are then
/// mapped in one go. Until then they are faulted in as used, so a session of a few
/// small messages maps no more than it touches (each process starts with 256 KiB read
/// buffers; mapping them at once cost start-up half a millisecond).
inline constexpr std::size_t prefault_threshold = 64u << 10;

/// Maps the whole pages inside [p, p + n) now, writable, so that filling them takes no
/// page faults: one madvise(MADV_POPULATE_WRITE) costs about 1.7 µs a page on the
/// development VM against 10 µs for a fault, and bulk transfers fill every buffer they
/// have. Best effort: Linux before 5.14 does not know it, and the pages are then
/// faulted in as they are used.
inline void prefault(void* p, std::size_t n) {
  const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
  const auto begin = (reinterpret_cast<std::uintptr_t>(p) + page - 1) & ~(page - 1);
  const auto end = (reinterpret_cast<std::uintptr_t>(p) + n) & ~(page - 1);
  if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_POPULATE_WRITE);
}

class byte_buffer {
 public:
  byte_buffer() = default;
  /// `n` bytes, uninitialised.
  explicit byte_buffer(std::size_t n) { resize(n); }
  byte_buffer(byte_buffer&& o) noexcept { swap(o); }
  byte_buffer& operator=(byte_buffer&& o) noexcept {
    swap(o);
    return *this;
  }

  char* data() { return data_.get(); }
  const char* data() const { return data_.get(); }
  std::size_t size() const { return size_; }
  std::size_t capacity() const { return capacity_; }
  bool empty() const { return size_ == 0; }
  char& operator[](std::size_t i) { return data_[i]; }
  char operator[](std::size_t i) const { return data_[i]; }

  /// Grows or shrinks to `n` bytes; new bytes are uninitialised. Keeps the capacity.
  void resize(std::size_t n) {
    if (n > capacity_) reallocate(std::max(n, capacity_ * 2));
    size_ = n;
  }
  void clear() { size_ = 0; }
  void append(std::string_view bytes) {
    const std::size_t at = size_;
    resize(size_ + bytes.size());
    if (!bytes.empty()) std::memcpy(data_.get() + at, bytes.data(), bytes.size());
  }
  void swap(byte_buffer& o) noexcept {
    std::swap(data_, o.data_);
    std::swap(size_, o.size_);
    std::swap(capacity_, o.capacity_);
    std::swap(prefaulted_, o.prefaulted_);
    std::swap(asked_, o.asked_);
  }

  /// Called by a reader with the size of what it just read into the buffer: once that
  /// is bulk data, the rest of the buffer's pages are mapped at once.
  void filled(std::size_t n) {
    if (n < prefault_threshold || prefaulted_) return;
    prefault(data_.get(), capacity_);
    prefaulted_ = true;
  }

  /// Called by a reader before its first read from `fd` (a pipe or socket; later calls
  /// do nothing): if bulk data is waiting already, as it is when a producer starts
  /// first, the pages are mapped before that read instead of after it, which faulted
  /// in a read's worth of them one by one (64 faults, about a millisecond).
  void first_read_from(int fd) {
    if (asked_ || prefaulted_) return;
    asked_ = true;
    int waiting = 0;
    if (::ioctl(fd, FIONREAD, &waiting) == 0 && static_cast<std::size_t>(waiting) >= prefault_threshold)
      filled(static_cast<std::size_t>(waiting));
  }

 private:
  void reallocate(std::size_t capacity) {
    std::unique_ptr<char[]> bigger(new char[capacity]);  // default-initialised: not zeroed
    // Growing past the threshold is bulk data (a first allocation may not be).
    prefaulted_ = capacity_ > 0 && capacity >= prefault_threshold;
    if (prefaulted_) prefault(bigger.get(), capacity);
    if (size_) std::memcpy(bigger.get(), data_.get(), size_);
    data_ = std::move(bigger);
    capacity_ = capacity;
  }

  std::unique_ptr<char[]> data_;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
  bool prefaulted_ = false;  ///< its pages are all mapped
  bool asked_ = false;       ///< first_read_from() looked
};

}  // namespace wsbridge
