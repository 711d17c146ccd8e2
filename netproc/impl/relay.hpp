#pragma once
// relay's definitions: included by the translation units that instantiate it
// (relay.cpp for ws:// and ws+unix://, tls_session.cpp for wss://, and the unit tests
// over an in-memory stream).

#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/websocket.hpp>
#include <algorithm>
#include <cstring>
#include <utility>

#include "bridge/protocol/close_codes.hpp"
#include "bridge/protocol/exit_codes.hpp"
#include "bridge/protocol/limits.hpp"
#include "netproc/accept_path.hpp"
#include "netproc/event_loop.hpp"
#include "netproc/relay.hpp"

namespace wsbridge::netproc {

template <class Layer>
relay<Layer>::relay(session_parts& parts, int from_io_fd, websocket::stream<Layer>&& ws,
                    websocket::response_type&& response, std::string program_env)
    : parts_(parts),
      ws_(std::move(ws)),
      sender_(ws_, parts.cfg.server(), parts.cfg.reconnect),
      response_(std::move(response)),
      program_env_(std::move(program_env)),
      from_io_(parts.ioc, from_io_fd),
      from_io_fd_(from_io_fd),
      close_timer_(parts.ioc),
      linger_timer_(parts.ioc),
      keepalive_timer_(parts.ioc),
      session_timer_(parts.ioc),
      close_code_(parts.cfg.close_code),
      close_reason_(parts.cfg.close_reason) {}

template <class Layer>
void relay<Layer>::start(std::string_view replay) {
  auto self = this->shared_from_this();
  ws_.next_layer().on_flushed([self] { self->on_socket_flushed(); });
  // Messages read from the socket gather for ioproc until we would wait for more.
  ws_.next_layer().before_wait([self] { self->parts_.out.flush(); });
  parts_.out.before_write = [this] { publish_received(); };
  parts_.out.on_written = [self] { self->on_io_written(); };
  parts_.out.on_gone = [self] { self->on_io_gone(); };
  parts_.link.on_close_request = [self](const ipc::close_info& c) {
    self->parts_.board.close_requested.store(1, std::memory_order_relaxed);  // asked for: not a loss to repair
    self->interrupted_ = true;
    self->request_close(c.code, c.reason);
  };
  watch_control_frames();
  // From here on the timeout bounds closing handshakes the peer starts. Keepalive is
  // ours (keepalive_tick), not Beast's idle timer, which ties the time a ping may go
  // unanswered to the interval.
  ws_.set_option(websocket::stream_base::timeout{
      std::chrono::duration_cast<std::chrono::steady_clock::duration>(parts_.cfg.close_timeout),
      websocket::stream_base::none(), false});
  keepalive_since_ = std::chrono::steady_clock::now();
  if (parts_.cfg.ping_interval.count() != 0) keepalive_wait(keepalive_since_ + parts_.cfg.ping_interval);
  if (parts_.cfg.timeout.count() != 0) {
    session_timer_.expires_after(parts_.cfg.timeout);
    session_timer_.async_wait([self](error_code ec) {
      if (ec || self->phase_ >= close_phase::requested) return;
      self->timed_out_ = true;
      if (self->parts_.cfg.verbose)
        self->parts_.out.notice("timeout", "closing after " + seconds_text(self->parts_.cfg.timeout) + " (--timeout)");
      self->request_close(self->parts_.cfg.close_code, self->parts_.cfg.close_reason);
    });
  }
  const auto ext = response_[http::field::sec_websocket_extensions];
  const auto proto = response_[http::field::sec_websocket_protocol];
  sender_.frame_in_place(ext.empty());  // no extension: messages are framed in place
  parts_.board.opened.store(1, std::memory_order_relaxed);
  parts_.end.set_state(connection_state::open);
  std::string info = std::string(proto) + "\n" + std::string(ext);
  if (parts_.cfg.server() && !!parts_.cfg.program) info += "\n" + program_env_;
  if (parts_.cfg.verbose)
    parts_.out.notice("handshake", "open; subprotocol: " + (proto.empty() ? std::string("none") : std::string(proto)) +
                                 "; extensions: " + (ext.empty() ? std::string("none") : std::string(ext)));
  parts_.out.append(ipc::frame_type::opened, info);
  parts_.board.opened_count.fetch_add(1, std::memory_order_relaxed);
  parts_.out.flush();
  do_ws_read();
  if (!replay.empty()) {
    // Trusted as much as ioproc's pipe, whence it came: the same decoder checks it.
    auto space = from_io_decoder_.prepare(replay.size());
    std::memcpy(space.data(), replay.data(), replay.size());
    from_io_decoder_.commit(replay.size());
    consume_io_frames();  // the previous connection's unsent messages go first
  }
  do_io_read();
  if (const auto kept = std::exchange(parts_.kept_close, std::nullopt)) {
    interrupted_ = true;  // asked for while our 101 was on its way (session_parts)
    request_close(kept->code, kept->reason);
  }
}

// ---- peer -> ioproc ------------------------------------------------------------------

template <class Layer>
void relay<Layer>::do_ws_read() {
  ws_reading_ = true;
  ws_.async_read(read_buffer_, net::bind_executor(completions().get_executor(),
                                                  beast::bind_front_handler(&relay::on_ws_read, this->shared_from_this())));
}

template <class Layer>
void relay<Layer>::on_ws_read(error_code ec, std::size_t n) {
  ws_reading_ = false;
  if (phase_ == close_phase::finished) return;
  if (ec == websocket::error::closed) return on_close_handshake_done();
  if (ec) return on_lost("read", ec);
  if (max_reached_) {
    read_buffer_.consume(read_buffer_.size());
    return do_ws_read();
  }
  frame_received_message(parts_.out.pending(), ws_.got_text(), read_buffer_);
  // Counted on the board with the flush that hands them to ioproc (publish_received).
  ++unpublished_messages_;
  unpublished_bytes_ += n;
  if (phase_ == close_phase::lingering) last_receive_ = std::chrono::steady_clock::now();  // lingering waits for quiet
  if (parts_.cfg.max_messages != 0 && ++delivered_ >= wanted_messages()) {
    // --max-messages: that was the last one. Close now; what the peer sends before its
    // Close answer is read (the closing handshake needs it) but not delivered.
    parts_.out.flush();
    max_reached_ = true;
    request_close(parts_.cfg.close_code, parts_.cfg.close_reason);  // the natural end, as at end of input
    if (!ws_reading_) do_ws_read();
    return;
  }
  if (parts_.out.pending().size() >= limits::read_chunk) parts_.out.flush();
  // Backpressure: a slow stdout consumer stops us reading the socket, and TCP then
  // slows the peer. Reading resumes in on_io_written().
  if (parts_.out.backlog() < limits::max_receive_backlog) do_ws_read();
}

template <class Layer>
void relay<Layer>::publish_received() {
  if (unpublished_messages_ == 0) return;
  parts_.board.messages_received.fetch_add(unpublished_messages_, std::memory_order_relaxed);
  parts_.board.bytes_received.fetch_add(unpublished_bytes_, std::memory_order_relaxed);
  unpublished_messages_ = unpublished_bytes_ = 0;
}

template <class Layer>
void relay<Layer>::on_io_written() {
  parts_.out.flush();
  // Open or closing: the messages the peer sends before its Close are delivered too.
  if (!ws_reading_ && phase_ != close_phase::finished && parts_.out.backlog() < limits::max_receive_backlog) do_ws_read();
}

template <class Layer>
void relay<Layer>::on_io_gone() {
  // ioproc ended (stdout closed, or it died): nobody can read what the peer sends.
  // Say goodbye if we can; the supervisor bounds how long that may take.
  if (open()) request_close(close_going_away, "");
}

template <class Layer>
void relay<Layer>::watch_control_frames() {
  ws_.control_callback([this](websocket::frame_type kind, beast::string_view payload) {
    if (kind == websocket::frame_type::close) on_peer_close_frame();
    if (parts_.cfg.show_ping_pong && kind != websocket::frame_type::close) {
      const std::string data(payload.data(), payload.size());  // made terminal-safe by notice()
      parts_.out.notice(kind == websocket::frame_type::ping ? "ping" : "pong",
                  std::string(kind == websocket::frame_type::ping ? "received ping (answered)" : "received pong") +
                      (data.empty() ? "" : " \"" + data + "\""));
    }
    // Only pongs answering the user's /ping go to ioproc, not those of keepalive pings.
    if (kind == websocket::frame_type::pong && user_pings_ > 0 && !parts_.out.gone() &&
        std::string_view(payload.data(), payload.size()) != keepalive_payload) {
      --user_pings_;
      parts_.out.append(ipc::frame_type::pong, std::string_view(payload.data(), payload.size()));
      parts_.out.flush();
    }
  });
}

// ---- ioproc -> peer ------------------------------------------------------------------

template <class Layer>
void relay<Layer>::do_io_read() {
  if (io_reading_ || parts_.out.gone()) return;
  io_reading_ = true;
  auto space = from_io_decoder_.prepare();
  from_io_decoder_.first_read_from(from_io_fd_);
  from_io_.async_read_some(net::buffer(space.data(), space.size()),
                           beast::bind_front_handler(&relay::on_io_read, this->shared_from_this()));
}

template <class Layer>
void relay<Layer>::on_io_read(error_code ec, std::size_t n) {
  io_reading_ = false;
  if (phase_ == close_phase::finished) return;
  if (ec) {
    parts_.out.mark_gone();
    return on_io_gone();
  }
  from_io_decoder_.commit(n);
  consume_io_frames();
}

template <class Layer>
void relay<Layer>::consume_io_frames() {
  ipc::frame f;
  std::string err;
  ws_.next_layer().hold();  // everything decoded from this read goes out in one write
  for (;;) {
    const auto r = from_io_decoder_.next(f, &err);
    if (r == ipc::frame_decoder::result::need_more) break;
    if (r == ipc::frame_decoder::result::error) return parts_.end.protocol_error("from the I/O process: " + err);
    on_io_frame(f);
    if (parts_.end.decided() && phase_ != close_phase::finished) return;  // a protocol error ended it
  }
  if (sender_.queued_bytes() < limits::max_send_queue && ws_.next_layer().backlog() < limits::max_send_queue)
    do_io_read();
  do_ws_write();
}

template <class Layer>
void relay<Layer>::on_io_frame(const ipc::frame& f) {
  switch (io_frame_rule(phase_for_io(), f.type)) {
    case frame_rule::fatal:
      return parts_.end.protocol_error(std::string("unexpected ") + ipc::to_string(f.type) +
                                 " frame from the I/O process (" + to_string(phase_for_io()) + ")");
    case frame_rule::drop:
      // Already on its way when the close began: not sent, and so counted as unsent by
      // ioproc (it counts what it read; the board counts what was sent).
      return;
    case frame_rule::accept:
      break;
  }
  switch (f.type) {
    case ipc::frame_type::text:
    case ipc::frame_type::binary:
      ++messages_from_io_;
      sender_.take(f.type == ipc::frame_type::binary, f.payload);
      return;
    case ipc::frame_type::input_end:
      return on_input_end(f.payload);
    case ipc::frame_type::ping:
      return send_ping(std::string(f.payload));
    case ipc::frame_type::close_request: {
      ipc::close_info c;
      std::string err;
      if (!ipc::decode_close(f.payload, c, &err)) return parts_.end.protocol_error("from the I/O process: " + err);
      parts_.board.close_requested.store(1, std::memory_order_relaxed);  // asked for: not a loss to repair
      request_close(c.code, c.reason);
      return;
    }
    default:
      return parts_.end.protocol_error(std::string("unexpected ") + ipc::to_string(f.type) + " frame from the I/O process");
  }
}

template <class Layer>
void relay<Layer>::on_input_end(std::string_view payload) {
  if (parts_.cfg.reconnect) input_end_payload_ = payload;
  if (payload == ipc::input_end_close_now) {
    input_ = input_end::close_now;
  } else if (payload == ipc::input_end_refused) {
    input_ = input_end::refused;
  } else {
    input_ = input_end::linger;
    if (payload.empty()) return;
    // The code of the Close at the end (server mode: 1011 when the program failed).
    ipc::close_info c;
    std::string err;
    if (!ipc::decode_close(payload, c, &err) || !sendable_close_code(c.code))
      return parts_.end.protocol_error("from the I/O process: bad input_end payload");
    close_code_ = c.code;
    close_reason_ = c.reason;
  }
}

template <class Layer>
bool relay<Layer>::awaiting_messages() const {
  if (closes_at_once()) return false;
  switch (input_) {
    case input_end::refused:
      return parts_.cfg.max_messages != 0 && delivered_ < wanted_messages();
    default:
      return parts_.cfg.no_close || (parts_.cfg.max_messages != 0 && !max_reached_);
  }
}

template <class Layer>
std::uint64_t relay<Layer>::wanted_messages() const {
  return input_ == input_end::refused ? std::min<std::uint64_t>(parts_.cfg.max_messages, messages_from_io_)
                                      : parts_.cfg.max_messages;
}

template <class Layer>
void relay<Layer>::do_ws_write() {
  if (sender_.writing() || !open() || phase_ >= close_phase::answering) return;
  if (phase_ == close_phase::requested) return start_close();
  if (our_close_sent(phase_)) return ws_.next_layer().release();  // nothing may follow our Close
  if (sender_.queue_empty()) {
    ws_.next_layer().release();  // the burst is over: write it out
    if (input_ != input_end::not_yet && phase_ == close_phase::none && !awaiting_messages()) start_linger();
    return;
  }
  // Keep at most this much accepted but not yet taken by the kernel; the flush
  // callback resumes us.
  if (ws_.next_layer().backlog() >= limits::max_send_queue) return;
  ws_.next_layer().hold();
  sender_.write_front([self = this->shared_from_this()](error_code ec) {
    // A failed write means the connection is going; the read side reports why.
    if (self->phase_ == close_phase::finished || ec) return;
    if (self->sender_.queued_bytes() < limits::max_send_queue / 2) self->do_io_read();
    self->do_ws_write();
  });
}

template <class Layer>
void relay<Layer>::on_socket_flushed() {
  if (const auto [messages, bytes] = sender_.take_flushed(); messages) {
    parts_.board.messages_sent.fetch_add(messages, std::memory_order_relaxed);
    parts_.board.bytes_sent.fetch_add(bytes, std::memory_order_relaxed);
  }
  if (phase_ == close_phase::finished) return;
  auto& transport = ws_.next_layer();
  if (phase_ == close_phase::answering && transport.close_frame_flushed()) return on_close_handshake_done();
  if (const std::uint16_t code = transport.beast_close_code();
      code != 0 && phase_ < close_phase::answering && transport.close_frame_flushed())
    return on_failed_by_beast(code, {});
  if (phase_ == close_phase::sent && sender_.close_flushed()) on_close_frame_flushed();
  // Hysteresis: resume at half the limit, so writes go out in large batches.
  if (transport.backlog() < limits::max_send_queue / 2) {
    if (open() && phase_ < close_phase::requested) do_io_read();
    do_ws_write();
  }
}

template <class Layer>
void relay<Layer>::send_ping(std::string data) {
  if (!open() || phase_ >= close_phase::sent) return parts_.out.notice("ping", "the connection is not open");
  if (ping_in_flight_) return parts_.out.notice("ping", "one ping is already on its way");
  ping_in_flight_ = true;
  ++user_pings_;
  ping_data_ = websocket::ping_data(data.substr(0, websocket::ping_data::static_capacity).c_str());
  ws_.async_ping(ping_data_, [self = this->shared_from_this()](error_code ec) {
    self->ping_in_flight_ = false;
    if (ec && self->phase_ != close_phase::finished) self->parts_.out.notice("ping", ec.message());
  });
}

// ---- keepalive -----------------------------------------------------------------------

template <class Layer>
void relay<Layer>::keepalive_wait(std::chrono::steady_clock::time_point until) {
  keepalive_timer_.expires_at(until);
  keepalive_timer_.async_wait([self = this->shared_from_this()](error_code ec) {
    if (!ec) self->keepalive_tick();
  });
}

template <class Layer>
void relay<Layer>::keepalive_tick() {
  if (phase_ >= close_phase::sent) return;
  const auto now = std::chrono::steady_clock::now();
  // Quiet is counted from the last byte received (the pong of our last ping included),
  // so that pings are --ping-interval apart on a connection with nothing else to say.
  const auto heard = std::max(ws_.next_layer().last_received(), keepalive_since_);
  if (keepalive_pinged_ && heard < keepalive_pinged_at_) {
    if (now - keepalive_pinged_at_ < parts_.cfg.ping_timeout) return keepalive_wait(keepalive_pinged_at_ + parts_.cfg.ping_timeout);
    parts_.out.notice("keepalive", "no answer from " + the_peer() + " for " + seconds_text(parts_.cfg.ping_timeout) +
                                 " after a ping (--ping-timeout)");
    return finish(exit_peer_dead, {close_abnormal, true, ""}, connection_state::closed);
  }
  keepalive_pinged_ = false;  // something arrived since the ping: alive
  if (now - heard < parts_.cfg.ping_interval) return keepalive_wait(heard + parts_.cfg.ping_interval);
  // Beast allows one ping in flight; a /ping being written counts as ours.
  if (!ping_in_flight_) {
    ping_in_flight_ = true;
    if (parts_.cfg.show_ping_pong) parts_.out.notice("ping", "sent keepalive ping");
    ping_data_ = websocket::ping_data(keepalive_payload.data());
    ws_.async_ping(ping_data_, [self = this->shared_from_this()](error_code) { self->ping_in_flight_ = false; });
  }
  keepalive_pinged_ = true;
  keepalive_pinged_at_ = now;
  keepalive_wait(now + parts_.cfg.ping_timeout);
}

// ---- closing -------------------------------------------------------------------------

template <class Layer>
void relay<Layer>::request_close(std::uint16_t code, std::string reason) {
  if (!advance(close_event::request)) return;
  close_code_ = code;
  close_reason_ = std::move(reason);
  do_ws_write();  // starts the close now, or after the write in flight
}

template <class Layer>
void relay<Layer>::start_linger() {
  if (!advance(close_event::linger)) return;
  if (parts_.cfg.linger.count() == 0 || closes_at_once()) return start_close();
  linger_until(std::chrono::steady_clock::now() + parts_.cfg.linger);
}

template <class Layer>
void relay<Layer>::linger_until(std::chrono::steady_clock::time_point when) {
  linger_timer_.expires_at(when);
  linger_timer_.async_wait([self = this->shared_from_this()](error_code ec) {
    if (ec || self->phase_ != close_phase::lingering) return;
    const auto quiet_until = self->last_receive_ + self->parts_.cfg.linger;
    if (quiet_until > std::chrono::steady_clock::now()) return self->linger_until(quiet_until);
    self->start_close();
  });
}

template <class Layer>
void relay<Layer>::start_close() {
  const bool asked = phase_ == close_phase::requested;
  if (!advance(close_event::send)) return;
  linger_timer_.cancel();
  parts_.end.set_state(connection_state::closing);
  sender_.write_close(close_code_, close_reason_, asked);
  // The close timeout counts from when our Close reaches the kernel, not from when it
  // is queued behind data a slow but live peer is still taking; until then, only a
  // peer that takes nothing at all for a whole close timeout is given up on.
  if (sender_.close_flushed()) on_close_frame_flushed();
  else wait_for_close_flush(ws_.next_layer().flushed(), unacknowledged());
  // Reading goes on: messages the peer sends before its Close are delivered.
  if (!ws_reading_ && parts_.out.backlog() < limits::max_receive_backlog) do_ws_read();
}

template <class Layer>
void relay<Layer>::wait_for_close_flush(std::uint64_t flushed_before, int unacked_before) {
  close_timer_.expires_after(parts_.cfg.close_timeout);
  close_timer_.async_wait([self = this->shared_from_this(), flushed_before, unacked_before](error_code ec) {
    if (ec || self->phase_ != close_phase::sent) return;
    // Progress is the peer acknowledging bytes (the kernel's unacknowledged count going
    // down), or the kernel taking more of ours. The second alone is not enough: with a
    // send buffer of megabytes, a peer that reads steadily frees room for our next
    // write only every few seconds.
    const std::uint64_t flushed = self->ws_.next_layer().flushed();
    const int unacked = self->unacknowledged();
    if (flushed != flushed_before || unacked < unacked_before) return self->wait_for_close_flush(flushed, unacked);
    self->parts_.out.notice("close", self->the_peer() + " took none of our last " +
                                   std::to_string(self->ws_.next_layer().backlog() + static_cast<std::uint64_t>(unacked)) +
                                   " bytes for " + seconds_text(self->parts_.cfg.close_timeout) +
                                   " (it stopped reading); our Close could not be sent");
    self->finish(exit_closed_abnormally, {close_abnormal, false, ""}, connection_state::closed);
  });
}

template <class Layer>
void relay<Layer>::on_close_frame_flushed() {
  if (!advance(close_event::flushed)) return;
  if (parts_.cfg.verbose)
    parts_.out.notice("close", "sent Close " + std::to_string(close_code_) +
                             (close_reason_.empty() ? "" : " \"" + close_reason_ + "\""));
  wait_for_close_delivery(unacknowledged(), std::chrono::steady_clock::now());
}

template <class Layer>
void relay<Layer>::wait_for_close_delivery(int unacked_before, std::chrono::steady_clock::time_point progress_at) {
  const int unacked = unacknowledged();
  if (unacked == 0) return wait_for_close_answer();  // the peer has it all, our Close too
  const auto now = std::chrono::steady_clock::now();
  if (unacked < unacked_before) progress_at = now;
  if (now - progress_at >= parts_.cfg.close_timeout) {
    parts_.out.notice("close", the_peer() + " took none of our last " + std::to_string(unacked) + " bytes for " +
                             seconds_text(parts_.cfg.close_timeout) + " (it stopped reading) and did not answer our Close");
    return finish(exit_closed_abnormally, {close_abnormal, false, ""}, connection_state::closed);
  }
  // Looked at often, so that the answer's wait starts when the last byte is taken.
  close_timer_.expires_after(std::min<std::chrono::steady_clock::duration>(parts_.cfg.close_timeout - (now - progress_at),
                                                                           limits::close_delivery_poll));
  close_timer_.async_wait([self = this->shared_from_this(), unacked, progress_at](error_code ec) {
    if (ec || self->phase_ != close_phase::flushed) return;
    self->wait_for_close_delivery(unacked, progress_at);
  });
}

template <class Layer>
void relay<Layer>::wait_for_close_answer() {
  close_timer_.expires_after(parts_.cfg.close_timeout);
  close_timer_.async_wait([self = this->shared_from_this()](error_code ec) {
    if (ec || self->phase_ != close_phase::flushed) return;
    self->parts_.out.notice("close", self->the_peer() + " did not answer our Close within " +
                                   seconds_text(self->parts_.cfg.close_timeout));
    self->finish(exit_closed_abnormally, {close_abnormal, false, ""}, connection_state::closed);
  });
}

template <class Layer>
void relay<Layer>::on_peer_close_frame() {
  if (phase_ == close_phase::finished) return;
  if (parts_.cfg.verbose) {
    const auto& r = ws_.reason();
    parts_.out.notice("close", "received Close " + std::to_string(r.code) +
                             (r.reason.empty() ? "" : " \"" + std::string(r.reason.data(), r.reason.size()) + "\""));
  }
  // The answer to our own Close: the closing handshake is complete.
  if (our_close_sent(phase_)) return on_close_handshake_done();
  advance(close_event::server_close);
  ws_.next_layer().discard_pending();  // unsent: reported as not delivered
  close_timer_.expires_after(parts_.cfg.close_timeout);
  close_timer_.async_wait([self = this->shared_from_this()](error_code ec) {
    if (!ec) self->on_close_handshake_done();
  });
}

template <class Layer>
void relay<Layer>::on_close_handshake_done() {
  const auto& r = ws_.reason();
  const bool by_peer = !our_close_sent(phase_);
  // RFC 6455 §7.1.5: a Close without a status code is reported as 1005; many peers
  // close that way, and it is a normal ending.
  const std::uint16_t code =
      r.code == websocket::close_code::none ? std::uint16_t{close_no_status} : static_cast<std::uint16_t>(r.code);
  if (by_peer && ws_.next_layer().beast_close_code() == close_protocol_error && code != close_protocol_error) {
    // A code no Close frame may carry (5000 and up): the transport answered it with 1002.
    parts_.out.notice("read", the_peer() + " sent Close code " + std::to_string(code) +
                            ", which is not valid on the wire (RFC 6455 §7.4.2); closed with 1002 (protocol error)");
    return finish(exit_closed_abnormally, {close_protocol_error, false, ""}, connection_state::closed);
  }
  int status = exit_ok;
  if (by_peer && code != close_normal && code != close_going_away && code != close_no_status)
    status = exit_closed_abnormally;
  if (status == exit_ok && parts_.cfg.max_messages != 0 && delivered_ < wanted_messages()) {
    // What ended the wait: --timeout, a signal, or the peer.
    parts_.out.notice("max-messages", std::to_string(delivered_) + " of " + std::to_string(wanted_messages()) +
                                    " messages arrived before " +
                                    (timed_out_     ? "--timeout (" + seconds_text(parts_.cfg.timeout) + ")"
                                     : interrupted_ ? std::string("the interrupt")
                                                    : the_peer() + " closed"));
    status = exit_incomplete;
  }
  finish(status, {code, by_peer, std::string(r.reason.data(), r.reason.size())}, connection_state::closed);
}

template <class Layer>
void relay<Layer>::on_lost(const char* step, error_code ec) {
  if (ec == websocket::error::message_too_big) return on_failed_by_beast(close_too_big, ec);
  if (const std::uint16_t code = ws_.next_layer().beast_close_code(); code != 0 && phase_ != close_phase::answering)
    return on_failed_by_beast(code, ec);
  std::string what = ec.message();
  if (ec == net::error::eof || ec == beast::error::timeout)
    what = the_peer() + " closed the connection without a Close frame";
  parts_.out.notice("connection lost", std::string(step) + ": " + what);
  finish(exit_closed_abnormally, {close_abnormal, true, ""}, connection_state::closed);
}

template <class Layer>
void relay<Layer>::on_failed_by_beast(std::uint16_t code, error_code ec) {
  if (code == close_too_big) {
    parts_.out.notice("read", the_peer() + " sent a message larger than --max-size (" + std::to_string(parts_.cfg.max_message) +
                            " bytes); closed with 1009 (message too big)");
  } else {
    const bool named = ec && ec.category() == websocket::make_error_code(websocket::error::closed).category();
    parts_.out.notice("read", the_peer() + " broke the WebSocket protocol" +
                            (named ? " (" + ec.message() + ")" : std::string()) + "; closed with " +
                            std::to_string(code) + " (" + close_code_meaning(code) + ")");
  }
  finish(exit_closed_abnormally, {code, false, ""}, connection_state::closed);
}

template <class Layer>
void relay<Layer>::finish(int status, const ipc::close_info& info, connection_state final_state) {
  if (!advance(close_event::finish)) return;
  close_timer_.cancel();
  keepalive_timer_.cancel();
  session_timer_.cancel();
  linger_timer_.cancel();
  publish_received();
  parts_.end.finish(status, info, final_state, parts_.cfg.reconnect ? unsent() : leftovers{});
}

template <class Layer>
leftovers relay<Layer>::unsent() const {
  // In the order ioproc sent them: the messages not sent, then the end of input, then
  // the start of a frame still coming.
  leftovers left = sender_.unsent();
  if (input_ != input_end::not_yet) ipc::append_frame(left.frames, ipc::frame_type::input_end, input_end_payload_);
  left.frames.append(from_io_decoder_.undecoded());
  return left;
}

}  // namespace wsbridge::netproc
