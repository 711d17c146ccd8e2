#include "netproc/session_end.hpp"

#include <unistd.h>

#include <cstdio>

#include "bridge/protocol/exit_codes.hpp"
#include "bridge/protocol/limits.hpp"
#include "netproc/handshake.hpp"
#include "netproc/layers.hpp"

namespace wsbridge::netproc {

session_end::session_end(const net_settings& cfg, status_board& board, io_outbox& out, supervisor_link& link)
    : leave([](int status) {
        std::fflush(stderr);
        ::_exit(status);
      }),
      cfg_(cfg),
      board_(board),
      out_(out),
      link_(link) {}

void session_end::set_state(connection_state s) {
  state_ = s;
  board_.state.store(s, std::memory_order_release);
}

void session_end::fail(const std::string& step, const std::string& detail, int status) {
  if (decided_) return;
  out_.notice(step, detail);
  finish(status, {}, connection_state::failed);
}

void session_end::finish(int status, const ipc::close_info& info, connection_state final_state, leftovers left) {
  if (decided_) return;
  decided_ = true;
  status_ = status;
  set_state(final_state);
  if (cfg_.server() && cfg_.access_log) log_access(info);
  if (cfg_.reconnect) hand_over(info, left);
  else out_.append(ipc::frame_type::closed, ipc::encode_close(info));
  leave_when_written();
}

void session_end::redirect(unsigned status, std::string_view location) {
  if (decided_) return;
  decided_ = true;
  if (cfg_.verbose)
    out_.notice("redirect", "HTTP " + std::to_string(status) + ", Location: " + std::string(location));
  // Longer than limits::max_redirect_url: its start and one byte more ("too long").
  link_.tell(ipc::frame_type::redirect,
             ipc::encode_redirect({status, std::string(location.substr(0, limits::max_redirect_url + 1))}));
  leave_when_written();
}

void session_end::leave_when_written() {
  // From here on every completed write is a chance to leave.
  out_.on_written = [this] {
    if (out_.idle()) return exit_now();
    out_.flush();
  };
  out_.on_gone = [this] { exit_now(); };
  if (out_.gone() || out_.idle()) return exit_now();
  out_.flush();
}

void session_end::exit_now() { leave(status_); }

void session_end::protocol_error(const std::string& what) {
  decided_ = true;
  out_.notice("network process", "internal protocol error " + what);
  out_.flush_now();
  leave(exit_failure);
}

void session_end::hand_over(const ipc::close_info& info, const leftovers& left) {
  report_.close = info;
  report_.unsent_messages = left.messages;
  // The supervisor reads the pipe as we write (it may hold more than the pipe does);
  // the bytes go in pieces within the codec's cap (a frame still coming may be large).
  bool ok = link_.tell(ipc::frame_type::ended, ipc::encode_end(report_));
  for (std::size_t at = 0; ok && at < left.frames.size(); at += limits::max_ipc_payload)
    ok = link_.tell(ipc::frame_type::unsent, std::string_view(left.frames).substr(at, limits::max_ipc_payload));
  if (!ok && cfg_.verbose) out_.notice("reconnect", "cannot hand the unsent messages on; they are lost");
}

void session_end::log_access(const ipc::close_info& info) {
  // One line per connection, as a web server's access log: who, what, the answer, how
  // long, the messages each way (counted as the board counts them), how it closed.
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - access_.accepted_at);
  std::string line = (access_.client.empty() ? std::string() : "for " + access_.client + " ") + "\"GET " +
                     shown_target(access_.target) + "\" " + std::to_string(access_.status) + " " +
                     seconds_text(ms) + " received " +
                     std::to_string(board_.messages_received.load(std::memory_order_relaxed)) + " sent " +
                     std::to_string(board_.messages_sent.load(std::memory_order_relaxed));
  if (access_.status == 101)
    line += info.code == 0 ? std::string(" connection lost")
                           : " close " + std::to_string(info.code) + (info.by_server ? " by client" : "");
  out_.notice("access", line);
}

}  // namespace wsbridge::netproc
