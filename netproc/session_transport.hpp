#pragma once
// The session's transport: the stream layer under beast::websocket::stream, over TCP,
// TLS or a Unix socket. It batches both directions:
// it gathers the bytes of many writes into one buffer, handed to the next layer with
// one write in flight, and reads from the socket in large chunks that it then hands
// to Beast piece by piece.
//
// Why it exists:
// - Speed: Beast makes one socket write per frame and reads through a 1536-byte
//   buffer; with this layer a burst of small messages is one send() and one recv().
// - Correct closing: Beast's async_close takes over the read side after sending Close
//   and discards every message that arrives before the server's Close (see
//   beast/websocket/impl/close.hpp, "Read until receiving a close frame"). wsbridge
//   must deliver those messages, so the session writes the Close frame itself through
//   write_raw(), in order after all message bytes, keeps reading with async_read, and
//   asks this layer to drop the second Close that Beast's read would send in reply.
// - Beast's other behaviours it works around, each a named adapter
//   (beast_adapters.hpp): refusal_head_cut (a refused answer whose body runs until the
//   server closes), close_frame_watch (the code Beast failed with, its echo of codes
//   not allowed on the wire, its second Close); and the pongs Beast writes without
//   backpressure (control_backlog() below).

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/beast/websocket/teardown.hpp>
#include <algorithm>
#include <chrono>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <deque>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bridge/protocol/byte_buffer.hpp"
#include "bridge/protocol/limits.hpp"
#include "netproc/beast_adapters.hpp"

namespace wsbridge::netproc {

template <class NextLayer>
class session_transport {
 public:
  using executor_type = typename NextLayer::executor_type;
  using error_code = boost::beast::error_code;

  template <class... Args>
  explicit session_transport(Args&&... args) : next_(std::forward<Args>(args)...), rbuf_(read_chunk) {}

  executor_type get_executor() noexcept { return next_.get_executor(); }
  NextLayer& next_layer() noexcept { return next_; }
  const NextLayer& next_layer() const noexcept { return next_; }

  /// Serves Beast's small reads from one large read of the next layer. Just before
  /// that large read (the moment we would wait for the network) it calls the
  /// before_wait callback, which is when the session passes what it gathered on.
  template <class MutableBufferSequence, class ReadToken>
  auto async_read_some(const MutableBufferSequence& buffers, ReadToken&& token) {
    return boost::asio::async_initiate<ReadToken, void(error_code, std::size_t)>(
        [this](auto handler, const MutableBufferSequence& b) {
          if (refusal_cut_.ended() && rpos_ >= readable_end()) {  // see stop_after_refusal()
            auto ex = boost::asio::get_associated_executor(handler, get_executor());
            boost::asio::post(ex, [h = std::move(handler)]() mutable {
              std::move(h)(boost::asio::error::eof, 0);
            });
            return;
          }
          if (rpos_ < readable_end()) {
            const std::size_t n = take(b);
            auto ex = boost::asio::get_associated_executor(handler, get_executor());
            boost::asio::post(ex, [h = std::move(handler), n]() mutable { std::move(h)(error_code{}, n); });
            return;
          }
          if (before_wait_) before_wait_();
          // Beast answers each ping with a pong written here. A server that floods pings
          // and never reads would make those pile up without bound: while more than
          // max_control_backlog of them wait for the socket, the socket is not read
          // (TCP then stops the server), as data messages wait in netproc's queue.
          if (control_backlog_ > max_control_backlog && !error_) {
            deferred_read_ = make_task([this, b, h = std::move(handler)]() mutable { read_next(b, std::move(h)); });
            return;
          }
          read_next(b, std::move(handler));
        },
        token, buffers);
  }

  /// Accepts all of `buffers` into the gathering buffer and completes at once (posted,
  /// never inline). While held (hold()), only a full buffer is written out, so a
  /// burst of messages becomes one write; otherwise (the handshake, Beast's pongs
  /// and Close replies) bytes go out at once.
  template <class ConstBufferSequence, class WriteToken>
  auto async_write_some(const ConstBufferSequence& buffers, WriteToken&& token) {
    return boost::asio::async_initiate<WriteToken, void(error_code, std::size_t)>(
        [this](auto handler, const ConstBufferSequence& b) {
          std::size_t n = boost::asio::buffer_size(b);
          error_code ec = error_;
          // Beast writes each frame with one write, so the first bytes are a frame's
          // header; after our own Close only Beast's control frames come here.
          char head_bytes[8];
          const std::string_view head(head_bytes, boost::asio::buffer_copy(boost::asio::buffer(head_bytes), b));
          const unsigned char first = head.empty() ? 0 : static_cast<unsigned char>(head[0]);
          const auto action = ec ? close_frame_watch::action::drop : close_watch_.on_write(head);
          if (action != close_frame_watch::action::drop) {
            if (action == close_frame_watch::action::pass) append(b);
            else append_bytes(close_frame_watch::rewritten(head));
            if (first == close_frame_watch::close_byte) close_frame_end_ = accepted_;
            if (is_control_frame(first)) {
              control_backlog_ += n;
              control_ends_.push_back({accepted_, n});
            }
            // Control frames (opcode 8 and up: Close, Ping, Pong) never wait.
            if (!held_ || pending_.size() >= flush_threshold || is_control_frame(first)) start_flush();
          }
          if (ec) n = 0;
          auto ex = boost::asio::get_associated_executor(handler, get_executor());
          boost::asio::post(ex, [h = std::move(handler), ec, n]() mutable { std::move(h)(ec, n); });
        },
        token, buffers);
  }

  /// Control-frame bytes (pongs, Close replies) accepted and not yet taken by the
  /// next layer; while over max_control_backlog the socket is not read.
  std::size_t control_backlog() const { return control_backlog_; }

  /// The close code of a Close frame Beast wrote on its own (failing the connection
  /// after a protocol violation, or answering the server's Close), or 0.
  std::uint16_t beast_close_code() const { return close_watch_.beast_code(); }

  /// Puts bytes already read from the next layer back in front of those not yet given
  /// out, so that the next reads return them first. The server reads the upgrade
  /// request with http::async_read, outside Beast's stream: whatever the client sent
  /// after the request's head is then in the caller's buffer. RFC 6455 §4.1 asks a
  /// client to wait for the 101, but clients do pipeline their first frame: those bytes
  /// are WebSocket frames, and Beast must parse them like any that follow.
  void unread(std::string_view bytes) {
    if (bytes.empty()) return;
    const std::size_t rest = rend_ - rpos_;
    byte_buffer merged(std::max(rbuf_.size(), bytes.size() + rest));
    std::memcpy(merged.data(), bytes.data(), bytes.size());
    if (rest != 0) std::memcpy(merged.data() + bytes.size(), rbuf_.data() + rpos_, rest);
    rbuf_.swap(merged);
    rpos_ = 0;
    rend_ = bytes.size() + rest;
    refusal_cut_.new_buffer();
  }

  /// Appends bytes written by the session itself, in order after all accepted so far.
  void write_raw(std::string_view bytes) {
    pending_.append(bytes);
    accepted_ += bytes.size();
    start_flush();
  }

  /// During the upgrade: once the server's HTTP head has ended, if its status is not
  /// 101 and its body has no length (it would run until the server closes), reads end
  /// there (EOF, which ends such a body). Beast would otherwise wait for the server to
  /// close, which it may never do; the head is all the error message needs.
  void stop_after_refusal() { refusal_cut_.arm(); }

  /// The start of the upgrade answer as read so far (lower case), for telling a TLS
  /// record or no answer at all from an HTTP answer.
  std::string_view answer_start() const { return refusal_cut_.head(); }

  /// The gathering buffer, for frames the session encodes in place (frame_writer.hpp).
  /// Append whole frames only, then call frames_appended().
  byte_buffer& pending_buffer() { return pending_; }
  void frames_appended(std::size_t bytes) {
    accepted_ += bytes;
    if (!held_ || pending_.size() >= flush_threshold) start_flush();
  }

  /// While held, writes gather until flush_threshold; release() writes what is held.
  void hold() { held_ = true; }
  void release() {
    held_ = false;
    start_flush();
  }

  /// Called when Beast's reads have used up what was read and we are about to wait.
  void before_wait(std::function<void()> cb) { before_wait_ = std::move(cb); }

  /// Drops what is gathered but not yet being written: after the server's Close,
  /// data it would ignore must not delay our Close reply (RFC 6455 §5.5.1).
  void discard_pending() {
    accepted_ -= pending_.size();
    pending_.clear();
  }

  /// True once a Close frame Beast wrote has reached the next layer.
  bool close_frame_flushed() const { return close_frame_end_ != 0 && flushed_ >= close_frame_end_; }

  /// From now on, writes that start a Close frame are acknowledged and dropped.
  void drop_close_frames() { close_watch_.drop_from_now(); }

  std::uint64_t received() const { return received_; }  ///< bytes read from the next layer
  /// When bytes last came from the next layer (keepalive measures quiet from it).
  std::chrono::steady_clock::time_point last_received() const { return last_received_; }
  std::uint64_t accepted() const { return accepted_; }  ///< bytes taken in, in all
  std::uint64_t flushed() const { return flushed_; }    ///< bytes the next layer took
  std::uint64_t backlog() const { return accepted_ - flushed_; }

  /// Called after each completed write to the next layer.
  void on_flushed(std::function<void()> cb) { on_flushed_ = std::move(cb); }

  /// Completes once everything accepted so far has been written (or writing failed).
  template <class Token>
  auto async_flush(Token&& token) {
    return boost::asio::async_initiate<Token, void(error_code)>(
        [this](auto handler) {
          if (error_ || (pending_.empty() && !flushing_)) {
            auto ex = boost::asio::get_associated_executor(handler, get_executor());
            boost::asio::post(ex, [h = std::move(handler), ec = error_]() mutable { std::move(h)(ec); });
            return;
          }
          flush_waiters_.emplace_back(std::move(handler));
          start_flush();  // even while held: somebody waits for these bytes
        },
        token);
  }

 private:
  static constexpr std::size_t flush_threshold = limits::socket_batch;
  static constexpr std::size_t read_chunk = limits::socket_batch;

  /// How far Beast may read: all that was read, or, while the HTTP head of the upgrade
  /// answer is being read, up to its end (refusal_head_cut).
  std::size_t readable_end() { return refusal_cut_.readable_end(rbuf_.data(), rpos_, rend_); }

  template <class Buffers>
  std::size_t take(const Buffers& b) {
    const std::size_t end = readable_end();
    const std::size_t n = boost::asio::buffer_copy(b, boost::asio::buffer(rbuf_.data() + rpos_, end - rpos_));
    rpos_ += n;
    return n;
  }

  /// Asio's transfer_all hands the socket at most 64 KiB per call; a batch of up to
  /// flush_threshold goes in one sendmsg instead (a quarter of the system calls, and
  /// of the reactor round trips between them, for large messages).
  static std::size_t whole_batch(const error_code& ec, std::size_t) {
    return ec ? 0 : std::numeric_limits<std::size_t>::max();
  }

  static bool is_control_frame(unsigned char first) { return (first & 0x0f) >= 8; }

  template <class Buffers, class Handler>
  void read_next(const Buffers& b, Handler&& handler) {
    next_.async_read_some(boost::asio::buffer(rbuf_.data(), rbuf_.size()),
                          [this, b, h = std::forward<Handler>(handler)](error_code ec, std::size_t n) mutable {
                            rpos_ = 0;
                            rend_ = n;
                            rbuf_.filled(n);
                            refusal_cut_.new_buffer();
                            received_ += n;
                            if (n) last_received_ = std::chrono::steady_clock::now();  // one per read of up to 256 KiB
                            std::move(h)(n ? error_code{} : ec, n ? take(b) : 0);
                          });
  }

  template <class Buffers>
  void append(const Buffers& b) {
    for (auto it = boost::asio::buffer_sequence_begin(b); it != boost::asio::buffer_sequence_end(b); ++it) {
      boost::asio::const_buffer c(*it);
      pending_.append(std::string_view(static_cast<const char*>(c.data()), c.size()));
      accepted_ += c.size();
    }
  }

  void append_bytes(std::string_view bytes) {
    pending_.append(bytes);
    accepted_ += bytes.size();
  }

  void start_flush() {
    if (flushing_ || pending_.empty() || error_) return;
    flushing_ = true;
    writing_.swap(pending_);
    boost::asio::async_write(next_, boost::asio::buffer(writing_.data(), writing_.size()), whole_batch, [this](error_code ec, std::size_t n) {
      flushing_ = false;
      flushed_ += n;
      writing_.clear();
      if (ec) error_ = ec;
      while (!control_ends_.empty() && control_ends_.front().first <= flushed_) {
        control_backlog_ -= control_ends_.front().second;
        control_ends_.pop_front();
      }
      if (deferred_read_ && (error_ || control_backlog_ <= max_control_backlog)) {
        const auto resume = std::move(deferred_read_);
        resume->run();
      }
      if (on_flushed_) on_flushed_();
      if (!error_ && !pending_.empty()) {
        start_flush();
        return;
      }
      auto waiters = std::move(flush_waiters_);
      flush_waiters_.clear();
      for (auto& w : waiters) std::move(w)(error_);
    });
  }

  NextLayer next_;
  byte_buffer pending_;  ///< accepted, waiting for the next write
  byte_buffer writing_;  ///< the one write in flight
  bool flushing_ = false;
  bool held_ = false;
  std::uint64_t close_frame_end_ = 0;  ///< accepted_ after a Close frame from Beast, or 0
  close_frame_watch close_watch_;
  byte_buffer rbuf_;        ///< one large read from the next layer
  std::size_t rpos_ = 0;    ///< first byte of rbuf_ not yet given to Beast
  std::size_t rend_ = 0;    ///< end of the bytes read into rbuf_
  refusal_head_cut refusal_cut_;  ///< stop_after_refusal()
  std::function<void()> before_wait_;
  error_code error_;     ///< first write error; every later write fails with it
  std::uint64_t accepted_ = 0;
  std::uint64_t received_ = 0;
  std::chrono::steady_clock::time_point last_received_{};
  std::uint64_t flushed_ = 0;
  std::function<void()> on_flushed_;
  /// Pongs and Close replies are small; a flood is stopped by not reading once this
  /// much of them waits (at most one 256 KiB read's worth of pings more follows).
  static constexpr std::size_t max_control_backlog = limits::max_control_backlog;
  std::size_t control_backlog_ = 0;
  std::deque<std::pair<std::uint64_t, std::size_t>> control_ends_;  ///< (accepted_ at end, size) of each
  /// A move-only callable (a completion handler cannot be copied into std::function).
  struct task {
    virtual ~task() = default;
    virtual void run() = 0;
  };
  template <class F>
  static std::unique_ptr<task> make_task(F&& f) {
    struct impl final : task {
      explicit impl(F&& fn) : fn_(std::move(fn)) {}
      void run() override { fn_(); }
      F fn_;
    };
    return std::make_unique<impl>(std::forward<F>(f));
  }
  std::unique_ptr<task> deferred_read_;  ///< a socket read held back, or null
  std::vector<boost::asio::any_completion_handler<void(error_code)>> flush_waiters_;
};

// Beast's customization points for closing a websocket's next layer (found by ADL):
// flush what we hold, then tear down the layer below as usual.
template <class NextLayer>
void teardown(boost::beast::role_type role, session_transport<NextLayer>& s,
              boost::beast::error_code& ec) {
  using boost::beast::websocket::teardown;
  teardown(role, s.next_layer(), ec);
}

template <class NextLayer, class TeardownHandler>
void async_teardown(boost::beast::role_type role, session_transport<NextLayer>& s,
                    TeardownHandler&& handler) {
  s.async_flush([&s, role, h = std::forward<TeardownHandler>(handler)](boost::beast::error_code) mutable {
    using boost::beast::websocket::async_teardown;
    async_teardown(role, s.next_layer(), std::move(h));
  });
}

}  // namespace wsbridge::netproc
