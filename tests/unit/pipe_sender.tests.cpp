#include <catch2/catch.hpp>

#include <csignal>
#include <fcntl.h>
#include <latch>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include "bridge/common/fd_util.hpp"
#include "ioproc/pipe_sender.hpp"

using namespace wsbridge;

namespace {

/// Batch k's bytes: different in every batch and at every offset, so a page that was
/// changed while the pipe still held it shows up as a mismatch.
std::string batch_bytes(std::size_t k, std::size_t size) {
  std::string s(size, '\0');
  std::uint32_t x = static_cast<std::uint32_t>(k) * 2654435761u + 1;
  for (auto& c : s) {
    x = x * 1664525u + 1013904223u;
    c = static_cast<char>(x >> 24);
  }
  return s;
}

}  // namespace

TEST_CASE("pipe_sender: batches by reference arrive exactly although their buffers are reused", "[pipe_sender]") {
  unique_fd r, w;
  std::string err;
  REQUIRE(make_pipe(r, w, &err));
  REQUIRE(::fcntl(w.get(), F_SETPIPE_SZ, 1 << 20) > 0);

  // Sizes around the by-reference threshold, small ones copied in between, and a
  // first run of batches the reader does not read yet: every buffer is then still in
  // the pipe, and the sender must copy rather than reuse one.
  std::vector<std::size_t> sizes;
  for (int i = 0; i < 10; ++i) sizes.push_back(pipe_sender::min_by_reference);
  for (std::size_t i = 0; i < 200; ++i) sizes.push_back(i % 5 == 0 ? 1000 + i : (48u << 10) + i * 1531 % (300u << 10));
  std::string expected;
  for (std::size_t k = 0; k < sizes.size(); ++k) expected += batch_bytes(k, sizes[k]);

  std::latch first_run_sent(1);
  std::string got;
  std::thread reader([&] {
    first_run_sent.wait();
    std::string buf(7000, '\0');  // small reads: the reader lags behind
    while (got.size() < expected.size()) {
      const ssize_t n = read_some(r.get(), buf.data(), buf.size());
      if (n <= 0) break;
      got.append(buf.data(), static_cast<std::size_t>(n));
    }
  });
  pipe_sender sender(w.get());
  std::uint64_t spliced_in_first_run = 0;
  for (std::size_t k = 0; k < sizes.size(); ++k) {
    sender.batch() += batch_bytes(k, sizes[k]);
    REQUIRE(sender.send() == 0);
    if (k == 9) {
      spliced_in_first_run = sender.sent_by_reference();
      first_run_sent.count_down();
    }
  }
  reader.join();
  // Six buffers went by reference, the next four were copied (all six still unread).
  CHECK(spliced_in_first_run == 6 * pipe_sender::min_by_reference);
  CHECK(sender.sent_by_reference() > expected.size() / 2);
  REQUIRE(got.size() == expected.size());
  CHECK(got == expected);
}

TEST_CASE("pipe_sender: a closed reader is EPIPE, by reference or not", "[pipe_sender]") {
  unique_fd r, w;
  std::string err;
  REQUIRE(make_pipe(r, w, &err));
  r.reset();
  ::signal(SIGPIPE, SIG_IGN);  // as in wsbridge's processes
  pipe_sender sender(w.get());
  sender.batch() = "small";
  CHECK(sender.send() == EPIPE);
  sender.batch() = std::string(pipe_sender::min_by_reference, 'x');
  CHECK(sender.send() == EPIPE);
}
