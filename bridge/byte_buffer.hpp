#pragma once
// A growable byte buffer whose new bytes are left uninitialised.

#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

namespace wsbridge {

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
