// session<Layer>: resolve, connect, proxy, TLS, the upgrade, redirects, sandbox. Part of session_impl.hpp.
#pragma once

namespace wsbridge::netproc {
namespace {  // internal linkage: see session_impl.hpp

template <class Layer>
void session<Layer>::start_watching() {
  ws_.next_layer().on_flushed([self = this->shared_from_this()] { self->on_socket_flushed(); });
  // Messages read from the socket gather for ioproc until we would wait for more.
  ws_.next_layer().before_wait([self = this->shared_from_this()] { self->flush_to_io(); });
  do_control_read();
}

template <class Layer>
void session<Layer>::run() {
  // --connect-timeout bounds everything up to the open connection, as curl's bounds its
  // connection phase: TCP, the proxy, TLS and the upgrade answer share one deadline.
  connect_deadline_ = std::chrono::steady_clock::now() + cfg_.connect_timeout;
  start_watching();
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

template <class Layer>
void session<Layer>::resolve() {
  set_state(connection_state::resolving);
  if (proxied())
    return resolve(cfg_.proxy.host, cfg_.proxy.port,
                   beast::bind_front_handler(&session::on_proxy_resolve, this->shared_from_this()));
  resolve(dial_host(), dial_port(), beast::bind_front_handler(&session::on_resolve, this->shared_from_this()));
}

template <class Layer>
void session<Layer>::on_proxy_resolve(error_code ec, tcp::resolver::results_type results) {
  if (ec) return fail_before_open("resolve", "proxy " + cfg_.proxy.host + ": " + ec.message(), exit_connect_failed);
  if (cfg_.proxy.type != proxy_target::kind::socks5) return on_resolve({}, results);
  proxy_results_ = results;
  resolve(dial_host(), dial_port(),
          [self = this->shared_from_this()](error_code resolve_ec, tcp::resolver::results_type r) {
            if (resolve_ec)
              return self->fail_before_open("resolve", self->dial_host() + ": " + resolve_ec.message(),
                                            exit_connect_failed);
            self->target_address_ = r.begin()->endpoint().address();
            self->on_resolve({}, self->proxy_results_);
          });
}

template <class Layer>
void session<Layer>::on_resolve(error_code ec, tcp::resolver::results_type results) {
  if (ec) return fail_before_open("resolve", dial_host() + ": " + ec.message(), exit_connect_failed);
  set_state(connection_state::connecting);
  beast::get_lowest_layer(ws_).expires_at(connect_deadline_);
  beast::get_lowest_layer(ws_).async_connect(
      results, beast::bind_front_handler(&session::on_connect, this->shared_from_this()));
}

template <class Layer>
void session<Layer>::on_connect(error_code ec, tcp::endpoint ep) {
  const std::string where =
      proxied() ? "proxy " + cfg_.proxy.host + ":" + cfg_.proxy.port : dial_host() + ":" + dial_port();
  if (ec == beast::error::timeout)
    return fail_before_open("connect", where + ": timed out after " + seconds_text(cfg_.connect_timeout),
                            exit_connect_failed);
  if (ec) return fail_before_open("connect", where + ": " + ec.message(), exit_connect_failed);
  if (cfg_.verbose) notify("connect", "connected to " + ep.address().to_string() + " port " + std::to_string(ep.port()));
  // Our transport layer already gathers what is ready into one send(); Nagle's
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
                open_proxy_tunnel(beast::get_lowest_layer(ws_), cfg_.proxy, dial_host(), dial_port(),
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
                  if (self->cfg_.verbose) self->notify("proxy", "tunnel open to " + self->dial_host() + ":" +
                                                                   self->dial_port());
                  self->on_tunnel_ready();
                });
}

#ifdef WSBRIDGE_TLS_MODULE
template <class Layer>
void session<Layer>::start_tls() {
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

template <class Layer>
void session<Layer>::on_tls_handshake(error_code ec) {
  if (ec) {
    std::string what = ec.message();
    const long v = SSL_get_verify_result(ws_.next_layer().next_layer().native_handle());
    if (v != X509_V_OK) what = std::string("certificate verify failed: ") + X509_verify_cert_error_string(v);
    if (v != X509_V_OK) this->end_.certificate_refused = true;  // --reconnect: final
    else if (ec == beast::error::timeout) what = "timed out after " + seconds_text(cfg_.connect_timeout);
    // What to do next: the two causes users meet most (a test or company CA; a plain port).
    if (v == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT || v == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN ||
        v == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY || v == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT)
      what += "; trust its CA with --cacert FILE, or skip the check with -k";
    else if (v == X509_V_OK && (what.find("wrong version number") != std::string::npos ||
                                what.find("packet length too long") != std::string::npos))
      what += " (the server does not speak TLS on this port: ws:// instead of wss://?)";
    return fail_before_open("tls", what, exit_connect_failed);
  }
  upgrade();
}

template <class Layer>
bool session<Layer>::refused_after_tls_handshake(error_code ec) {
  if (ec != net::ssl::error::stream_truncated) return false;
  std::string what = "the server ended the TLS connection without answering";
  if (cfg_.cert.empty()) what += " (does it require a client certificate? see --cert)";
  fail_before_open("handshake", what, exit_handshake_rejected);
  return true;
}

#endif
template <class Layer>
void session<Layer>::upgrade() {
  // The tcp_stream deadline and the websocket timeouts do not mix (beast #1726).
  beast::get_lowest_layer(ws_).expires_never();
  const auto left = std::max<std::chrono::steady_clock::duration>(connect_deadline_ - std::chrono::steady_clock::now(),
                                                                   std::chrono::milliseconds(1));
  ws_.set_option(websocket::stream_base::timeout{left, websocket::stream_base::none(), false});
  ws_.set_option(websocket::stream_base::decorator([this](websocket::request_type& req) {
    for (const auto& [name, value] : upgrade_headers(cfg_)) req.set(name, value);
    if (cfg_.verbose) show_headers(">", req);
  }));
  ws_.read_message_max(cfg_.max_message);
  if (cfg_.compress) {
    // permessage-deflate (RFC 7692) is offered; the server decides.
    websocket::permessage_deflate pmd;
    pmd.client_enable = true;
    ws_.set_option(pmd);
  }
  watch_control_frames();
  set_state(connection_state::upgrading);
  ws_.next_layer().stop_after_refusal();
  ws_.async_handshake(response_, cfg_.target.host_header, cfg_.target.resource,
                      beast::bind_front_handler(&session::on_handshake, this->shared_from_this()));
}

template <class Layer>
template <class Message>
void session<Layer>::show_headers(const char* dir, const Message& m) {
  std::string first;
  if constexpr (Message::is_request::value)
    first = std::string(m.method_string()) + " " + shown_target(m.target()) + " HTTP/1.1";
  else
    first = "HTTP/1.1 " + std::to_string(m.result_int()) + " " + std::string(m.reason());
  notify("handshake", std::string(dir) + " " + first);
  for (const auto& field : m)
    notify("handshake", std::string(dir) + " " + std::string(field.name_string()) + ": " +
                            shown_header_value(field.name_string(), field.value()));
}

template <class Layer>
void session<Layer>::on_handshake(error_code ec) {
  if (cfg_.verbose && response_.result_int() != 0) show_headers("<", response_);
  if (ec == websocket::error::upgrade_declined && is_redirect(response_.result_int()) &&
      response_.find(http::field::location) != response_.end() && cfg_.max_redirects > 0)
    return report_redirect(response_[http::field::location]);
  if (ec == websocket::error::upgrade_declined) {
    // --reconnect: the supervisor decides by these (a 4xx is final, a 429 says when).
    end_.http_status = response_.result_int();
    if (const auto ra = response_[http::field::retry_after];
        !ra.empty() && ra.size() <= 6 && ra.find_first_not_of("0123456789") == beast::string_view::npos)
      end_.retry_after = static_cast<std::uint32_t>(std::stoul(std::string(ra)));
    std::string what = "server answered HTTP " + std::to_string(response_.result_int());
    if (!response_.reason().empty()) what += " " + std::string(response_.reason());
    if (auto loc = response_.find(http::field::location); loc != response_.end())
      what += " (Location: " + std::string(loc->value()) + ")";
    if (const std::string said = refusal_body_text(response_[http::field::content_type], response_.body());
        !said.empty())
      what += ": \"" + said + "\"";
    what += refusal_hint(response_.result_int(), response_[http::field::www_authenticate],
                         response_[http::field::retry_after], response_[http::field::sec_websocket_version]);
    return fail_before_open("handshake", what, exit_handshake_rejected);
  }
  if constexpr (!tls) {
    // ws:// to a port that speaks TLS: a TLS record (alert 21 or handshake 22, version
    // 3.x; RFC 8446 §5.1) where the HTTP answer should be, or, as OpenSSL servers do,
    // the connection closed without a byte of answer.
    const std::string_view start = ws_.next_layer().answer_start();
    if (start.size() >= 2 && (start[0] == 0x15 || start[0] == 0x16) && start[1] == 0x03)
      return fail_before_open("handshake", "the server speaks TLS: use wss://", exit_handshake_rejected);
    if (start.empty() && (ec == http::error::end_of_stream || ec == net::error::eof ||
                          ec == net::error::connection_reset))
      return fail_before_open("handshake",
                              "the server closed the connection without answering the upgrade request "
                              "(if it speaks TLS, use wss://)",
                              exit_handshake_rejected);
  }
  if (ec == beast::error::timeout)
    return fail_before_open("handshake", "no complete answer to the upgrade request within " +
                                             seconds_text(cfg_.connect_timeout) + " of starting (--connect-timeout)",
                            exit_handshake_rejected);
  if (ec.category() == error_code(http::error::bad_value).category())
    return fail_before_open("handshake", "the server's answer is not valid HTTP (" + ec.message() + ")",
                            exit_handshake_rejected);
  if constexpr (tls)
    if (this->refused_after_tls_handshake(ec)) return;
  if (ec) return fail_before_open("handshake", ec.message(), exit_handshake_rejected);
  // RFC 6455 §4.1: a subprotocol we did not offer fails the connection.
  if (const auto chosen = response_[http::field::sec_websocket_protocol];
      !subprotocol_offered(std::string_view(chosen.data(), chosen.size()), cfg_.subprotocols))
    return fail_before_open("handshake", "the server chose subprotocol '" + std::string(chosen) +
                                             "', which was not offered", exit_handshake_rejected);

  // RFC 6455 §9.1: an extension the client did not offer fails the connection (Beast
  // looks only for the permessage-deflate it offered and ignores the rest).
  if (const auto ext = response_[http::field::sec_websocket_extensions]; !ext.empty()) {
    if (const std::string bad = unoffered_extension(ext, cfg_.compress); !bad.empty())
      return fail_before_open("handshake", "the server accepted extension '" + bad + "', which was not offered" +
                                               (cfg_.compress || bad != "permessage-deflate" ? "" : " (--no-compress)"),
                              exit_handshake_rejected);
    if (const std::string bad = bad_deflate_parameter(ext); !bad.empty())
      return fail_before_open("handshake", "the server's permessage-deflate parameter " + bad +
                                               " is not allowed (RFC 7692 §7.1.2: window bits are 8 to 15)",
                              exit_handshake_rejected);
  }

  on_open();
}

template <class Layer>
void session<Layer>::on_open() {
  // From here on the timeout bounds closing handshakes the peer starts. Keepalive
  // is ours (keepalive_tick), not Beast's idle timer, which ties the time a ping may
  // go unanswered to the interval.
  ws_.set_option(websocket::stream_base::timeout{
      std::chrono::duration_cast<std::chrono::steady_clock::duration>(cfg_.close_timeout),
      websocket::stream_base::none(), false});
  keepalive_since_ = std::chrono::steady_clock::now();
  if (cfg_.ping_interval.count() != 0) keepalive_wait(keepalive_since_ + cfg_.ping_interval);
  if (cfg_.timeout.count() != 0) {
    session_timer_.expires_after(cfg_.timeout);
    session_timer_.async_wait([self = this->shared_from_this()](error_code timer_ec) {
      if (timer_ec || self->phase_ >= close_phase::requested) return;
      self->timed_out_ = true;
      if (self->cfg_.verbose) self->notify("timeout", "closing after " + seconds_text(self->cfg_.timeout) + " (--timeout)");
      self->request_close(self->cfg_.close_code, self->cfg_.close_reason);
    });
  }
  // No extension in use: messages are framed here (frame_writer.hpp), not by Beast.
  direct_frames_ = response_[http::field::sec_websocket_extensions].empty();
  board_.opened.store(1, std::memory_order_relaxed);
  set_state(connection_state::open);
  std::string info = std::string(response_[http::field::sec_websocket_protocol]) + "\n" +
                     std::string(response_[http::field::sec_websocket_extensions]);
  if (cfg_.server() && !!cfg_.program) info += "\n" + program_env_;
  if (cfg_.verbose) {
    const auto ext = response_[http::field::sec_websocket_extensions];
    const auto proto = response_[http::field::sec_websocket_protocol];
    notify("handshake", "open; subprotocol: " + (proto.empty() ? std::string("none") : std::string(proto)) +
                            "; extensions: " + (ext.empty() ? std::string("none") : std::string(ext)));
  }
  ipc::append_frame(to_io_pending_, ipc::frame_type::opened, info);
  board_.opened_count.fetch_add(1, std::memory_order_relaxed);
  flush_to_io();
  do_ws_read();
  if (!replay_.empty()) take_replay();  // the previous connection's unsent messages first
  do_io_read();
}

template <class Layer>
void session<Layer>::watch_control_frames() {
  ws_.control_callback([this](websocket::frame_type kind, beast::string_view payload) {
    if (kind == websocket::frame_type::close) on_server_close_frame();
    if (cfg_.show_ping_pong && kind != websocket::frame_type::close) {
      const std::string data(payload.data(), payload.size());  // made terminal-safe by notify()
      notify(kind == websocket::frame_type::ping ? "ping" : "pong",
             std::string(kind == websocket::frame_type::ping ? "received ping (answered)" : "received pong") +
                 (data.empty() ? "" : " \"" + data + "\""));
    }
    // Only pongs answering the user's /ping go to ioproc, not those of keepalive pings.
    if (kind == websocket::frame_type::pong && user_pings_ > 0 && !io_gone_ &&
        std::string_view(payload.data(), payload.size()) != keepalive_payload) {
      --user_pings_;
      ipc::append_frame(to_io_pending_, ipc::frame_type::pong, std::string_view(payload.data(), payload.size()));
      flush_to_io();
    }
  });
}

template <class Layer>
void session<Layer>::report_redirect(std::string_view location) {
  if (cfg_.verbose)
    notify("redirect", "HTTP " + std::to_string(response_.result_int()) + ", Location: " + std::string(location));
  // Longer than limits::max_redirect_url: its start and one byte more ("too long").
  tell_supervisor(ipc::frame_type::redirect,
                  ipc::encode_redirect({response_.result_int(), std::string(location.substr(0, limits::max_redirect_url + 1))}));
  // Leave once every notice is written (no `closed` frame: the supervisor says what
  // happens next, on the same pipe).
  advance(close_event::finish);
  if (!io_writing_ && to_io_pending_.empty()) exit_now();
  flush_to_io();
}

template <class Layer>
bool session<Layer>::lock_down() {
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

}  // namespace
}  // namespace wsbridge::netproc
