#include "netproc/session.hpp"

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

#include "bridge/base64.hpp"
#include "bridge/close_codes.hpp"
#include "bridge/exit_codes.hpp"
#include "bridge/fd_util.hpp"
#include "bridge/ipc.hpp"
#include "bridge/limits.hpp"
#include "bridge/process_spawn.hpp"
#include "bridge/safe_text.hpp"
#include "bridge/sandbox.hpp"
#include "netproc/batching_stream.hpp"
#include "netproc/frame_writer.hpp"
#include "netproc/handshake.hpp"
#include "netproc/proxy.hpp"
#include "netproc/spin_policy.hpp"
#include "netproc/tls_module.hpp"

#ifdef WSBRIDGE_TLS_MODULE  // TLS is compiled into the TLS module only (tls_module.hpp)
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#endif

namespace wsbridge::netproc {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using beast::error_code;

/// What the websocket runs on: ws:// and wss:// differ only in the layer under the
/// batching layer (TLS encrypts each batch in one SSL_write).
using plain_layer = batching_stream<tcp_stream>;
#ifdef WSBRIDGE_TLS_MODULE
using tls_layer = batching_stream<beast::ssl_stream<tcp_stream>>;
#else
struct tls_layer;  // wss:// runs in the TLS module; never instantiated here
#endif
using unix_stream = beast::basic_stream<net::local::stream_protocol, net::io_context::executor_type>;
using unix_layer = batching_stream<unix_stream>;  ///< ws+unix://, --unix

std::string seconds_text(std::chrono::milliseconds d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%gs", static_cast<double>(d.count()) / 1000.0);
  return buf;
}

/// Where message completions run. Beast completes every async_read by posting its
/// handler, and Asio's scheduler runs the reactor (an epoll_wait system call) between
/// any two posted handlers: one system call per message received. Handlers bound to
/// this second io_context, which owns no I/O objects and so has no reactor, are queued
/// here instead and run by run_loop() after each handler of the main context: a burst
/// of buffered messages costs no system call at all.
net::io_context& completions() {
  static net::io_context ctx{1};
  static auto guard = net::make_work_guard(ctx);  // never "out of work": poll() keeps working
  return ctx;
}

/// The event loop: each handler of the main context, then whatever it queued on
/// completions(). Before sleeping it polls for spin_policy's window (spin_policy.hpp).
/// netproc always leaves through _exit, never by running out of work.
void run_loop(net::io_context& ioc) {
  using clock = std::chrono::steady_clock;
  spin_policy spin;
  for (;;) {
    // poll_one runs a ready handler, or the reactor without blocking.
    const auto until = clock::now() + spin.window();
    bool ran = false;
    do {
      ran = ioc.poll_one() != 0;
      if (!ran) ::sched_yield();  // a polling process gives way to any that can run
    } while (!ran && spin.window() > spin_policy::duration::zero() && clock::now() < until);
    if (!ran) {
      const auto before = clock::now();
      if (ioc.run_one() == 0) return;
      spin.slept(std::chrono::duration_cast<spin_policy::duration>(clock::now() - before));
    }
    completions().poll();
  }
}

/// `host` as the one result of resolving it when it is an IP address, else nothing.
std::optional<tcp::resolver::results_type> address_literal(const std::string& host, const std::string& port) {
  error_code ec;
  const net::ip::address address = net::ip::make_address(host, ec);
  if (ec) return std::nullopt;
  unsigned number = 0;
  const auto [end, err] = std::from_chars(port.data(), port.data() + port.size(), number);
  if (err != std::errc() || end != port.data() + port.size() || number == 0 || number > 65535) return std::nullopt;
  return tcp::resolver::results_type::create(tcp::endpoint(address, static_cast<unsigned short>(number)), host, port);
}

/// A masked client Close frame (RFC 6455 §5.5.1, masking §5.3), written by us rather
/// than by Beast's async_close; see batching_stream.hpp for why.
std::string make_close_frame(std::uint16_t code, std::string_view reason) {
  std::string payload;
  payload.push_back(static_cast<char>(code >> 8));
  payload.push_back(static_cast<char>(code & 0xff));
  payload.append(reason.substr(0, limits::max_close_reason));
  unsigned char key[4];
  random_bytes(key, sizeof key);
  std::string frame;
  frame.push_back(static_cast<char>(0x88));
  frame.push_back(static_cast<char>(0x80 | payload.size()));
  frame.append(reinterpret_cast<const char*>(key), sizeof key);
  for (std::size_t i = 0; i < payload.size(); ++i)
    frame.push_back(static_cast<char>(payload[i] ^ key[i % 4]));
  return frame;
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
  session(net::io_context& ioc, const config& cfg, status_board& board, StreamArgs&... stream_args)
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
        session_timer_(ioc) {}

  /// Takes a socket connected before the session started (Unix domain sockets).
  template <class Socket>
  void adopt(Socket&& socket) {
    beast::get_lowest_layer(ws_).socket() = std::move(socket);
  }

  /// Reports a failure found before starting (a bad --cacert) the usual way.
  void fail_now(const std::string& step, const std::string& detail, int status) {
    fail_before_open(step, detail, status);
  }

  void run() {
    ws_.next_layer().on_flushed([self = this->shared_from_this()] { self->on_socket_flushed(); });
    // Messages read from the socket gather for ioproc until we would wait for more.
    ws_.next_layer().before_wait([self = this->shared_from_this()] { self->flush_to_io(); });
    do_control_read();
    // Input is read from ioproc only once the connection is open: until then it waits
    // in the pipe (nothing is dropped), where a netproc started for a redirect finds it.
    if constexpr (local) {
      // Connected already, before root was dropped (run_session): the socket file may
      // be one only root can open.
      if (cfg_.verbose) notify("connect", "connected to " + cfg_.target.unix_path);
      if (cfg_.sandbox && !lock_down()) return;
      return on_tunnel_ready();
    } else {
      resolve();
    }
  }

  void resolve() {
    set_state(connection_state::resolving);
    if (proxied())
      return resolve(cfg_.proxy.host, cfg_.proxy.port,
                     beast::bind_front_handler(&session::on_proxy_resolve, this->shared_from_this()));
    resolve(cfg_.target.host, cfg_.target.port,
            beast::bind_front_handler(&session::on_resolve, this->shared_from_this()));
  }

 private:
  // ---- connecting --------------------------------------------------------------

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
  void on_proxy_resolve(error_code ec, tcp::resolver::results_type results) {
    if (ec) return fail_before_open("resolve", "proxy " + cfg_.proxy.host + ": " + ec.message(), exit_connect_failed);
    if (cfg_.proxy.type != proxy_target::kind::socks5) return on_resolve({}, results);
    proxy_results_ = results;
    resolve(cfg_.target.host, cfg_.target.port,
            [self = this->shared_from_this()](error_code ec, tcp::resolver::results_type r) {
              if (ec)
                return self->fail_before_open("resolve", self->cfg_.target.host + ": " + ec.message(),
                                              exit_connect_failed);
              self->target_address_ = r.begin()->endpoint().address();
              self->on_resolve({}, self->proxy_results_);
            });
  }

  void on_resolve(error_code ec, tcp::resolver::results_type results) {
    if (ec) return fail_before_open("resolve", cfg_.target.host + ": " + ec.message(), exit_connect_failed);
    set_state(connection_state::connecting);
    beast::get_lowest_layer(ws_).expires_after(cfg_.connect_timeout);
    beast::get_lowest_layer(ws_).async_connect(
        results, beast::bind_front_handler(&session::on_connect, this->shared_from_this()));
  }

  void on_connect(error_code ec, tcp::endpoint ep) {
    const std::string where =
        proxied() ? "proxy " + cfg_.proxy.host + ":" + cfg_.proxy.port : cfg_.target.host + ":" + cfg_.target.port;
    if (ec == beast::error::timeout)
      return fail_before_open("connect", where + ": timed out after " + seconds_text(cfg_.connect_timeout),
                              exit_connect_failed);
    if (ec) return fail_before_open("connect", where + ": " + ec.message(), exit_connect_failed);
    if (cfg_.verbose) notify("connect", "connected to " + ep.address().to_string() + " port " + std::to_string(ep.port()));
    // Our batching layer already gathers what is ready into one send(); Nagle's
    // algorithm would only hold back the last piece of a burst, or a lone message
    // typed at the terminal, until the server's ACK (the reference client and node's
    // ws set it too).
    error_code ignored;  // only a little slower without it
    beast::get_lowest_layer(ws_).socket().set_option(tcp::no_delay(true), ignored);
    // Connected: nothing is left to resolve, open or spawn, and the server's first byte
    // (the TLS or HTTP answer) is still to come. This is the latest safe point to lock down.
    if (cfg_.sandbox && !lock_down()) return;
    if (!proxied()) return on_tunnel_ready();
    // The proxy's answers are parsed inside the sandbox too.
    net::co_spawn(beast::get_lowest_layer(ws_).get_executor(),
                  open_proxy_tunnel(beast::get_lowest_layer(ws_), cfg_.proxy, cfg_.target.host, cfg_.target.port,
                                    target_address_),
                  [self = this->shared_from_this()](std::exception_ptr ex, std::string err) {
                    // The coroutine reports failures in `err`; an exception escaping it
                    // (none is expected) is a failure too, never an open tunnel.
                    if (ex && err.empty()) {
                      try {
                        std::rethrow_exception(ex);
                      } catch (const std::exception& e) {
                        err = e.what();
                      } catch (...) {
                        err = "unexpected failure";
                      }
                    }
                    if (!err.empty()) return self->fail_before_open("proxy", err, exit_connect_failed);
                    if (self->cfg_.verbose) self->notify("proxy", "tunnel open to " + self->cfg_.target.host + ":" +
                                                                     self->cfg_.target.port);
                    self->on_tunnel_ready();
                  });
  }

  /// TCP reaches the server (directly or through a proxy's tunnel): TLS, then upgrade.
  void on_tunnel_ready() {
    if constexpr (tls) this->start_tls();  // (`this->`: declared in the TLS module only)
    else upgrade();
  }

#ifdef WSBRIDGE_TLS_MODULE
  void start_tls() {
    set_state(connection_state::tls_handshake);
    auto& ssl = ws_.next_layer().next_layer();
    // SNI for host names (not IP literals), and OpenSSL's own host check, so that a
    // mismatch is reported as such (X509_V_ERR_HOSTNAME_MISMATCH).
    error_code ec;
    net::ip::make_address(cfg_.target.host, ec);
    const bool ip_literal = !ec;
    if (!ip_literal) SSL_set_tlsext_host_name(ssl.native_handle(), cfg_.target.host.c_str());
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl.native_handle());
    if (ip_literal) X509_VERIFY_PARAM_set1_ip_asc(param, cfg_.target.host.c_str());
    else X509_VERIFY_PARAM_set1_host(param, cfg_.target.host.c_str(), 0);
    ssl.async_handshake(net::ssl::stream_base::client,
                        beast::bind_front_handler(&session::on_tls_handshake, this->shared_from_this()));
  }

  void on_tls_handshake(error_code ec) {
    if (ec) {
      std::string what = ec.message();
      const long v = SSL_get_verify_result(ws_.next_layer().next_layer().native_handle());
      if (v != X509_V_OK) what = std::string("certificate verify failed: ") + X509_verify_cert_error_string(v);
      else if (ec == beast::error::timeout) what = "timed out after " + seconds_text(cfg_.connect_timeout);
      return fail_before_open("tls", what, exit_connect_failed);
    }
    upgrade();
  }

  /// With TLS 1.3 a server checks the client certificate after our handshake is done,
  /// so a refusal shows up at the upgrade, as the end of the TLS stream.
  bool refused_after_tls_handshake(error_code ec) {
    if (ec != net::ssl::error::stream_truncated) return false;
    std::string what = "the server ended the TLS connection without answering";
    if (cfg_.cert.empty()) what += " (does it require a client certificate? see --cert)";
    fail_before_open("handshake", what, exit_handshake_rejected);
    return true;
  }
#endif

  /// The HTTP upgrade (RFC 6455 §4.1).
  void upgrade() {
    // The tcp_stream deadline and the websocket timeouts do not mix (beast #1726).
    beast::get_lowest_layer(ws_).expires_never();
    ws_.set_option(websocket::stream_base::timeout{
        std::chrono::duration_cast<std::chrono::steady_clock::duration>(limits::handshake_timeout),
        websocket::stream_base::none(), false});
    ws_.set_option(websocket::stream_base::decorator([this](websocket::request_type& req) {
      req.set(http::field::user_agent, std::string("wsbridge/") + WSBRIDGE_VERSION);
      if (!cfg_.origin.empty()) req.set(http::field::origin, cfg_.origin);
      // Basic auth (RFC 7617) from --user or the URL; -H Authorization may override it.
      if (const std::string& cred = cfg_.user.empty() ? cfg_.target.userinfo : cfg_.user; !cred.empty()) {
        std::string value = "Basic ";
        append_base64(value, cred);
        req.set(http::field::authorization, value);
      }
      if (!cfg_.subprotocols.empty()) {
        std::string offer;
        for (const auto& p : cfg_.subprotocols) offer += (offer.empty() ? "" : ", ") + p;
        req.set(http::field::sec_websocket_protocol, offer);
      }
      for (const auto& [name, value] : cfg_.headers) req.set(name, value);  // -H last: it may override
      if (cfg_.verbose) show_headers(">", req);
    }));
    ws_.read_message_max(cfg_.max_message);
    if (cfg_.compress) {
      // permessage-deflate (RFC 7692) is offered; the server decides.
      websocket::permessage_deflate pmd;
      pmd.client_enable = true;
      ws_.set_option(pmd);
    }
    ws_.control_callback([this](websocket::frame_type kind, beast::string_view payload) {
      if (kind == websocket::frame_type::close) on_server_close_frame();
      // Only pongs answering the user's /ping go to ioproc, not those of keepalive pings.
      if (kind == websocket::frame_type::pong && user_pings_ > 0 && !io_gone_ &&
          std::string_view(payload.data(), payload.size()) != keepalive_payload) {
        --user_pings_;
        ipc::append_frame(to_io_pending_, ipc::frame_type::pong, std::string_view(payload.data(), payload.size()));
        flush_to_io();
      }
    });
    set_state(connection_state::upgrading);
    ws_.next_layer().stop_after_refusal();
    ws_.async_handshake(response_, cfg_.target.host_header, cfg_.target.resource,
                        beast::bind_front_handler(&session::on_handshake, this->shared_from_this()));
  }

  /// -v: a request or response head, one notice per line ("> GET / HTTP/1.1").
  /// Credentials are not repeated on the screen.
  template <class Message>
  void show_headers(const char* dir, const Message& m) {
    std::string first;
    if constexpr (Message::is_request::value)
      first = std::string(m.method_string()) + " " + std::string(m.target()) + " HTTP/1.1";
    else
      first = "HTTP/1.1 " + std::to_string(m.result_int()) + " " + std::string(m.reason());
    notify("handshake", std::string(dir) + " " + first);
    for (const auto& field : m)
      notify("handshake", std::string(dir) + " " + std::string(field.name_string()) + ": " +
                              shown_header_value(field.name_string(), field.value()));
  }

  void on_handshake(error_code ec) {
    if (cfg_.verbose && response_.result_int() != 0) show_headers("<", response_);
    if (ec == websocket::error::upgrade_declined && is_redirect(response_.result_int()) &&
        response_.find(http::field::location) != response_.end() && cfg_.max_redirects > 0)
      return follow_redirect(std::string(response_[http::field::location]));
    if (ec == websocket::error::upgrade_declined) {
      std::string what = "server answered HTTP " + std::to_string(response_.result_int());
      if (!response_.reason().empty()) what += " " + std::string(response_.reason());
      if (auto loc = response_.find(http::field::location); loc != response_.end())
        what += " (Location: " + std::string(loc->value()) + ")";
      return fail_before_open("handshake", what, exit_handshake_rejected);
    }
    if (ec == beast::error::timeout)
      return fail_before_open("handshake", "no answer to the upgrade request within " +
                                               seconds_text(limits::handshake_timeout), exit_handshake_rejected);
    if (ec.category() == error_code(http::error::bad_value).category())
      return fail_before_open("handshake", "the server's answer is not valid HTTP (" + ec.message() + ")",
                              exit_handshake_rejected);
    if constexpr (tls)
      if (this->refused_after_tls_handshake(ec)) return;
    if (ec) return fail_before_open("handshake", ec.message(), exit_handshake_rejected);
    // RFC 6455 §4.1: a subprotocol we did not offer fails the connection.
    if (const auto chosen = response_[http::field::sec_websocket_protocol]; !chosen.empty()) {
      bool offered = false;
      for (const auto& p : cfg_.subprotocols) offered = offered || p == chosen;
      if (!offered) {
        return fail_before_open("handshake", "the server chose subprotocol '" + std::string(chosen) +
                                                 "', which was not offered", exit_handshake_rejected);
      }
    }

    // RFC 6455 §9.1: an extension the client did not offer fails the connection (Beast
    // looks only for the permessage-deflate it offered and ignores the rest).
    if (const auto ext = response_[http::field::sec_websocket_extensions]; !ext.empty()) {
      if (const std::string bad = unoffered_extension(ext, cfg_.compress); !bad.empty())
        return fail_before_open("handshake", "the server accepted extension '" + bad + "', which was not offered" +
                                                 (cfg_.compress || bad != "permessage-deflate" ? "" : " (--no-compress)"),
                                exit_handshake_rejected);
    }

    // From here on the timeout bounds closing handshakes the server starts. Keepalive
    // is ours (keepalive_tick), not Beast's idle timer, which ties the time a ping may
    // go unanswered to the interval.
    ws_.set_option(websocket::stream_base::timeout{
        std::chrono::duration_cast<std::chrono::steady_clock::duration>(cfg_.close_timeout),
        websocket::stream_base::none(), false});
    if (cfg_.ping_interval.count() != 0) keepalive_wait(cfg_.ping_interval);
    if (cfg_.timeout.count() != 0) {
      session_timer_.expires_after(cfg_.timeout);
      session_timer_.async_wait([self = this->shared_from_this()](error_code ec) {
        if (ec || self->finishing_ || self->close_requested_) return;
        self->timed_out_ = true;
        if (self->cfg_.verbose) self->notify("timeout", "closing after " + seconds_text(self->cfg_.timeout) + " (--timeout)");
        self->request_close(close_normal, "");
      });
    }
    // No extension in use: messages are framed here (frame_writer.hpp), not by Beast.
    direct_frames_ = response_[http::field::sec_websocket_extensions].empty();
    board_.opened.store(1, std::memory_order_relaxed);
    set_state(connection_state::open);
    std::string info = std::string(response_[http::field::sec_websocket_protocol]) + "\n" +
                       std::string(response_[http::field::sec_websocket_extensions]);
    if (cfg_.verbose) {
      const auto ext = response_[http::field::sec_websocket_extensions];
      const auto proto = response_[http::field::sec_websocket_protocol];
      notify("handshake", "open; subprotocol: " + (proto.empty() ? std::string("none") : std::string(proto)) +
                              "; extensions: " + (ext.empty() ? std::string("none") : std::string(ext)));
    }
    ipc::append_frame(to_io_pending_, ipc::frame_type::opened, info);
    flush_to_io();
    do_ws_read();
    do_io_read();
  }

  static bool is_redirect(unsigned status) {
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
  }

  /// A 3xx with a Location: check it, hand it to the supervisor through the board, and
  /// leave. The supervisor starts a fresh netproc for it, which resolves, connects and
  /// locks down anew (this one's sandbox can no longer open a socket, by design).
  void follow_redirect(const std::string& location) {
    const std::string status = std::to_string(response_.result_int());
    const auto fail = [&](const std::string& why) {
      fail_before_open("handshake", "server answered HTTP " + status + " (Location: " + location + "): " + why,
                       exit_handshake_rejected);
    };
    std::string url, why;
    if (!resolve_redirect(cfg_.target, location, cfg_.redirects, cfg_.max_redirects, url, &why)) return fail(why);
    ws_target target;
    if (!parse_ws_url(url, target, &why)) return fail(why);  // resolve_redirect parsed it: cannot fail
    if (cfg_.verbose) notify("redirect", "HTTP " + status + " to " + safe_text(target.display));
    std::memcpy(board_.redirect_url, url.data(), url.size());
    board_.redirect_size.store(static_cast<std::uint32_t>(url.size()), std::memory_order_release);
    // Leave once every notice is written (no `closed` frame: the next netproc goes on).
    finishing_ = true;
    exit_status_ = exit_redirect;
    if (!io_writing_ && to_io_pending_.empty()) exit_now();
    flush_to_io();
  }

  void fail_before_open(const std::string& step, const std::string& detail, int status) {
    notify(step, detail);
    finish(status, {}, connection_state::failed);
  }

  /// False when the session cannot go on (a limit could not be set; said already).
  bool lock_down() {
    std::string applied, err;
    const std::string user = "uid " + std::to_string(::geteuid());  // before the filter
    bool fatal = false;
    if (!sandbox::lock_down_network_process(board_, &applied, &err, &fatal)) {
      if (fatal) {
        fail_before_open("sandbox", err, exit_failure);
        return false;
      }
      notify("sandbox", err + "; going on without it");
    }
    else if (cfg_.verbose)
      notify("sandbox", "network process: " + user + ", " + applied);
#ifdef WSBRIDGE_TEST_HOOKS
    // Test builds only: try a call the sandbox must refuse, and say what happened.
    if (const char* probe = std::getenv("WSBRIDGE_TEST_NETPROC_PROBE")) {
      const std::string what = probe;
      if (what == "open") {
        const int fd = ::open("/etc/hostname", O_RDONLY);
        notify("sandbox probe", fd >= 0 ? "open: allowed" : "open: " + errno_text(errno));
      } else if (what == "socket") {
        const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        notify("sandbox probe", fd >= 0 ? "socket: allowed" : "socket: " + errno_text(errno));
      } else if (what == "abort") {  // what a failed allocation ends in
        flush_now();
        std::abort();
      } else if (what == "exec") {
        flush_now();
        char* const argv[] = {const_cast<char*>("/bin/true"), nullptr};
        ::execv("/bin/true", argv);
        notify("sandbox probe", "exec: " + errno_text(errno));
      }
    }
#endif
    return true;
  }

  // ---- server -> ioproc ----------------------------------------------------------

  void do_ws_read() {
    ws_reading_ = true;
    ws_.async_read(read_buffer_, net::bind_executor(completions().get_executor(),
                                                    beast::bind_front_handler(&session::on_ws_read,
                                                                              this->shared_from_this())));
  }

  void on_ws_read(error_code ec, std::size_t n) {
    ws_reading_ = false;
    if (finishing_) return;
    if (ec == websocket::error::closed) return on_close_handshake_done();
    if (ec) return on_lost("read", ec);
    if (max_reached_) {
      read_buffer_.consume(read_buffer_.size());
      return do_ws_read();
    }
    const auto type = ws_.got_text() ? ipc::frame_type::text : ipc::frame_type::binary;
    ipc::append_header(to_io_pending_, type, n);
    const auto data = read_buffer_.cdata();
    to_io_pending_.append(static_cast<const char*>(data.data()), data.size());
    read_buffer_.consume(read_buffer_.size());
    // Counted on the board with the flush that hands them to ioproc (flush_to_io).
    ++unpublished_messages_;
    unpublished_bytes_ += n;
    if (lingering_) last_receive_ = std::chrono::steady_clock::now();  // lingering waits for quiet
    if (cfg_.max_messages != 0 && ++delivered_ >= cfg_.max_messages) {
      // --max-messages: that was the last one. Close now; what the server sends before
      // its Close answer is read (the closing handshake needs it) but not delivered.
      flush_to_io();
      max_reached_ = true;
      request_close(close_normal, "");
      if (!ws_reading_) do_ws_read();
      return;
    }
    if (to_io_pending_.size() >= limits::read_chunk) flush_to_io();
    // Backpressure: a slow stdout consumer stops us reading the socket, and TCP
    // then slows the server. Reading resumes in on_io_written().
    if (io_backlog() < limits::max_receive_backlog) do_ws_read();
  }

  /// At end of input, the connection stays open: -n/--no-close, or --max-messages
  /// whose count has not arrived yet (the answers a script asked for), unless the
  /// user closed it (Ctrl+D in terminal mode).
  bool awaiting_messages() const {
    if (close_at_once_) return false;
    return cfg_.no_close || (cfg_.max_messages != 0 && !max_reached_);
  }

  std::size_t io_backlog() const { return to_io_pending_.size() + to_io_writing_.size(); }

  void flush_to_io() {
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

  void on_io_written(error_code ec, std::size_t) {
    io_writing_ = false;
    to_io_writing_.clear();
    if (ec) {
      // ioproc has gone (its output was closed or it died); the supervisor knows.
      if (finishing_) exit_now();
      return on_io_gone();
    }
    if (finishing_) {
      if (to_io_pending_.empty()) exit_now();
      flush_to_io();
      return;
    }
    flush_to_io();
    if (!ws_reading_ && state_ >= connection_state::open && io_backlog() < limits::max_receive_backlog)
      do_ws_read();
  }

  // ---- ioproc -> server ----------------------------------------------------------

  void do_io_read() {
    if (io_reading_ || io_gone_) return;
    io_reading_ = true;
    auto space = from_io_decoder_.prepare();
    from_io_decoder_.first_read_from(child_fd::peer_in);
    from_io_.async_read_some(net::buffer(space.data(), space.size()),
                             beast::bind_front_handler(&session::on_io_read, this->shared_from_this()));
  }

  void on_io_read(error_code ec, std::size_t n) {
    io_reading_ = false;
    if (ec) return on_io_gone();
    from_io_decoder_.commit(n);
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

  /// Frames from ioproc, checked against io_frame_rule (handshake.hpp): what is
  /// accepted in which phase. Anything out of place is fatal.
  void on_io_frame(const ipc::frame& f) {
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
        if (direct_frames_ && queue_.empty() && !close_sent_) {
          auto& out = ws_.next_layer().pending_buffer();
          const std::size_t before = out.size();
          append_client_frame(out, f.type == ipc::frame_type::binary, f.payload, mask_keys_.next());
          ws_.next_layer().frames_appended(out.size() - before);
          // Counted once the kernel has its last byte (on_socket_flushed): per message,
          // so that a connection lost mid-write reports exactly what was not sent.
          unflushed_.push_back({ws_.next_layer().accepted(), f.payload.size()});
          return;
        }
        queued_bytes_ += f.payload.size();
        queue_.push_back({f.type == ipc::frame_type::binary, std::string(f.payload)});
        return;
      case ipc::frame_type::input_end:
        input_ended_ = true;
        close_at_once_ = f.payload == ipc::input_end_close_now;
        return;
      case ipc::frame_type::ping:
        return send_ping(std::string(f.payload));
      case ipc::frame_type::close_request: {
        ipc::close_info c;
        std::string err;
        if (!ipc::decode_close(f.payload, c, &err)) protocol_error("from the I/O process: " + err);
        request_close(c.code, c.reason);
        return;
      }
      default:
        protocol_error(std::string("unexpected ") + ipc::to_string(f.type) + " frame from the I/O process");
    }
  }

  /// Where the session stands, as far as frames from ioproc are concerned.
  io_phase phase_for_io() const {
    if (input_ended_) return io_phase::input_ended;
    if (close_requested_ || close_sent_ || server_closed_) return io_phase::closing;
    return io_phase::open;
  }

  void do_ws_write() {
    if (ws_writing_ || state_ != connection_state::open || finishing_ || server_closed_) return;
    if (close_requested_) return start_close();
    if (queue_.empty()) {
      ws_.next_layer().release();  // the burst is over: write it out
      if (input_ended_ && !lingering_ && !awaiting_messages()) start_linger();
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

  void on_ws_write(error_code ec, std::size_t) {
    ws_writing_ = false;
    if (finishing_) return;
    // A failed write means the connection is going; the read side reports why.
    if (ec) return;
    const std::size_t size = queue_.front().data.size();
    queued_bytes_ -= size;
    queue_.pop_front();
    // Counted as sent only once the kernel has the bytes (on_socket_flushed).
    unflushed_.push_back({ws_.next_layer().accepted(), size});
    if (queued_bytes_ < limits::max_send_queue / 2) do_io_read();
    do_ws_write();
  }

  void on_socket_flushed() {
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
    if (server_closed_ && ws_.next_layer().close_frame_flushed()) return on_close_handshake_done();
    if (const std::uint16_t code = ws_.next_layer().beast_close_code();
        code != 0 && !server_closed_ && !finishing_ && ws_.next_layer().close_frame_flushed())
      return on_failed_by_beast(code, {});
    if (close_sent_ && !close_flushed_ && flushed >= our_close_end_ && !finishing_) on_close_frame_flushed();
    // Hysteresis: resume at half the limit, so writes go out in large batches.
    if (ws_.next_layer().backlog() < limits::max_send_queue / 2) {
      if (direct_frames_ && state_ == connection_state::open && !close_requested_) do_io_read();
      do_ws_write();
    }
  }

  void on_io_gone() {
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

  /// A ping the user asked for (/ping); its pong comes back through control_callback.
  void send_ping(std::string data) {
    if (state_ != connection_state::open || server_closed_ || close_sent_) {
      return notify("ping", "the connection is not open");
    }
    if (ping_in_flight_) return notify("ping", "one ping is already on its way");
    ping_in_flight_ = true;
    ++user_pings_;
    ping_data_ = websocket::ping_data(data.substr(0, websocket::ping_data::static_capacity).c_str());
    ws_.async_ping(ping_data_, [self = this->shared_from_this()](error_code ec) {
      self->ping_in_flight_ = false;
      if (ec && !self->finishing_) self->notify("ping", ec.message());
    });
  }

  // ---- keepalive -----------------------------------------------------------------

  static constexpr std::string_view keepalive_payload = "wsbridge keepalive";

  void keepalive_wait(std::chrono::milliseconds d) {
    keepalive_timer_.expires_after(d);
    keepalive_timer_.async_wait([self = this->shared_from_this()](error_code ec) {
      if (!ec) self->keepalive_tick();
    });
  }

  /// --ping-interval I, --ping-timeout T: after I without a byte from the server, ping;
  /// if nothing at all arrives within T after that, the server is dead. Any bytes count,
  /// not only the pong: a server busy sending us a large message is alive.
  void keepalive_tick() {
    if (finishing_ || close_sent_ || server_closed_) return;
    const std::uint64_t received = ws_.next_layer().received();
    if (received != keepalive_seen_) {  // traffic since the last look: all is well
      keepalive_seen_ = received;
      keepalive_pinged_ = false;
      return keepalive_wait(cfg_.ping_interval);
    }
    if (keepalive_pinged_) {
      notify("keepalive", "no answer from the server for " + seconds_text(cfg_.ping_timeout) +
                              " after a ping (--ping-timeout)");
      return finish(exit_peer_dead, {close_abnormal, true, ""}, connection_state::closed);
    }
    // Beast allows one ping in flight; a /ping being written counts as ours.
    if (!ping_in_flight_) {
      ping_in_flight_ = true;
      ping_data_ = websocket::ping_data(keepalive_payload.data());
      ws_.async_ping(ping_data_, [self = this->shared_from_this()](error_code) { self->ping_in_flight_ = false; });
    }
    keepalive_pinged_ = true;
    keepalive_wait(cfg_.ping_timeout);
  }

  // ---- supervisor -> netproc -----------------------------------------------------

  void do_control_read() {
    auto space = control_decoder_.prepare(4096);
    control_.async_read_some(net::buffer(space.data(), space.size()),
                             beast::bind_front_handler(&session::on_control_read, this->shared_from_this()));
  }

  void on_control_read(error_code ec, std::size_t n) {
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
      request_close(c.code, c.reason);
    }
    do_control_read();
  }

  // ---- closing -------------------------------------------------------------------

  /// The user wants to close now (Ctrl+C, /close, or stdout gone): whatever is still
  /// queued is not sent.
  void request_close(std::uint16_t code, std::string reason) {
    if (close_requested_) return;
    close_requested_ = true;
    close_code_ = code;
    close_reason_ = std::move(reason);
    if (state_ < connection_state::open) return finish(exit_ok, {}, connection_state::failed);
    do_ws_write();  // starts the close now, or after the write in flight
  }

  /// All input is sent: close once the server has been quiet for --linger. The
  /// timer is not re-armed per message (that is a system call each); when it fires,
  /// it checks the time of the last message and waits out the rest.
  void start_linger() {
    lingering_ = true;
    if (cfg_.linger.count() == 0 || close_at_once_) return start_close();
    linger_until(std::chrono::steady_clock::now() + cfg_.linger);
  }

  void linger_until(std::chrono::steady_clock::time_point when) {
    linger_timer_.expires_at(when);
    linger_timer_.async_wait([self = this->shared_from_this()](error_code ec) {
      if (ec || self->finishing_) return;
      const auto quiet_until = self->last_receive_ + self->cfg_.linger;
      if (quiet_until > std::chrono::steady_clock::now()) return self->linger_until(quiet_until);
      self->start_close();
    });
  }

  void start_close() {
    if (close_sent_) return;
    close_sent_ = true;
    linger_timer_.cancel();
    set_state(connection_state::closing);
    // A user who asks to close now (Ctrl+C, /close) must not wait behind a megabyte of
    // data the server is not reading; what is dropped is reported as not sent.
    if (close_requested_) ws_.next_layer().discard_pending();
    ws_.next_layer().write_raw(make_close_frame(close_code_, close_reason_));
    our_close_end_ = ws_.next_layer().accepted();
    ws_.next_layer().drop_close_frames();
    // The close timeout counts from when our Close reaches the kernel, not from when
    // it is queued behind data a slow but live server is still taking; until then,
    // only a server that takes nothing at all for a whole close timeout is given up on.
    if (ws_.next_layer().flushed() >= our_close_end_) on_close_frame_flushed();
    else wait_for_close_flush(ws_.next_layer().flushed());
    // Reading goes on: messages the server sends before its Close are delivered.
    if (!ws_reading_ && io_backlog() < limits::max_receive_backlog) do_ws_read();
  }

  /// While our Close waits behind data: every close timeout, the server must have
  /// taken some bytes, or it is declared stuck.
  void wait_for_close_flush(std::uint64_t flushed_before) {
    close_timer_.expires_after(cfg_.close_timeout);
    close_timer_.async_wait([self = this->shared_from_this(), flushed_before](error_code ec) {
      if (ec || self->finishing_ || self->close_flushed_) return;
      const std::uint64_t now = self->ws_.next_layer().flushed();
      if (now != flushed_before) return self->wait_for_close_flush(now);
      self->notify("close", "the server took none of our last " + std::to_string(self->ws_.next_layer().backlog()) +
                                " bytes for " + seconds_text(self->cfg_.close_timeout) +
                                " (it stopped reading); our Close could not be sent");
      self->finish(exit_closed_abnormally, {close_abnormal, false, ""}, connection_state::closed);
    });
  }

  /// Our Close is in the kernel: now the server has --close-timeout to answer it,
  /// counted from when it has received everything, Close included. While the kernel
  /// still holds bytes the server has not acknowledged and that amount keeps shrinking,
  /// a slow server is working through our data, and the wait goes on.
  void on_close_frame_flushed() {
    close_flushed_ = true;
    if (cfg_.verbose) notify("close", "sent Close " + std::to_string(close_code_) +
                                          (close_reason_.empty() ? "" : " \"" + close_reason_ + "\""));
    wait_for_close_answer(unacknowledged());
  }

  void wait_for_close_answer(int unacked_before) {
    close_timer_.expires_after(cfg_.close_timeout);
    close_timer_.async_wait([self = this->shared_from_this(), unacked_before](error_code ec) {
      if (ec || self->finishing_) return;
      const int unacked = self->unacknowledged();
      // Progress, or the last bytes were taken during this wait: a full wait more.
      if ((unacked > 0 && unacked < unacked_before) || (unacked == 0 && unacked_before > 0))
        return self->wait_for_close_answer(unacked);
      self->notify("close", unacked > 0 ? "the server took none of our last " + std::to_string(unacked) +
                                              " bytes for " + seconds_text(self->cfg_.close_timeout) +
                                              " (it stopped reading) and did not answer our Close"
                                        : "the server did not answer our Close within " +
                                              seconds_text(self->cfg_.close_timeout));
      self->finish(exit_closed_abnormally, {close_abnormal, false, ""}, connection_state::closed);
    });
  }

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
  void on_server_close_frame() {
    server_closed_ = true;
    if (cfg_.verbose) {
      const auto& r = ws_.reason();
      notify("close", "received Close " + std::to_string(r.code) +
                          (r.reason.empty() ? "" : " \"" + std::string(r.reason.data(), r.reason.size()) + "\""));
    }
    // The answer to our own Close: the closing handshake is complete.
    if (close_sent_) return on_close_handshake_done();
    ws_.next_layer().discard_pending();  // unsent: reported as not delivered
    close_timer_.expires_after(cfg_.close_timeout);
    close_timer_.async_wait([self = this->shared_from_this()](error_code ec) {
      if (!ec) self->on_close_handshake_done();
    });
  }

  void on_close_handshake_done() {
    const auto& r = ws_.reason();
    const bool by_server = !close_sent_;
    // RFC 6455 §7.1.5: a Close without a status code is reported as 1005; many servers
    // close that way, and it is a normal ending.
    const std::uint16_t code =
        r.code == websocket::close_code::none ? std::uint16_t{close_no_status} : static_cast<std::uint16_t>(r.code);
    int status = exit_ok;
    if (by_server && code != close_normal && code != close_going_away && code != close_no_status) status = exit_closed_abnormally;
    if (status == exit_ok && cfg_.max_messages != 0 && delivered_ < cfg_.max_messages) {
      notify("max-messages", std::to_string(delivered_) + " of " + std::to_string(cfg_.max_messages) +
                                 " messages arrived before " +
                                 (timed_out_ ? "--timeout (" + seconds_text(cfg_.timeout) + ")" : std::string("the server closed")));
      status = exit_incomplete;
    }
    finish(status, {code, by_server, std::string(r.reason.data(), r.reason.size())}, connection_state::closed);
  }

  void on_lost(const char* step, error_code ec) {
    if (ec == websocket::error::message_too_big) return on_failed_by_beast(close_too_big, ec);
    if (const std::uint16_t code = ws_.next_layer().beast_close_code(); code != 0 && !server_closed_)
      return on_failed_by_beast(code, ec);
    std::string what = ec.message();
    if (ec == net::error::eof || ec == beast::error::timeout)
      what = "the server closed the connection without a Close frame";
    notify("connection lost", std::string(step) + ": " + what);
    finish(exit_closed_abnormally, {close_abnormal, true, ""}, connection_state::closed);
  }

  /// Beast failed the connection itself (RFC 6455 §7.1.7): the server broke the
  /// protocol, and Beast sent a Close with `code`. It then waits for the server to
  /// close TCP first (§7.1.1), which a hostile server may never do, and the read may
  /// end with the teardown's error (a reset) instead of the violation. So the session
  /// ends as soon as that Close is out (on_socket_flushed), or when the read fails;
  /// `ec` names the violation when the read ended with it.
  void on_failed_by_beast(std::uint16_t code, error_code ec) {
    if (code == close_too_big) {
      notify("read", "the server sent a message larger than --max-size (" + std::to_string(cfg_.max_message) +
                         " bytes); closed with 1009 (message too big)");
    } else {
      const bool named = ec && ec.category() == websocket::make_error_code(websocket::error::closed).category();
      notify("read", "the server broke the WebSocket protocol" + (named ? " (" + ec.message() + ")" : std::string()) +
                         "; closed with " + std::to_string(code) + " (" + close_code_meaning(code) + ")");
    }
    finish(exit_closed_abnormally, {code, false, ""}, connection_state::closed);
  }

  [[noreturn]] void protocol_error(const std::string& what) {
    notify("network process", "internal protocol error " + what);
    flush_now();
    ::_exit(exit_failure);
  }

  /// Publishes the end on the board, tells ioproc (after every message before it),
  /// and exits once that is written.
  void finish(int status, const ipc::close_info& info, connection_state final_state) {
    if (finishing_) return;
    finishing_ = true;
    exit_status_ = status;
    close_timer_.cancel();
    keepalive_timer_.cancel();
    session_timer_.cancel();
    state_ = final_state;
    board_.state.store(final_state, std::memory_order_release);
    ipc::append_frame(to_io_pending_, ipc::frame_type::closed, ipc::encode_close(info));
    if (io_gone_) exit_now();
    flush_to_io();
  }

  [[noreturn]] void exit_now() {
    // Leaving with _exit: no destructor may run while Beast operations are in flight
    // (beast #2747); the kernel closes the socket.
    std::fflush(stderr);
    ::_exit(exit_status_);
  }

  /// Tells the user "wsbridge: STEP: DETAIL" through ioproc, in order with the
  /// messages (and so above the input line on a terminal); on stderr if ioproc is gone.
  /// `detail` may come from the server and is made terminal-safe.
  void notify(const std::string& step, const std::string& detail) {
    const std::string line = step + ": " + safe_text(detail);
    if (io_gone_) {
      std::fprintf(stderr, "wsbridge: %s\n", line.c_str());
      return;
    }
    ipc::append_frame(to_io_pending_, ipc::frame_type::notice, line);
    flush_to_io();
  }

  /// Best effort before an abrupt exit: what is gathered for ioproc, written blocking.
  void flush_now() {
    if (!io_gone_ && !io_writing_) write_all(child_fd::peer_out, to_io_pending_);
  }

  void set_state(connection_state s) {
    state_ = s;
    board_.state.store(s, std::memory_order_release);
  }

  const config& cfg_;
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
  std::uint64_t keepalive_seen_ = 0;  ///< bytes received at the last keepalive look
  bool keepalive_pinged_ = false;     ///< a keepalive ping is out, unanswered so far
  websocket::response_type response_;
  beast::flat_buffer read_buffer_;

  connection_state state_ = connection_state::starting;
  ipc::frame_decoder from_io_decoder_;
  ipc::frame_decoder control_decoder_{4096};
  std::deque<outgoing> queue_;        ///< read from ioproc, not yet given to Beast
  std::size_t queued_bytes_ = 0;      ///< payload bytes in queue_
  struct unflushed_message {
    std::uint64_t end_offset;         ///< batching_stream::accepted() after its last byte
    std::size_t size;                 ///< payload bytes
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
  bool close_requested_ = false;
  bool close_sent_ = false;
  bool close_flushed_ = false;     ///< our Close frame is in the kernel (the close timeout runs)
  std::uint64_t our_close_end_ = 0;  ///< batching_stream::accepted() after our Close frame
  bool timed_out_ = false;         ///< --timeout ended the session
  bool server_closed_ = false; ///< the server's Close frame arrived
  bool close_at_once_ = false; ///< input_end asked for no linger (interactive Ctrl+D)
  bool ping_in_flight_ = false;
  int user_pings_ = 0;         ///< /ping pongs still to come
  websocket::ping_data ping_data_;
  bool lingering_ = false;     ///< input all sent; waiting for the server to go quiet
  std::uint64_t delivered_ = 0;  ///< messages passed to ioproc, for --max-messages
  bool max_reached_ = false;     ///< --max-messages reached: closing, delivering no more
  std::chrono::steady_clock::time_point last_receive_{};  ///< last message from the server
  bool finishing_ = false;
  std::uint16_t close_code_ = close_normal;
  std::string close_reason_;
  int exit_status_ = exit_ok;
};

}  // namespace

/// Started as root: become nobody once the certificates are loaded and before we
/// connect (sandbox.hpp).
bool drop_root(const config& cfg) {
  std::string err;
  if (!cfg.sandbox || sandbox::drop_root(SIGKILL, &err)) return true;
  std::fprintf(stderr, "wsbridge: network process: %s\n", err.c_str());
  return false;
}

#ifdef WSBRIDGE_TLS_MODULE

/// The TLS client context: peer verified by default against the system's CA bundle,
/// loaded now (before the sandbox) rather than looked up lazily on disk during the
/// handshake. Returns false and fills *err.
bool make_tls_context(const config& cfg, net::ssl::context& ctx, std::string* err) {
  error_code ec;
  ctx.set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                  net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 | net::ssl::context::no_tlsv1_1);
  if (!cfg.cert.empty()) {  // mutual TLS: our certificate, and its key
    ctx.use_certificate_chain_file(cfg.cert, ec);
    if (ec) {
      *err = "cannot load the client certificate from " + cfg.cert + ": " + ec.message();
      return false;
    }
    const std::string& key = cfg.key.empty() ? cfg.cert : cfg.key;
    ctx.use_private_key_file(key, net::ssl::context::pem, ec);
    if (ec) {
      *err = "cannot load the client certificate's key from " + key + ": " + ec.message();
      return false;
    }
  }
  if (cfg.insecure) {
    ctx.set_verify_mode(net::ssl::verify_none);
    return true;
  }
  ctx.set_verify_mode(net::ssl::verify_peer);
  const std::string bundle = !cfg.cacert.empty() ? cfg.cacert : "/etc/ssl/certs/ca-certificates.crt";
  ctx.load_verify_file(bundle, ec);
  if (ec && cfg.cacert.empty()) {
    ec = {};
    ctx.set_default_verify_paths(ec);
  }
  if (ec) {
    *err = "cannot load CA certificates from " + bundle + ": " + ec.message();
    return false;
  }
  return true;
}

/// The TLS module's entry point (tls_module.hpp): what run_session does for wss://.
extern "C" __attribute__((visibility("default"))) int wsbridge_tls_session(const config& cfg, status_board& board) {
  // This module has its own copy of Beast, whose mask generator needs its own seed;
  // OpenSSL's generator and the time zone (for certificate checks) are loaded now,
  // while the files they read can still be opened: inside the sandbox OpenSSL would
  // open /etc/localtime during the handshake, and fail.
  seed_beast_prng();
  unsigned char warm[16];
  RAND_bytes(warm, sizeof warm);
  ::tzset();
  net::io_context ioc{1};
  net::ssl::context ctx{net::ssl::context::tls_client};
  std::string err;
  const bool ready = make_tls_context(cfg, ctx, &err);
  if (!drop_root(cfg)) return exit_failure;
  auto s = std::make_shared<session<tls_layer>>(ioc, cfg, board, ctx);
  if (ready) s->run();
  else s->fail_now("tls", err, exit_usage);  // ioproc waits for a `closed` frame: the usual path
  run_loop(ioc);
  return exit_failure;
}

#else

int run_session(const config& cfg, status_board& board) {
  std::string err;
  // wss:// runs in the TLS module, the only code linked with OpenSSL (tls_module.hpp),
  // with its own event loop.
  const tls_session_fn tls_session = cfg.target.tls ? load_tls_module(&err) : nullptr;
  if (tls_session) return tls_session(cfg, board);
  net::io_context ioc{1};
  if (cfg.target.tls) {  // the module could not be loaded: said the usual way
    auto s = std::make_shared<session<plain_layer>>(ioc, cfg, board);
    s->fail_now("tls", err, exit_failure);  // ioproc waits for a `closed` frame: the usual path
    run_loop(ioc);
    return exit_failure;
  }
  if (!cfg.target.unix_path.empty()) {
    // Connected as the user who ran wsbridge (the socket file's permissions are
    // theirs to pass), then root is dropped. A Unix socket connects at once or fails.
    unix_stream::socket_type socket(ioc.get_executor());
    error_code ec;
    socket.connect(net::local::stream_protocol::endpoint(cfg.target.unix_path), ec);
    if (!drop_root(cfg)) return exit_failure;
    auto s = std::make_shared<session<unix_layer>>(ioc, cfg, board);
    if (ec) {
      s->fail_now("connect", cfg.target.unix_path + ": " + ec.message(), exit_connect_failed);
    } else {
      s->adopt(std::move(socket));
      s->run();
    }
    run_loop(ioc);
    return exit_failure;
  }
  if (!drop_root(cfg)) return exit_failure;
  auto s = std::make_shared<session<plain_layer>>(ioc, cfg, board);
  s->run();
  run_loop(ioc);
  return exit_failure;  // every path ends in _exit; running out of work is a bug
}

#endif  // WSBRIDGE_TLS_MODULE

}  // namespace wsbridge::netproc
