// session<Layer>: the closing handshake, timeouts, failures, the end. Part of session_impl.hpp.
#pragma once

namespace wsbridge::netproc {
namespace {  // internal linkage: see session_impl.hpp

template <class Layer>
void session<Layer>::request_close(std::uint16_t code, std::string reason) {
  if (!advance(close_event::request)) return;
  close_code_ = code;
  close_reason_ = std::move(reason);
  if (state_ < connection_state::open) return finish(exit_ok, {}, connection_state::failed);
  do_ws_write();  // starts the close now, or after the write in flight
}

template <class Layer>
void session<Layer>::linger_until(std::chrono::steady_clock::time_point when) {
  linger_timer_.expires_at(when);
  linger_timer_.async_wait([self = this->shared_from_this()](error_code ec) {
    if (ec || self->phase_ != close_phase::lingering) return;
    const auto quiet_until = self->last_receive_ + self->cfg_.linger;
    if (quiet_until > std::chrono::steady_clock::now()) return self->linger_until(quiet_until);
    self->start_close();
  });
}

template <class Layer>
void session<Layer>::start_close() {
  const bool asked = phase_ == close_phase::requested;
  if (!advance(close_event::send)) return;
  linger_timer_.cancel();
  set_state(connection_state::closing);
  // A user who asks to close now (Ctrl+C, /close) must not wait behind a megabyte of
  // data the server is not reading; what is dropped is reported as not sent.
  if (asked) ws_.next_layer().discard_pending();
  ws_.next_layer().write_raw(make_close_frame(close_code_, close_reason_, mask()));
  our_close_end_ = ws_.next_layer().accepted();
  ws_.next_layer().drop_close_frames();
  // The close timeout counts from when our Close reaches the kernel, not from when
  // it is queued behind data a slow but live server is still taking; until then,
  // only a server that takes nothing at all for a whole close timeout is given up on.
  if (ws_.next_layer().flushed() >= our_close_end_) on_close_frame_flushed();
  else wait_for_close_flush(ws_.next_layer().flushed(), unacknowledged());
  // Reading goes on: messages the server sends before its Close are delivered.
  if (!ws_reading_ && io_backlog() < limits::max_receive_backlog) do_ws_read();
}

template <class Layer>
void session<Layer>::wait_for_close_flush(std::uint64_t flushed_before, int unacked_before) {
  close_timer_.expires_after(cfg_.close_timeout);
  close_timer_.async_wait([self = this->shared_from_this(), flushed_before, unacked_before](error_code ec) {
    if (ec || self->phase_ != close_phase::sent) return;
    // Progress is the peer acknowledging bytes (the kernel's unacknowledged count going
    // down), or the kernel taking more of ours. The second alone is not enough: with a
    // send buffer of megabytes, a peer that reads steadily frees room for our next
    // write only every few seconds.
    const std::uint64_t flushed = self->ws_.next_layer().flushed();
    const int unacked = self->unacknowledged();
    if (flushed != flushed_before || unacked < unacked_before) return self->wait_for_close_flush(flushed, unacked);
    self->notify("close", self->the_peer() + " took none of our last " +
                              std::to_string(self->ws_.next_layer().backlog() + static_cast<std::uint64_t>(unacked)) +
                              " bytes for " + seconds_text(self->cfg_.close_timeout) +
                              " (it stopped reading); our Close could not be sent");
    self->finish(exit_closed_abnormally, {close_abnormal, false, ""}, connection_state::closed);
  });
}

template <class Layer>
void session<Layer>::on_close_frame_flushed() {
  if (!advance(close_event::flushed)) return;
  if (cfg_.verbose) notify("close", "sent Close " + std::to_string(close_code_) +
                                        (close_reason_.empty() ? "" : " \"" + close_reason_ + "\""));
  wait_for_close_delivery(unacknowledged(), std::chrono::steady_clock::now());
}

template <class Layer>
void session<Layer>::wait_for_close_delivery(int unacked_before, std::chrono::steady_clock::time_point progress_at) {
  const int unacked = unacknowledged();
  if (unacked == 0) return wait_for_close_answer();  // the peer has it all, our Close too
  const auto now = std::chrono::steady_clock::now();
  if (unacked < unacked_before) progress_at = now;
  if (now - progress_at >= cfg_.close_timeout) {
    notify("close", the_peer() + " took none of our last " + std::to_string(unacked) + " bytes for " +
                        seconds_text(cfg_.close_timeout) + " (it stopped reading) and did not answer our Close");
    return finish(exit_closed_abnormally, {close_abnormal, false, ""}, connection_state::closed);
  }
  // Looked at often, so that the answer's wait starts when the last byte is taken.
  close_timer_.expires_after(std::min<std::chrono::steady_clock::duration>(
      cfg_.close_timeout - (now - progress_at), limits::close_delivery_poll));
  close_timer_.async_wait([self = this->shared_from_this(), unacked, progress_at](error_code ec) {
    if (ec || self->phase_ != close_phase::flushed) return;
    self->wait_for_close_delivery(unacked, progress_at);
  });
}

template <class Layer>
void session<Layer>::wait_for_close_answer() {
  close_timer_.expires_after(cfg_.close_timeout);
  close_timer_.async_wait([self = this->shared_from_this()](error_code ec) {
    if (ec || self->phase_ != close_phase::flushed) return;
    self->notify("close", self->the_peer() + " did not answer our Close within " + seconds_text(self->cfg_.close_timeout));
    self->finish(exit_closed_abnormally, {close_abnormal, false, ""}, connection_state::closed);
  });
}

template <class Layer>
void session<Layer>::on_server_close_frame() {
  if (phase_ == close_phase::finished) return;
  if (cfg_.verbose) {
    const auto& r = ws_.reason();
    notify("close", "received Close " + std::to_string(r.code) +
                        (r.reason.empty() ? "" : " \"" + std::string(r.reason.data(), r.reason.size()) + "\""));
  }
  // The answer to our own Close: the closing handshake is complete.
  if (our_close_sent(phase_)) return on_close_handshake_done();
  advance(close_event::server_close);
  ws_.next_layer().discard_pending();  // unsent: reported as not delivered
  close_timer_.expires_after(cfg_.close_timeout);
  close_timer_.async_wait([self = this->shared_from_this()](error_code ec) {
    if (!ec) self->on_close_handshake_done();
  });
}

template <class Layer>
void session<Layer>::on_close_handshake_done() {
  const auto& r = ws_.reason();
  const bool by_server = !our_close_sent(phase_);
  // RFC 6455 §7.1.5: a Close without a status code is reported as 1005; many servers
  // close that way, and it is a normal ending.
  const std::uint16_t code =
      r.code == websocket::close_code::none ? std::uint16_t{close_no_status} : static_cast<std::uint16_t>(r.code);
  if (by_server && ws_.next_layer().beast_close_code() == close_protocol_error && code != close_protocol_error) {
    // A code no Close frame may carry (5000 and up): the transport answered it with 1002.
    notify("read", the_peer() + " sent Close code " + std::to_string(code) +
                       ", which is not valid on the wire (RFC 6455 §7.4.2); closed with 1002 (protocol error)");
    return finish(exit_closed_abnormally, {close_protocol_error, false, ""}, connection_state::closed);
  }
  int status = exit_ok;
  if (by_server && code != close_normal && code != close_going_away && code != close_no_status) status = exit_closed_abnormally;
  if (status == exit_ok && cfg_.max_messages != 0 && delivered_ < wanted_messages()) {
    // What ended the wait: --timeout, a signal, or the peer.
    notify("max-messages", std::to_string(delivered_) + " of " + std::to_string(wanted_messages()) +
                               " messages arrived before " +
                               (timed_out_    ? "--timeout (" + seconds_text(cfg_.timeout) + ")"
                                : interrupted_ ? std::string("the interrupt")
                                               : the_peer() + " closed"));
    status = exit_incomplete;
  }
  finish(status, {code, by_server, std::string(r.reason.data(), r.reason.size())}, connection_state::closed);
}

template <class Layer>
void session<Layer>::on_lost(const char* step, error_code ec) {
  if (ec == websocket::error::message_too_big) return on_failed_by_beast(close_too_big, ec);
  if (const std::uint16_t code = ws_.next_layer().beast_close_code(); code != 0 && phase_ != close_phase::answering)
    return on_failed_by_beast(code, ec);
  std::string what = ec.message();
  if (ec == net::error::eof || ec == beast::error::timeout)
    what = the_peer() + " closed the connection without a Close frame";
  notify("connection lost", std::string(step) + ": " + what);
  finish(exit_closed_abnormally, {close_abnormal, true, ""}, connection_state::closed);
}

template <class Layer>
void session<Layer>::on_failed_by_beast(std::uint16_t code, error_code ec) {
  if (code == close_too_big) {
    notify("read", the_peer() + " sent a message larger than --max-size (" + std::to_string(cfg_.max_message) +
                       " bytes); closed with 1009 (message too big)");
  } else {
    const bool named = ec && ec.category() == websocket::make_error_code(websocket::error::closed).category();
    notify("read", the_peer() + " broke the WebSocket protocol" + (named ? " (" + ec.message() + ")" : std::string()) +
                       "; closed with " + std::to_string(code) + " (" + close_code_meaning(code) + ")");
  }
  finish(exit_closed_abnormally, {code, false, ""}, connection_state::closed);
}

template <class Layer>
void session<Layer>::finish(int status, const ipc::close_info& info, connection_state final_state) {
  if (!advance(close_event::finish)) return;
  exit_status_ = status;
  close_timer_.cancel();
  keepalive_timer_.cancel();
  session_timer_.cancel();
  set_state(final_state);
  if (cfg_.server() && cfg_.verbose) log_access(info);
  if (cfg_.reconnect) {
    hand_over_the_end(info);
    if (io_gone_ || (!io_writing_ && to_io_pending_.empty())) exit_now();
    return flush_to_io();  // on_io_written() exits once all is written
  }
  ipc::append_frame(to_io_pending_, ipc::frame_type::closed, ipc::encode_close(info));
  if (io_gone_) exit_now();
  flush_to_io();
}

template <class Layer>
void session<Layer>::hand_over_the_end(const ipc::close_info& info) {
  // In the order ioproc sent them: given to the layer but not yet to the kernel (a
  // message cut off mid-write counts as not sent: the server never had all of it),
  // then queued, then the end of input, then the start of a frame still coming.
  std::string spill;
  std::uint64_t messages = 0;
  const std::uint64_t flushed = ws_.next_layer().flushed();
  for (const auto& u : unflushed_)
    if (u.end_offset > flushed) {
      ipc::append_frame(spill, u.binary ? ipc::frame_type::binary : ipc::frame_type::text, u.payload);
      ++messages;
    }
  for (const auto& q : queue_) {
    ipc::append_frame(spill, q.binary ? ipc::frame_type::binary : ipc::frame_type::text, q.data);
    ++messages;
  }
  if (input_ended_) ipc::append_frame(spill, ipc::frame_type::input_end, input_end_payload_);
  spill.append(from_io_decoder_.undecoded());
  end_.close = info;
  end_.unsent_messages = messages;
  // The supervisor reads the pipe as we write (it may hold more than the pipe does);
  // the bytes go in pieces within the codec's cap (a frame still coming may be large).
  bool ok = tell_supervisor(ipc::frame_type::ended, ipc::encode_end(end_));
  for (std::size_t at = 0; ok && at < spill.size(); at += limits::max_ipc_payload)
    ok = tell_supervisor(ipc::frame_type::unsent, std::string_view(spill).substr(at, limits::max_ipc_payload));
  if (!ok && cfg_.verbose) notify("reconnect", "cannot hand the unsent messages on; they are lost");
}

template <class Layer>
bool session<Layer>::tell_supervisor(ipc::frame_type type, std::string_view payload) {
  std::string frame;
  ipc::append_frame(frame, type, payload);
  return write_all(child_fd::to_supervisor, frame) == 0;
}

template <class Layer>
void session<Layer>::exit_now() {
  // Leaving with _exit: no destructor may run while Beast operations are in flight
  // (beast #2747); the kernel closes the socket.
  std::fflush(stderr);
  ::_exit(exit_status_);
}

template <class Layer>
void session<Layer>::notify(const std::string& step, const std::string& detail) {
  const std::string line = step + ": " + safe_text(detail);
  if (io_gone_) {
    std::fprintf(stderr, "wsbridge: %s\n", line.c_str());
    return;
  }
  ipc::append_frame(to_io_pending_, ipc::frame_type::notice, line);
  flush_to_io();
}

template <class Layer>
void session<Layer>::log_access(const ipc::close_info& info) {
  // One line per connection, as a web server's access log: who, what, the answer, how
  // long, the messages each way (counted as the board counts them), how it closed.
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - accepted_at_);
  std::string line = "\"GET " + shown_target(target_) + "\" " + std::to_string(answer_status_) + " " +
                     seconds_text(ms) + " received " +
                     std::to_string(board_.messages_received.load(std::memory_order_relaxed) + unpublished_messages_) +
                     " sent " + std::to_string(board_.messages_sent.load(std::memory_order_relaxed));
  if (answer_status_ == 101)
    line += info.code == 0 ? std::string(" connection lost")
                           : " close " + std::to_string(info.code) + (info.by_server ? " by client" : "");
  notify("access", line);
}

}  // namespace
}  // namespace wsbridge::netproc
