#include <catch2/catch.hpp>

#include <algorithm>
#include <fcntl.h>
#include <string>
#include <sys/mman.h>
#include <unistd.h>
#include <vector>

#include "bridge/protocol/byte_buffer.hpp"

using wsbridge::byte_buffer;

TEST_CASE("byte_buffer keeps its bytes as it grows, and its capacity as it empties", "[byte_buffer]") {
  byte_buffer b;
  std::string expected;
  // Small appends, then ones past the prefault threshold, so that growth copies both.
  for (std::size_t i = 0; i < 300; ++i) {
    const std::string piece(i * 7 % 5000 + 1, static_cast<char>('a' + i % 26));
    b.append(piece);
    expected += piece;
  }
  REQUIRE(b.size() == expected.size());
  CHECK(std::string(b.data(), b.size()) == expected);
  const std::size_t capacity = b.capacity();
  CHECK(capacity >= wsbridge::prefault_threshold);
  b.clear();
  CHECK(b.empty());
  CHECK(b.capacity() == capacity);
  b.resize(10);  // no reallocation: the same storage
  CHECK(b.capacity() == capacity);

  byte_buffer other(3);
  other[0] = 'x';
  b.swap(other);
  CHECK(b.size() == 3);
  CHECK(b[0] == 'x');
  CHECK(other.capacity() == capacity);
}

namespace {

/// The pages wholly inside `b`.
std::pair<std::uintptr_t, std::uintptr_t> whole_pages(byte_buffer& b) {
  const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
  return {(reinterpret_cast<std::uintptr_t>(b.data()) + page - 1) & ~(page - 1),
          (reinterpret_cast<std::uintptr_t>(b.data()) + b.capacity()) & ~(page - 1)};
}

/// Gives those pages back, as a new allocation's are (malloc may reuse freed memory).
void unmap_pages(byte_buffer& b) {
  const auto [begin, end] = whole_pages(b);
  REQUIRE(::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED) == 0);
}

/// How many of them are mapped now.
std::size_t mapped_pages(byte_buffer& b) {
  const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
  const auto [begin, end] = whole_pages(b);
  std::vector<unsigned char> v((end - begin) / page);
  REQUIRE(::mincore(reinterpret_cast<void*>(begin), end - begin, v.data()) == 0);
  return static_cast<std::size_t>(std::count_if(v.begin(), v.end(), [](unsigned char c) { return c & 1; }));
}

struct pipe_pair {
  int fd[2];
  pipe_pair() {
    REQUIRE(::pipe(fd) == 0);
    REQUIRE(::fcntl(fd[1], F_SETPIPE_SZ, 1 << 20) > 0);
  }
  ~pipe_pair() {
    ::close(fd[0]);
    ::close(fd[1]);
  }
  void put(std::size_t n) {
    const std::string bytes(n, 'x');
    REQUIRE(::write(fd[1], bytes.data(), n) == static_cast<ssize_t>(n));
  }
};

}  // namespace

TEST_CASE("a read buffer is mapped before its first read only when bulk data waits", "[byte_buffer]") {
  constexpr std::size_t size = 256u << 10;
  const std::size_t pages = size / static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));

  pipe_pair bulk;
  bulk.put(wsbridge::prefault_threshold);
  byte_buffer b(size);
  unmap_pages(b);
  REQUIRE(mapped_pages(b) == 0);
  b.first_read_from(bulk.fd[0]);
  CHECK(mapped_pages(b) >= pages - 1);

  pipe_pair little;
  little.put(100);
  byte_buffer c(size);
  unmap_pages(c);
  c.first_read_from(little.fd[0]);
  CHECK(mapped_pages(c) == 0);  // a few small messages map only what they touch
  little.put(wsbridge::prefault_threshold);
  c.first_read_from(little.fd[0]);  // only the first read is looked at: later ones are filled()'s
  CHECK(mapped_pages(c) == 0);
}
