// session<Layer>: messages both ways, ioproc's frames, pings, keepalive, the supervisor's requests. Part of session_impl.hpp.
#pragma once

namespace wsbridge::netproc {
namespace {  // internal linkage: see session_impl.hpp

template <class Layer>
void session<Layer>::do_ws_read() {
  ws_reading_ = true;
  ws_.async_read(read_buffer_, net::bind_executor(completions().get_executor(),
                                                  beast::bind_front_handler(&session::on_ws_read,
                                                                            this->shared_from_this())));
}

template <class Layer>
void session<Layer>::on_ws_read(error_code ec, std::size_t n) {
  ws_reading_ = false;
  if (phase_ == close_phase::finished) return;
  if (ec == websocket::error::closed) return on_close_handshake_done();
  if (ec) return on_lost("read", ec);
  if (max_reached_) {
    read_buffer_.consume(read_buffer_.size());
    return do_ws_read();
  }
  frame_received_message(to_io_pending_, ws_.got_text(), read_buffer_);
  // Counted on the board with the flush that hands them to ioproc (flush_to_io).
  ++unpublished_messages_;
  unpublished_bytes_ += n;
  if (phase_ == close_phase::lingering) last_receive_ = std::chrono::steady_clock::now();  // lingering waits for quiet
  if (cfg_.max_messages != 0 && ++delivered_ >= wanted_messages()) {
    // --max-messages: that was the last one. Close now; what the server sends before
    // its Close answer is read (the closing handshake needs it) but not delivered.
    flush_to_io();
    max_reached_ = true;
    request_close(cfg_.close_code, cfg_.close_reason);  // the natural end, as at end of input
    if (!ws_reading_) do_ws_read();
    return;
  }
  if (to_io_pending_.size() >= limits::read_chunk) flush_to_io();
  // Backpressure: a slow stdout consumer stops us reading the socket, and TCP
  // then slows the server. Reading resumes in on_io_written().
  if (io_backlog() < limits::max_receive_backlog) do_ws_read();
}

template <class Layer>
void session<Layer>::flush_to_io() {
  if (unpublished_messages_ != 0) {  // before ioproc can see them
    board_.messages_received.fetch_add(unpublished_messages_, std::memory_order_relaxed);
    board_.bytes_received.fetch_add(unpublished_bytes_, std::memory_order_relaxed);
    unpublished_messages_ = unpublished_bytes_ = 0;
  }
  if (io_writing_ || to_io_pending_.empty()) return;
  io_writing_ = true;
  to_io_writing_.swap(to_io_pending_);
  net::async_write(to_io_, net::buffer(to_io_writing_),
                   beast::bind_front_handler(&session::on_io_written, this->shared_from_this()));
}

template <class Layer>
void session<Layer>::on_io_written(error_code ec, std::size_t) {
  io_writing_ = false;
  to_io_writing_.clear();
  if (ec) {
    // ioproc has gone (its output was closed or it died); the supervisor knows.
    if (phase_ == close_phase::finished) exit_now();
    return on_io_gone();
  }
  if (phase_ == close_phase::finished) {
    if (to_io_pending_.empty()) exit_now();
    flush_to_io();
    return;
  }
  flush_to_io();
  if (!ws_reading_ && state_ >= connection_state::open && io_backlog() < limits::max_receive_backlog)
    do_ws_read();
}

template <class Layer>
void session<Layer>::do_io_read() {
  if (io_reading_ || io_gone_) return;
  io_reading_ = true;
  auto space = from_io_decoder_.prepare();
  from_io_decoder_.first_read_from(child_fd::peer_in);
  from_io_.async_read_some(net::buffer(space.data(), space.size()),
                           beast::bind_front_handler(&session::on_io_read, this->shared_from_this()));
}

template <class Layer>
void session<Layer>::on_io_read(error_code ec, std::size_t n) {
  io_reading_ = false;
  if (ec) return on_io_gone();
  from_io_decoder_.commit(n);
  consume_io_frames();
}

template <class Layer>
void session<Layer>::consume_io_frames() {
  ipc::frame f;
  std::string err;
  ws_.next_layer().hold();  // everything decoded from this read goes out in one write
  for (;;) {
    const auto r = from_io_decoder_.next(f, &err);
    if (r == ipc::frame_decoder::result::need_more) break;
    if (r == ipc::frame_decoder::result::error) return protocol_error("from the I/O process: " + err);
    on_io_frame(f);
  }
  if (queued_bytes_ < limits::max_send_queue && ws_.next_layer().backlog() < limits::max_send_queue) do_io_read();
  do_ws_write();
}

template <class Layer>
void session<Layer>::take_replay() {
  // Trusted as much as ioproc's pipe, whence it came: the same decoder checks it.
  auto space = from_io_decoder_.prepare(replay_.size());
  std::memcpy(space.data(), replay_.data(), replay_.size());
  from_io_decoder_.commit(replay_.size());
  consume_io_frames();
}

template <class Layer>
void session<Layer>::on_io_frame(const ipc::frame& f) {
  switch (io_frame_rule(phase_for_io(), f.type)) {
    case frame_rule::fatal:
      protocol_error(std::string("unexpected ") + ipc::to_string(f.type) + " frame from the I/O process (" +
                     to_string(phase_for_io()) + ")");
    case frame_rule::drop:
      // Already on its way when the close began: not sent, and so counted as unsent
      // by ioproc (it counts what it read; the board counts what was sent).
      return;
    case frame_rule::accept:
      break;
  }
  switch (f.type) {
    case ipc::frame_type::text:
    case ipc::frame_type::binary:
      ++messages_from_io_;
      if (direct_frames_ && queue_.empty()) {  // (after a close began, the table drops data)
        auto& out = ws_.next_layer().pending_buffer();
        const std::size_t before = out.size();
        append_data_frame(out, f.type == ipc::frame_type::binary, f.payload, mask());
        ws_.next_layer().frames_appended(out.size() - before);
        // Counted once the kernel has its last byte (on_socket_flushed): per message,
        // so that a connection lost mid-write reports exactly what was not sent.
        unflushed_.push_back({ws_.next_layer().accepted(), f.payload.size(),
                              cfg_.reconnect ? std::string(f.payload) : std::string(),
                              f.type == ipc::frame_type::binary});
        return;
      }
      queued_bytes_ += f.payload.size();
      queue_.push_back({f.type == ipc::frame_type::binary, std::string(f.payload)});
      return;
    case ipc::frame_type::input_end:
      input_ended_ = true;
      if (cfg_.reconnect) input_end_payload_ = f.payload;
      input_refused_ = f.payload == ipc::input_end_refused;
      close_at_once_ = f.payload == ipc::input_end_close_now || (input_refused_ && messages_from_io_ == 0);
      if (!close_at_once_ && !input_refused_ && !f.payload.empty()) {  // the code of the Close at the end
        ipc::close_info c;
        std::string err;
        if (!ipc::decode_close(f.payload, c, &err) || !sendable_close_code(c.code))
          protocol_error("from the I/O process: bad input_end payload");
        close_code_ = c.code;
        close_reason_ = c.reason;
      }
      return;
    case ipc::frame_type::ping:
      return send_ping(std::string(f.payload));
    case ipc::frame_type::close_request: {
      ipc::close_info c;
      std::string err;
      if (!ipc::decode_close(f.payload, c, &err)) protocol_error("from the I/O process: " + err);
      board_.close_requested.store(1, std::memory_order_relaxed);  // asked for: not a loss to repair
      request_close(c.code, c.reason);
      return;
    }
    default:
      protocol_error(std::string("unexpected ") + ipc::to_string(f.type) + " frame from the I/O process");
  }
}

template <class Layer>
void session<Layer>::do_ws_write() {
  if (ws_writing_ || state_ != connection_state::open || phase_ >= close_phase::answering) return;
  if (phase_ == close_phase::requested) return start_close();
  if (our_close_sent(phase_)) return ws_.next_layer().release();  // nothing may follow our Close
  if (queue_.empty()) {
    ws_.next_layer().release();  // the burst is over: write it out
    if (input_ended_ && phase_ == close_phase::none && !awaiting_messages()) start_linger();
    return;
  }
  // Keep at most this much accepted but not yet taken by the kernel; the flush
  // callback resumes us.
  if (ws_.next_layer().backlog() >= limits::max_send_queue) return;
  ws_writing_ = true;
  ws_.next_layer().hold();
  ws_.binary(queue_.front().binary);
  ws_.async_write(net::buffer(queue_.front().data),
                  net::bind_executor(completions().get_executor(),
                                     beast::bind_front_handler(&session::on_ws_write, this->shared_from_this())));
}

template <class Layer>
void session<Layer>::on_ws_write(error_code ec, std::size_t) {
  ws_writing_ = false;
  if (phase_ == close_phase::finished) return;
  // A failed write means the connection is going; the read side reports why.
  if (ec) return;
  const std::size_t size = queue_.front().data.size();
  queued_bytes_ -= size;
  // Counted as sent only once the kernel has the bytes (on_socket_flushed).
  unflushed_.push_back({ws_.next_layer().accepted(), size,
                        cfg_.reconnect ? std::move(queue_.front().data) : std::string(), queue_.front().binary});
  queue_.pop_front();
  if (queued_bytes_ < limits::max_send_queue / 2) do_io_read();
  do_ws_write();
}

template <class Layer>
void session<Layer>::on_socket_flushed() {
  const std::uint64_t flushed = ws_.next_layer().flushed();
  std::uint64_t messages = 0, bytes = 0;
  while (!unflushed_.empty() && unflushed_.front().end_offset <= flushed) {
    ++messages;
    bytes += unflushed_.front().size;
    unflushed_.pop_front();
  }
  if (messages) {
    board_.messages_sent.fetch_add(messages, std::memory_order_relaxed);
    board_.bytes_sent.fetch_add(bytes, std::memory_order_relaxed);
  }
  if (phase_ == close_phase::answering && ws_.next_layer().close_frame_flushed()) return on_close_handshake_done();
  if (const std::uint16_t code = ws_.next_layer().beast_close_code();
      code != 0 && phase_ < close_phase::answering && ws_.next_layer().close_frame_flushed())
    return on_failed_by_beast(code, {});
  if (phase_ == close_phase::sent && flushed >= our_close_end_) on_close_frame_flushed();
  // Hysteresis: resume at half the limit, so writes go out in large batches.
  if (ws_.next_layer().backlog() < limits::max_send_queue / 2) {
    if (direct_frames_ && state_ == connection_state::open && phase_ < close_phase::requested) do_io_read();
    do_ws_write();
  }
}

template <class Layer>
void session<Layer>::on_io_gone() {
  if (io_gone_) return;
  io_gone_ = true;
  // ioproc ended (stdout closed, or it died): nobody can read what the server sends.
  // Say goodbye if we can; the supervisor bounds how long that may take.
  if (state_ == connection_state::open) {
    request_close(close_going_away, "");  // going away
  } else if (state_ < connection_state::open) {
    exit_now();
  }
}

template <class Layer>
void session<Layer>::send_ping(std::string data) {
  if (state_ != connection_state::open || phase_ >= close_phase::sent) {
    return notify("ping", "the connection is not open");
  }
  if (ping_in_flight_) return notify("ping", "one ping is already on its way");
  ping_in_flight_ = true;
  ++user_pings_;
  ping_data_ = websocket::ping_data(data.substr(0, websocket::ping_data::static_capacity).c_str());
  ws_.async_ping(ping_data_, [self = this->shared_from_this()](error_code ec) {
    self->ping_in_flight_ = false;
    if (ec && self->phase_ != close_phase::finished) self->notify("ping", ec.message());
  });
}

template <class Layer>
void session<Layer>::keepalive_wait(std::chrono::steady_clock::time_point until) {
  keepalive_timer_.expires_at(until);
  keepalive_timer_.async_wait([self = this->shared_from_this()](error_code ec) {
    if (!ec) self->keepalive_tick();
  });
}

template <class Layer>
void session<Layer>::keepalive_tick() {
  if (phase_ >= close_phase::sent) return;
  const auto now = std::chrono::steady_clock::now();
  // Quiet is counted from the last byte received (the pong of our last ping included),
  // so that pings are --ping-interval apart on a connection with nothing else to say.
  const auto heard = std::max(ws_.next_layer().last_received(), keepalive_since_);
  if (keepalive_pinged_ && heard < keepalive_pinged_at_) {
    if (now - keepalive_pinged_at_ < cfg_.ping_timeout) return keepalive_wait(keepalive_pinged_at_ + cfg_.ping_timeout);
    notify("keepalive", "no answer from " + the_peer() + " for " + seconds_text(cfg_.ping_timeout) +
                            " after a ping (--ping-timeout)");
    return finish(exit_peer_dead, {close_abnormal, true, ""}, connection_state::closed);
  }
  keepalive_pinged_ = false;  // something arrived since the ping: alive
  if (now - heard < cfg_.ping_interval) return keepalive_wait(heard + cfg_.ping_interval);
  // Beast allows one ping in flight; a /ping being written counts as ours.
  if (!ping_in_flight_) {
    ping_in_flight_ = true;
    if (cfg_.show_ping_pong) notify("ping", "sent keepalive ping");
    ping_data_ = websocket::ping_data(keepalive_payload.data());
    ws_.async_ping(ping_data_, [self = this->shared_from_this()](error_code) { self->ping_in_flight_ = false; });
  }
  keepalive_pinged_ = true;
  keepalive_pinged_at_ = now;
  keepalive_wait(now + cfg_.ping_timeout);
}

template <class Layer>
void session<Layer>::on_control_read(error_code ec, std::size_t n) {
  // EOF: the supervisor is gone. PR_SET_PDEATHSIG normally kills us first; this is
  // the robust second signal (OpenSSH: EOF from the monitor means exit).
  if (ec) ::_exit(exit_process_died);
  control_decoder_.commit(n);
  ipc::frame f;
  std::string err;
  for (;;) {
    const auto r = control_decoder_.next(f, &err);
    if (r == ipc::frame_decoder::result::need_more) break;
    ipc::close_info c;
    if (r == ipc::frame_decoder::result::error || f.type != ipc::frame_type::close_request ||
        !ipc::decode_close(f.payload, c, &err))
      return protocol_error("from supervisor: " + (err.empty() ? "unexpected frame" : err));
    board_.close_requested.store(1, std::memory_order_relaxed);
    interrupted_ = true;
    request_close(c.code, c.reason);
  }
  do_control_read();
}

}  // namespace
}  // namespace wsbridge::netproc
