#pragma once
// The one owner of writing messages to the peer, with the one queue they wait in.
// Messages go out in the order ioproc gave them, by one of two writers:
// - no extension negotiated: framed here, in place in the transport's buffer
//   (frame_writer.hpp), with no allocation and no completion to wait for; Beast's
//   async_write costs a composed operation and a posted completion per message, which
//   bounded small messages to a few hundred thousand per second;
// - permessage-deflate negotiated: Beast writes them (it owns the deflate stream), one
//   async_write at a time, from the queue's front.
// A message is framed in place only when nothing waits before it in the queue, so the
// two never reorder. The sender also writes our Close (after every message, see
// session_transport.hpp for why not Beast's async_close), and counts a message as sent
// only once the kernel has its last byte, so that a connection lost mid-write reports
// exactly what was not sent.

#include <boost/asio/bind_executor.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>

#include "bridge/protocol/ipc.hpp"
#include "netproc/event_loop.hpp"
#include "netproc/frame_writer.hpp"
#include "netproc/layers.hpp"
#include "netproc/session_end.hpp"

namespace wsbridge::netproc {

template <class Layer>
class frame_sender {
 public:
  /// `server`: frames are not masked (RFC 6455 §5.1). `keep_payloads` (--reconnect):
  /// written messages are kept until the kernel has them, to be handed on if it never does.
  frame_sender(websocket::stream<Layer>& ws, bool server, bool keep_payloads)
      : ws_(ws), server_(server), keep_(keep_payloads) {}

  /// No extension is in use: messages may be framed in place.
  void frame_in_place(bool on) { direct_ = on; }

  /// Takes one message from ioproc.
  void take(bool binary, std::string_view payload) {
    if (direct_ && queue_.empty()) {
      auto& out = ws_.next_layer().pending_buffer();
      const std::size_t before = out.size();
      append_data_frame(out, binary, payload, mask());
      ws_.next_layer().frames_appended(out.size() - before);
      unflushed_.push_back({ws_.next_layer().accepted(), payload.size(), keep_ ? std::string(payload) : std::string(),
                            binary});
      return;
    }
    queued_bytes_ += payload.size();
    queue_.push_back({binary, std::string(payload)});
  }

  bool queue_empty() const { return queue_.empty(); }
  std::size_t queued_bytes() const { return queued_bytes_; }
  bool writing() const { return writing_; }

  /// Beast's writer: starts writing the queue's front; `done(ec)` follows. False when
  /// nothing is queued or a write is in flight.
  template <class Done>
  bool write_front(Done&& done) {
    if (writing_ || queue_.empty()) return false;
    writing_ = true;
    ws_.binary(queue_.front().binary);
    ws_.async_write(net::buffer(queue_.front().data),
                    net::bind_executor(completions().get_executor(),
                                       [this, d = std::forward<Done>(done)](error_code ec, std::size_t) mutable {
                                         writing_ = false;
                                         if (!ec) front_written();
                                         d(ec);
                                       }));
    return true;
  }

  /// Messages whose last byte the kernel has taken since the last call: {messages, bytes}.
  std::pair<std::uint64_t, std::uint64_t> take_flushed() {
    const std::uint64_t flushed = ws_.next_layer().flushed();
    std::uint64_t messages = 0, bytes = 0;
    while (!unflushed_.empty() && unflushed_.front().end_offset <= flushed) {
      ++messages;
      bytes += unflushed_.front().size;
      unflushed_.pop_front();
    }
    return {messages, bytes};
  }

  /// Our Close, in order after every message written so far; once it is out, Beast's
  /// own Close replies are dropped (the transport's close_frame_watch). `drop_queued`:
  /// a close asked for now (Ctrl+C, /close) does not wait behind data the peer is not
  /// reading; what is dropped is reported as not sent.
  void write_close(std::uint16_t code, std::string_view reason, bool drop_queued) {
    if (drop_queued) ws_.next_layer().discard_pending();
    ws_.next_layer().write_raw(make_close_frame(code, reason, mask()));
    close_end_ = ws_.next_layer().accepted();
    ws_.next_layer().drop_close_frames();
  }
  /// The kernel has our Close frame.
  bool close_flushed() const { return close_end_ != 0 && ws_.next_layer().flushed() >= close_end_; }

  /// --reconnect: in the order ioproc sent them, the messages given to the transport
  /// but not yet to the kernel (a message cut off mid-write counts as not sent: the
  /// peer never had all of it), then those queued.
  leftovers unsent() const {
    leftovers left;
    const std::uint64_t flushed = ws_.next_layer().flushed();
    for (const auto& u : unflushed_)
      if (u.end_offset > flushed) {
        ipc::append_frame(left.frames, u.binary ? ipc::frame_type::binary : ipc::frame_type::text, u.payload);
        ++left.messages;
      }
    for (const auto& q : queue_) {
      ipc::append_frame(left.frames, q.binary ? ipc::frame_type::binary : ipc::frame_type::text, q.data);
      ++left.messages;
    }
    return left;
  }

  /// A client masks its frames, a server does not (RFC 6455 §5.1).
  frame_mask mask() { return server_ ? frame_mask{} : frame_mask{mask_keys_.next()}; }

 private:
  void front_written() {
    auto& front = queue_.front();
    queued_bytes_ -= front.data.size();
    unflushed_.push_back({ws_.next_layer().accepted(), front.data.size(),
                          keep_ ? std::move(front.data) : std::string(), front.binary});
    queue_.pop_front();
  }

  struct queued {
    bool binary = false;
    std::string data;
  };
  struct unflushed {
    std::uint64_t end_offset;  ///< session_transport::accepted() after its last byte
    std::size_t size;          ///< payload bytes
    std::string payload;       ///< --reconnect: kept, to be sent again if never flushed
    bool binary = false;
  };

  websocket::stream<Layer>& ws_;
  bool server_;
  bool keep_;
  bool direct_ = false;
  bool writing_ = false;
  std::deque<queued> queue_;         ///< read from ioproc, not yet given to Beast
  std::size_t queued_bytes_ = 0;     ///< payload bytes in queue_
  std::deque<unflushed> unflushed_;  ///< written to the transport, not yet to the kernel
  std::uint64_t close_end_ = 0;      ///< session_transport::accepted() after our Close, or 0
  mask_keys mask_keys_;
};

}  // namespace wsbridge::netproc
