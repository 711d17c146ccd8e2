#pragma once
// The last stage of a session, the same for client and server: messages both ways
// between the open websocket and ioproc's pipes, pings and keepalive, and the closing
// handshake (RFC 6455 §7), ending in the session's one end (session_end.hpp).
//
// Its state is two values with their own rules: how far closing has come (close_phase,
// close_phase.hpp), and whether ioproc's input has ended and how (input_end below).
// Which frames from ioproc each state accepts is io_frame_rule's table (handshake.hpp).

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "bridge/protocol/ipc.hpp"
#include "bridge/protocol/settings.hpp"
#include "bridge/protocol/status_board.hpp"
#include "netproc/close_phase.hpp"
#include "netproc/frame_sender.hpp"
#include "netproc/handshake.hpp"
#include "netproc/io_outbox.hpp"
#include "netproc/layers.hpp"
#include "netproc/session_parts.hpp"

namespace wsbridge::netproc {

/// How ioproc's input ended, from its `input_end` frame.
enum class input_end : std::uint8_t {
  not_yet,    ///< messages may still come
  linger,     ///< ended: close once all is sent and the peer has been quiet for --linger
  close_now,  ///< ended, and no linger: interactive Ctrl+D
  refused,    ///< a line could not be a message: wait only for the answers to what was
              ///< sent (none sent: close at once)
};

template <class Layer>
class relay : public std::enable_shared_from_this<relay<Layer>> {
 public:
  /// `from_io_fd`: ioproc's frames (child_fd::peer_in in netproc; a test's pipe).
  relay(session_parts& parts, int from_io_fd, websocket::stream<Layer>&& ws, websocket::response_type&& response,
        std::string program_env = {});

  /// Starts relaying: announces the open connection to ioproc (`opened`), then sends
  /// `replay` (--reconnect: the previous connection's unsent frames) before reading
  /// ioproc's pipe.
  void start(std::string_view replay = {});

  websocket::stream<Layer>& websocket() { return ws_; }
  close_phase phase() const { return phase_; }

 private:
  // ---- peer -> ioproc ------------------------------------------------------------
  void do_ws_read();
  void on_ws_read(error_code ec, std::size_t n);
  /// Close frames and the pongs that answer /ping, from Beast's control callback.
  void watch_control_frames();
  /// Counts what was received on the board, before ioproc can see it.
  void publish_received();
  void on_io_written();
  void on_io_gone();

  // ---- ioproc -> peer ------------------------------------------------------------
  void do_io_read();
  void on_io_read(error_code ec, std::size_t n);
  /// Decodes and handles every whole frame from ioproc received so far.
  void consume_io_frames();
  void on_io_frame(const ipc::frame& f);
  void on_input_end(std::string_view payload);
  io_phase phase_for_io() const {
    if (input_ != input_end::not_yet) return io_phase::input_ended;
    if (phase_ >= close_phase::requested) return io_phase::closing;
    return io_phase::open;
  }
  void do_ws_write();
  void on_socket_flushed();
  /// A ping the user asked for (/ping); its pong comes back through the control callback.
  void send_ping(std::string data);

  /// At end of input, the connection stays open: -n/--no-close, or --max-messages
  /// whose count has not arrived yet (the answers a script asked for).
  bool awaiting_messages() const;
  /// --max-messages, or after refused input no more than the messages that were sent
  /// (their answers are what the run still waits for).
  std::uint64_t wanted_messages() const;
  /// No linger at the end: the user asked so, or the input was refused before any message.
  bool closes_at_once() const {
    return input_ == input_end::close_now || (input_ == input_end::refused && messages_from_io_ == 0);
  }

  // ---- keepalive -----------------------------------------------------------------
  static constexpr std::string_view keepalive_payload = "wsbridge keepalive";
  void keepalive_wait(std::chrono::steady_clock::time_point until);
  /// --ping-interval I, --ping-timeout T: after I without a byte from the peer, ping;
  /// if nothing at all arrives within T after that, the peer is dead. Any bytes count,
  /// not only the pong: a peer busy sending us a large message is alive.
  void keepalive_tick();

  // ---- closing -------------------------------------------------------------------
  /// A close is asked for (Ctrl+C, /close, --timeout, --max-messages, ioproc gone):
  /// whatever is still queued is not sent.
  void request_close(std::uint16_t code, std::string reason);
  /// All input is sent: close once the peer has been quiet for --linger. The timer is
  /// not re-armed per message (that is a system call each); when it fires, it checks
  /// the time of the last message and waits out the rest.
  void start_linger();
  void linger_until(std::chrono::steady_clock::time_point when);
  void start_close();
  /// While our Close waits behind data: every close timeout, the peer must have taken
  /// some bytes, or it is declared stuck.
  void wait_for_close_flush(std::uint64_t flushed_before, int unacked_before);
  /// Our Close is in the kernel: the peer has --close-timeout to answer it, counted
  /// from when it has received everything, Close included. While the kernel still
  /// holds bytes the peer has not acknowledged and that amount keeps shrinking, a
  /// slow peer is working through our data, and the wait goes on.
  void on_close_frame_flushed();
  void wait_for_close_delivery(int unacked_before, std::chrono::steady_clock::time_point progress_at);
  void wait_for_close_answer();
  /// The peer's Close has arrived; Beast is replying. Nothing can follow it, so we
  /// report as soon as the reply is out, without waiting for the peer to drop the TCP
  /// connection (python-websockets waits up to 10 s when its queue is full).
  void on_peer_close_frame();
  void on_close_handshake_done();
  void on_lost(const char* step, error_code ec);
  /// Beast failed the connection itself (RFC 6455 §7.1.7): the peer broke the
  /// protocol, and Beast sent a Close with `code`. It then waits for the peer to close
  /// TCP first (§7.1.1), which a hostile peer may never do, and the read may end with
  /// the teardown's error (a reset) instead of the violation. So the session ends as
  /// soon as that Close is out (on_socket_flushed), or when the read fails; `ec` names
  /// the violation when the read ended with it.
  void on_failed_by_beast(std::uint16_t code, error_code ec);
  /// The end: timers stopped, counters published, then session_end.
  void finish(int status, const ipc::close_info& info, connection_state final_state);
  /// --reconnect: what the next netproc is to send first.
  leftovers unsent() const;

  int unacknowledged() { return unacknowledged_bytes(beast::get_lowest_layer(ws_)); }
  std::string the_peer() const { return std::string("the ") + parts_.cfg.peer_name(); }
  bool open() const { return parts_.end.state() == connection_state::open; }
  /// Moves the closing phase on (close_phase.hpp); false when `e` changes nothing.
  bool advance(close_event e) {
    const close_phase next = after(phase_, e);
    if (next == phase_) return false;
    phase_ = next;
    return true;
  }

  session_parts& parts_;
  websocket::stream<Layer> ws_;
  frame_sender<Layer> sender_;
  websocket::response_type response_;
  std::string program_env_;
  net::posix::stream_descriptor from_io_;
  int from_io_fd_;
  ipc::frame_decoder from_io_decoder_;
  std::string replay_;
  net::steady_timer close_timer_;
  net::steady_timer linger_timer_;
  net::steady_timer keepalive_timer_;
  net::steady_timer session_timer_;  ///< --timeout
  beast::flat_buffer read_buffer_;

  close_phase phase_ = close_phase::none;
  input_end input_ = input_end::not_yet;
  std::string input_end_payload_;  ///< --reconnect: the input_end frame's payload, to hand on
  bool ws_reading_ = false;        ///< an async_read is in flight
  bool io_reading_ = false;        ///< a read of ioproc's pipe is in flight
  bool ping_in_flight_ = false;    ///< Beast allows one ping at a time: a /ping or ours
  bool keepalive_pinged_ = false;  ///< a keepalive ping is out, unanswered so far
  bool max_reached_ = false;       ///< --max-messages reached: closing, delivering no more
  bool timed_out_ = false;         ///< --timeout ended the session
  bool interrupted_ = false;       ///< the supervisor asked to close (a signal)
  int user_pings_ = 0;             ///< /ping pongs still to come
  websocket::ping_data ping_data_;
  std::chrono::steady_clock::time_point keepalive_since_{};      ///< the connection opened
  std::chrono::steady_clock::time_point keepalive_pinged_at_{};  ///< our last keepalive ping
  std::chrono::steady_clock::time_point last_receive_{};         ///< the last message, while lingering
  std::uint64_t messages_from_io_ = 0;     ///< messages taken from ioproc
  std::uint64_t delivered_ = 0;            ///< messages passed to ioproc, for --max-messages
  std::uint64_t unpublished_messages_ = 0;  ///< received, not yet counted on the board
  std::uint64_t unpublished_bytes_ = 0;
  std::uint16_t close_code_;  ///< of our Close: --close-code, or what a close request asked for
  std::string close_reason_;  ///< likewise: --close-reason, or the request's
};

extern template class relay<plain_layer>;
extern template class relay<unix_layer>;

}  // namespace wsbridge::netproc
