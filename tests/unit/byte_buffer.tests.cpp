#include <catch2/catch.hpp>

#include <string>

#include "bridge/byte_buffer.hpp"

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
