#pragma once
// The session class, shared by netproc (ws://, ws+unix://) and the TLS module (wss://,
// the same code compiled with WSBRIDGE_TLS_MODULE and OpenSSL). Its member functions
// are defined in three parts, one per stage of a connection:
//   session_connect.ipp   resolve, connect, proxy, TLS, the upgrade, redirects, sandbox
//   session_transfer.ipp  messages both ways, ioproc's frames, pings, keepalive
//   session_close.ipp     the closing handshake, timeouts, failures, the end
//   session_accept.ipp    server side (--listen): the client's upgrade request
// session.cpp and tls_session.cpp include all of it; nothing else should.

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <deque>
#include <vector>
#include <memory>
#include <type_traits>
#include <string>
#include <cerrno>
#include <charconv>
#include <optional>
#include <cstdlib>
#include <ctime>
#include <fcntl.h>
#include <sched.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bridge/common/base64.hpp"
#include "bridge/protocol/close_codes.hpp"
#include "bridge/protocol/exit_codes.hpp"
#include "bridge/common/fd_util.hpp"
#include "bridge/protocol/ipc.hpp"
#include "bridge/protocol/limits.hpp"
#include "bridge/protocol/child_fd.hpp"
#include "bridge/common/safe_text.hpp"
#include "bridge/common/version.hpp"
#include "bridge/common/sandbox.hpp"
#include "netproc/accept_path.hpp"
#include "netproc/session_transport.hpp"
#include "netproc/frame_writer.hpp"
#include "netproc/close_phase.hpp"
#include "netproc/handshake.hpp"
#include "netproc/proxy.hpp"
#include "netproc/event_loop.hpp"
#include "netproc/tls_module.hpp"

#ifdef WSBRIDGE_TLS_MODULE  // TLS is compiled into the TLS module only (tls_module.hpp)
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#endif

namespace wsbridge::netproc {
// Internal linkage: each binary has one translation unit that
// includes this (session.cpp, tls_session.cpp), and the compiler sees every use.
namespace {


namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using beast::error_code;

/// What the websocket runs on: ws:// and wss:// differ only in the layer under the
/// transport layer (TLS encrypts each batch in one SSL_write).
using plain_layer = session_transport<tcp_stream>;
#ifdef WSBRIDGE_TLS_MODULE
using tls_layer = session_transport<beast::ssl_stream<tcp_stream>>;
#else
struct tls_layer;  // wss:// runs in the TLS module; never instantiated here
#endif
using unix_stream = beast::basic_stream<net::local::stream_protocol, net::io_context::executor_type>;
using unix_layer = session_transport<unix_stream>;  ///< ws+unix://, --unix

inline std::string seconds_text(std::chrono::milliseconds d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%gs", static_cast<double>(d.count()) / 1000.0);
  return buf;
}

/// `host` as the one result of resolving it when it is an IP address, else nothing.
inline std::optional<tcp::resolver::results_type> address_literal(const std::string& host, const std::string& port) {
  error_code ec;
  const net::ip::address address = net::ip::make_address(host, ec);
  if (ec) return std::nullopt;
  unsigned number = 0;
  const auto [end, err] = std::from_chars(port.data(), port.data() + port.size(), number);
  if (err != std::errc() || end != port.data() + port.size() || number == 0 || number > 65535) return std::nullopt;
  return tcp::resolver::results_type::create(tcp::endpoint(address, static_cast<unsigned short>(number)), host, port);
}

struct outgoing {
  bool binary = false;
  std::string data;
};

template <class Layer>
class session : public std::enable_shared_from_this<session<Layer>> {
  static constexpr bool tls = std::is_same_v<Layer, tls_layer>;
  static constexpr bool local = std::is_same_v<Layer, unix_layer>;

 public:
  template <class... StreamArgs>
  session(net::io_context& ioc, const net_settings& cfg, status_board& board, StreamArgs&... stream_args)
      : cfg_(cfg),
        board_(board),
        resolver_(ioc),
        ws_(ioc, stream_args...),
        from_io_(ioc, child_fd::peer_in),
        to_io_(ioc, child_fd::peer_out),
        control_(ioc, child_fd::control_in),
        close_timer_(ioc),
        linger_timer_(ioc),
        keepalive_timer_(ioc),
        session_timer_(ioc),
        close_code_(cfg.close_code),
        close_reason_(cfg.close_reason) {}

  /// Takes a socket connected before the session started (Unix domain sockets).
  template <class Socket>
  void adopt(Socket&& socket) {
    beast::get_lowest_layer(ws_).socket() = std::move(socket);
  }

  /// --reconnect: the frames the previous netproc took from ioproc and did not send;
  /// they go first once the connection is open.
  void replay(std::string_view frames) { replay_ = frames; }

  /// Reports a failure found before starting (a bad --cacert) the usual way.
  void fail_now(const std::string& step, const std::string& detail, int status) {
    fail_before_open(step, detail, status);
  }

  void run();

  void resolve();
  /// Where to connect: the URL's host and port, unless --connect-to/--resolve says
  /// otherwise (the Host header, SNI and the certificate check keep the URL's host).
  const std::string& dial_host() const {
    return cfg_.target.connect_host.empty() ? cfg_.target.host : cfg_.target.connect_host;
  }
  const std::string& dial_port() const {
    return cfg_.target.connect_port.empty() ? cfg_.target.port : cfg_.target.connect_port;
  }

  /// Server side: the accepted socket is adopted; read and answer the upgrade request.
  void serve();

 private:
  // ---- connecting --------------------------------------------------------------

  /// Either side, first: the transport's callbacks, and the supervisor's requests.
  void start_watching();

  bool proxied() const { return cfg_.proxy.type != proxy_target::kind::none; }

  /// Resolves host:port, then calls `handler(ec, results)`. An address needs no
  /// resolver: Asio's asynchronous one starts a thread to call getaddrinfo, a tenth of
  /// the start-up of a connection to 127.0.0.1.
  template <class Handler>
  void resolve(const std::string& host, const std::string& port, Handler&& handler) {
    if (auto literal = address_literal(host, port)) return handler(error_code{}, *literal);
    resolver_.async_resolve(host, port, std::forward<Handler>(handler));
  }

  /// The proxy's addresses. For socks5:// we also resolve the server's name (the
  /// proxy gets an address); http:// and socks5h:// proxies resolve it themselves.
  void on_proxy_resolve(error_code ec, tcp::resolver::results_type results);

  void on_resolve(error_code ec, tcp::resolver::results_type results);

  void on_connect(error_code ec, tcp::endpoint ep);

  /// TCP reaches the server (directly or through a proxy's tunnel): TLS, then upgrade.
  void on_tunnel_ready() {
    if constexpr (tls) this->start_tls();  // (`this->`: declared in the TLS module only)
    else upgrade();
  }

#ifdef WSBRIDGE_TLS_MODULE
  void start_tls();

  void on_tls_handshake(error_code ec);

  /// With TLS 1.3 a server checks the client certificate after our handshake is done,
  /// so a refusal shows up at the upgrade, as the end of the TLS stream.
  bool refused_after_tls_handshake(error_code ec);
#endif

  /// The HTTP upgrade (RFC 6455 §4.1).
  void upgrade();

  /// -v: a request or response head, one notice per line ("> GET / HTTP/1.1").
  /// Credentials are not repeated on the screen.
  template <class Message>
  void show_headers(const char* dir, const Message& m);

  void on_handshake(error_code ec);

  /// The connection is open (either side): timers, the `opened` frame, reading.
  void on_open();

  /// Close frames and the pongs that answer /ping, from Beast's control callback.
  void watch_control_frames();

  // ---- server side (session_accept.ipp) ----------------------------------------

#ifdef WSBRIDGE_TLS_MODULE
  void start_server_tls();
#endif

  void read_request();

  void on_request(error_code ec, std::size_t);

  /// A refusal the session writes itself (403), at once.
  void send_refusal(const char* status, std::string_view body);

  void on_accept(error_code ec);

  /// The --exec program's environment: websocketd's variables, then WSBRIDGE_*.
  std::string program_environment(const http::request<http::empty_body>& req, const std::string& subprotocol) const;

  /// "the server", or in server mode "the client": the other end, in messages.
  std::string the_peer() const { return std::string("the ") + cfg_.peer_name(); }

  /// A client masks its frames, a server does not (RFC 6455 §5.1).
  frame_mask mask() { return cfg_.server() ? frame_mask{} : frame_mask{mask_keys_.next()}; }

  static bool is_redirect(unsigned status) {
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
  }

  /// A 3xx with a Location: hand the status and the Location, as sent, to the
  /// supervisor (a `redirect` frame), and leave. The supervisor decides (the redirect
  /// policy is its alone) and starts a fresh netproc for the new target, which resolves,
  /// connects and locks down anew (this one's sandbox can no longer open a socket).
  void report_redirect(std::string_view location);

  /// --reconnect: how the connection ended (an `ended` frame), then what was taken from
  /// ioproc but not given to the kernel (`unsent` frames), to the supervisor for the
  /// next netproc; no `closed` frame, since one may follow (reconnect.hpp).
  void hand_over_the_end(const ipc::close_info& info);
  /// One frame to the supervisor (child_fd::to_supervisor), written at once; false if
  /// it is gone.
  bool tell_supervisor(ipc::frame_type type, std::string_view payload);
  /// --reconnect: the previous netproc's leftovers (replay()), before ioproc's pipe.
  void take_replay();
  /// Decodes and handles every whole frame from ioproc received so far.
  void consume_io_frames();

  void fail_before_open(const std::string& step, const std::string& detail, int status) {
    notify(step, detail);
    finish(status, {}, connection_state::failed);
  }

  /// False when the session cannot go on (a limit could not be set; said already).
  bool lock_down();

  // ---- server -> ioproc ----------------------------------------------------------

  void do_ws_read();

  void on_ws_read(error_code ec, std::size_t n);

  /// At end of input, the connection stays open: -n/--no-close, or --max-messages
  /// whose count has not arrived yet (the answers a script asked for), unless the
  /// user closed it (Ctrl+D in terminal mode).
  bool awaiting_messages() const {
    if (close_at_once_) return false;
    if (input_refused_) return cfg_.max_messages != 0 && delivered_ < wanted_messages();
    return cfg_.no_close || (cfg_.max_messages != 0 && !max_reached_);
  }

  /// --max-messages, or after refused input no more than the messages that were sent
  /// (their answers are what the run still waits for).
  std::uint64_t wanted_messages() const {
    return input_refused_ ? std::min<std::uint64_t>(cfg_.max_messages, messages_from_io_) : cfg_.max_messages;
  }

  std::size_t io_backlog() const { return to_io_pending_.size() + to_io_writing_.size(); }

  void flush_to_io();

  void on_io_written(error_code ec, std::size_t);

  // ---- ioproc -> server ----------------------------------------------------------

  void do_io_read();

  void on_io_read(error_code ec, std::size_t n);

  /// Frames from ioproc, checked against io_frame_rule (handshake.hpp): what is
  /// accepted in which phase. Anything out of place is fatal.
  void on_io_frame(const ipc::frame& f);

  /// Where the session stands, as far as frames from ioproc are concerned.
  io_phase phase_for_io() const {
    if (input_ended_) return io_phase::input_ended;
    if (phase_ >= close_phase::requested) return io_phase::closing;
    return io_phase::open;
  }

  void do_ws_write();

  void on_ws_write(error_code ec, std::size_t);

  void on_socket_flushed();

  void on_io_gone();

  /// A ping the user asked for (/ping); its pong comes back through control_callback.
  void send_ping(std::string data);

  // ---- keepalive -----------------------------------------------------------------

  static constexpr std::string_view keepalive_payload = "wsbridge keepalive";

  void keepalive_wait(std::chrono::steady_clock::time_point until);

  /// --ping-interval I, --ping-timeout T: after I without a byte from the server, ping;
  /// if nothing at all arrives within T after that, the server is dead. Any bytes count,
  /// not only the pong: a server busy sending us a large message is alive.
  void keepalive_tick();

  // ---- supervisor -> netproc -----------------------------------------------------

  void do_control_read() {
    auto space = control_decoder_.prepare(4096);
    control_.async_read_some(net::buffer(space.data(), space.size()),
                             beast::bind_front_handler(&session::on_control_read, this->shared_from_this()));
  }

  void on_control_read(error_code ec, std::size_t n);

  // ---- closing -------------------------------------------------------------------

  /// The user wants to close now (Ctrl+C, /close, or stdout gone): whatever is still
  /// queued is not sent.
  void request_close(std::uint16_t code, std::string reason);

  /// All input is sent: close once the server has been quiet for --linger. The
  /// timer is not re-armed per message (that is a system call each); when it fires,
  /// it checks the time of the last message and waits out the rest.
  void start_linger() {
    if (!advance(close_event::linger)) return;
    if (cfg_.linger.count() == 0 || close_at_once_) return start_close();
    linger_until(std::chrono::steady_clock::now() + cfg_.linger);
  }

  void linger_until(std::chrono::steady_clock::time_point when);

  void start_close();

  /// While our Close waits behind data: every close timeout, the server must have
  /// taken some bytes, or it is declared stuck.
  void wait_for_close_flush(std::uint64_t flushed_before, int unacked_before);

  /// Our Close is in the kernel: now the server has --close-timeout to answer it,
  /// counted from when it has received everything, Close included. While the kernel
  /// still holds bytes the server has not acknowledged and that amount keeps shrinking,
  /// a slow server is working through our data, and the wait goes on.
  void on_close_frame_flushed();

  /// Until the peer has acknowledged every byte: given up on if the unacknowledged
  /// count stays put for --close-timeout.
  void wait_for_close_delivery(int unacked_before, std::chrono::steady_clock::time_point progress_at);

  /// The peer has everything: one --close-timeout for its Close.
  void wait_for_close_answer();

  /// Bytes in the kernel's send queue that the server has not acknowledged
  /// (SIOCOUTQ, for TCP and Unix stream sockets alike); 0 if it cannot tell.
  int unacknowledged() {
    int n = 0;
    if (::ioctl(beast::get_lowest_layer(ws_).socket().native_handle(), SIOCOUTQ, &n) != 0) return 0;
    return n;
  }

  /// The server's Close has arrived; Beast is replying. Nothing can follow it, so we
  /// report as soon as the reply is out, without waiting for the server to drop the
  /// TCP connection (python-websockets waits up to 10 s when its queue is full).
  void on_server_close_frame();

  void on_close_handshake_done();

  void on_lost(const char* step, error_code ec);

  /// Beast failed the connection itself (RFC 6455 §7.1.7): the server broke the
  /// protocol, and Beast sent a Close with `code`. It then waits for the server to
  /// close TCP first (§7.1.1), which a hostile server may never do, and the read may
  /// end with the teardown's error (a reset) instead of the violation. So the session
  /// ends as soon as that Close is out (on_socket_flushed), or when the read fails;
  /// `ec` names the violation when the read ended with it.
  void on_failed_by_beast(std::uint16_t code, error_code ec);

  [[noreturn]] void protocol_error(const std::string& what) {
    notify("network process", "internal protocol error " + what);
    flush_now();
    ::_exit(exit_failure);
  }

  /// Publishes the end on the board, tells ioproc (after every message before it),
  /// and exits once that is written.
  void finish(int status, const ipc::close_info& info, connection_state final_state);

  [[noreturn]] void exit_now();

  /// Server mode, -v: the connection's access-log line.
  void log_access(const ipc::close_info& info);

  /// Tells the user "wsbridge: STEP: DETAIL" through ioproc, in order with the
  /// messages (and so above the input line on a terminal); on stderr if ioproc is gone.
  /// `detail` may come from the server and is made terminal-safe.
  void notify(const std::string& step, const std::string& detail);

  /// Best effort before an abrupt exit: what is gathered for ioproc, written blocking.
  void flush_now() {
    if (!io_gone_ && !io_writing_) write_all(child_fd::peer_out, to_io_pending_);
  }

  /// Moves the closing phase on (close_phase.hpp); false when `e` changes nothing.
  bool advance(close_event e) {
    const close_phase next = after(phase_, e);
    if (next == phase_) return false;
    phase_ = next;
    return true;
  }

  void set_state(connection_state s) {
    state_ = s;
    board_.state.store(s, std::memory_order_release);
  }

  const net_settings& cfg_;
  status_board& board_;
  tcp::resolver resolver_;
  tcp::resolver::results_type proxy_results_;       ///< socks5://: the proxy, while the server resolves
  std::optional<net::ip::address> target_address_;  ///< socks5://: the server's address
  websocket::stream<Layer> ws_;
  net::posix::stream_descriptor from_io_;
  net::posix::stream_descriptor to_io_;
  net::posix::stream_descriptor control_;
  net::steady_timer close_timer_;
  net::steady_timer linger_timer_;
  net::steady_timer keepalive_timer_;
  net::steady_timer session_timer_;   ///< --timeout
  std::chrono::steady_clock::time_point keepalive_since_{};      ///< the connection opened
  std::chrono::steady_clock::time_point keepalive_pinged_at_{};  ///< our last keepalive ping
  bool keepalive_pinged_ = false;     ///< a keepalive ping is out, unanswered so far
  websocket::response_type response_;
  beast::flat_buffer read_buffer_;

  connection_state state_ = connection_state::starting;
  ipc::frame_decoder from_io_decoder_;
  ipc::frame_decoder control_decoder_{4096};
  std::deque<outgoing> queue_;        ///< read from ioproc, not yet given to Beast
  std::size_t queued_bytes_ = 0;      ///< payload bytes in queue_
  struct unflushed_message {
    std::uint64_t end_offset;         ///< session_transport::accepted() after its last byte
    std::size_t size;                 ///< payload bytes
    std::string payload = {};         ///< --reconnect: kept, to be sent again if never flushed
    bool binary = false;
  };
  std::deque<unflushed_message> unflushed_;  ///< written to the layer, not yet to the kernel
  bool direct_frames_ = false;        ///< no extension: messages framed in place
  std::uint64_t unpublished_messages_ = 0;  ///< received, not yet counted on the board
  std::uint64_t unpublished_bytes_ = 0;
  mask_keys mask_keys_;
  std::string to_io_pending_;         ///< frames for ioproc, gathering
  std::string to_io_writing_;         ///< frames for ioproc, in the write in flight

  bool ws_reading_ = false;
  bool ws_writing_ = false;
  bool io_reading_ = false;
  bool io_writing_ = false;
  bool io_gone_ = false;
  bool input_ended_ = false;
  std::string input_end_payload_;  ///< --reconnect: the input_end frame's payload, to hand on
  close_phase phase_ = close_phase::none;
  std::uint64_t our_close_end_ = 0;  ///< session_transport::accepted() after our Close frame
  bool timed_out_ = false;         ///< --timeout ended the session
  bool close_at_once_ = false; ///< input_end asked for no linger (interactive Ctrl+D)
  bool input_refused_ = false; ///< input_end said the input was refused (ipc::input_end_refused)
  bool interrupted_ = false;   ///< the supervisor asked to close (a signal)
  std::uint64_t messages_from_io_ = 0;  ///< messages taken from ioproc
  bool ping_in_flight_ = false;
  int user_pings_ = 0;         ///< /ping pongs still to come
  websocket::ping_data ping_data_;
  std::uint64_t delivered_ = 0;  ///< messages passed to ioproc, for --max-messages
  bool max_reached_ = false;     ///< --max-messages reached: closing, delivering no more
  std::chrono::steady_clock::time_point last_receive_{};  ///< last message from the server
  std::uint16_t close_code_;  ///< of our Close: --close-code, or what a close request asked for
  std::string close_reason_;  ///< likewise: --close-reason, or the request's
  int exit_status_ = exit_ok;
  // Server side.
  std::optional<http::request_parser<http::empty_body>> request_;
  std::string target_;        ///< the request's target, for the access log
  std::string program_env_;   ///< for the --exec program, in the `opened` frame
  unsigned answer_status_ = 0;  ///< 101, or the refusal's status, for the access log
  std::chrono::steady_clock::time_point accepted_at_{};
  std::chrono::steady_clock::time_point connect_deadline_{};  ///< client: --connect-timeout from the start
  std::string replay_;  ///< see replay()
  ipc::end_report end_;  ///< --reconnect: what the supervisor decides by, filled as it happens
};

/// Started as root: become nobody once the certificates are loaded and before we
/// connect (sandbox.hpp).
inline bool drop_root(const net_settings& cfg) {
  std::string err;
  if (!cfg.sandbox || sandbox::drop_root(SIGKILL, &err)) return true;
  std::fprintf(stderr, "wsbridge: network process: %s\n", err.c_str());
  return false;
}

}  // namespace
}  // namespace wsbridge::netproc
