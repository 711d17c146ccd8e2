#pragma once
// An in-memory stream to put under session_transport in tests and fuzz targets: reads
// take what feed() gave (or wait for it), writes land in `written` at once unless
// `stall_writes` holds them back. Beast's teardown points are no-ops.
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/role.hpp>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace fake {

namespace net = boost::asio;
namespace beast = boost::beast;
using beast::error_code;

/// Reads take what feed() gave (or wait for it); writes land in `written` at once
/// unless `stall_writes` holds them back.
class stream {
 public:
  using executor_type = net::io_context::executor_type;
  explicit stream(net::io_context& ioc) : ioc_(ioc) {}
  executor_type get_executor() { return ioc_.get_executor(); }

  std::string written;
  bool stall_writes = false;
  int reads_started = 0;

  void feed(std::string_view bytes) {
    input_ += bytes;
    if (pending_read_) std::exchange(pending_read_, nullptr)();
  }

  template <class Buffers, class Token>
  auto async_read_some(const Buffers& b, Token&& token) {
    return net::async_initiate<Token, void(error_code, std::size_t)>(
        [this](auto handler, const Buffers& bufs) {
          ++reads_started;
          auto run = [this, bufs, h = std::make_shared<decltype(handler)>(std::move(handler))]() mutable {
            const std::size_t n = net::buffer_copy(bufs, net::buffer(input_));
            input_.erase(0, n);
            net::post(ioc_, [h, n]() mutable { (*h)(error_code{}, n); });
          };
          if (input_.empty()) pending_read_ = std::move(run);
          else run();
        },
        token, b);
  }

  template <class Buffers, class Token>
  auto async_write_some(const Buffers& b, Token&& token) {
    return net::async_initiate<Token, void(error_code, std::size_t)>(
        [this](auto handler, const Buffers& bufs) {
          if (stall_writes) return;  // never completes: a peer that does not read
          const std::size_t n = net::buffer_size(bufs);
          std::string bytes(n, '\0');
          net::buffer_copy(net::buffer(bytes), bufs);
          written += bytes;
          net::post(ioc_, [h = std::move(handler), n]() mutable { h(error_code{}, n); });
        },
        token, b);
  }

 private:
  net::io_context& ioc_;
  std::string input_;
  std::function<void()> pending_read_;
};

template <class Handler>
void async_teardown(beast::role_type, stream& s, Handler&& handler) {
  net::post(s.get_executor(), [h = std::forward<Handler>(handler)]() mutable { h(error_code{}); });
}
inline void teardown(beast::role_type, stream&, error_code& ec) { ec = {}; }
inline void beast_close_socket(stream&) {}  // Beast closes the lowest layer on a timeout

}  // namespace fake

namespace fake {
/// No kernel queue under an in-memory stream: nothing is ever unacknowledged (the
/// relay asks, as it asks SIOCOUTQ of a socket).
inline int unacknowledged_bytes(stream&) { return 0; }
}  // namespace fake
