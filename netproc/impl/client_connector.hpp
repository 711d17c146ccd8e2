#pragma once
// client_connector's definitions: included by the translation units that instantiate
// it (client_connector.cpp for ws:// and ws+unix://, tls_session.cpp for wss://).

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <algorithm>
#include <charconv>
#include <exception>

#include "bridge/protocol/exit_codes.hpp"
#include "netproc/client_connector.hpp"
#include "netproc/handshake.hpp"
#include "netproc/lock_down.hpp"
#include "netproc/proxy.hpp"
#include "netproc/show_headers.hpp"

namespace wsbridge::netproc {

namespace detail {
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
}  // namespace detail

template <class Layer>
void client_connector<Layer>::run(opened_handler<Layer> on_open) {
  on_open_ = std::move(on_open);
  deadline_ = std::chrono::steady_clock::now() + parts_.cfg.connect_timeout;
  if constexpr (local) {
    if (parts_.cfg.verbose) parts_.out.notice("connect", "connected to " + parts_.cfg.target.unix_path);
    if (!lock_down(parts_.cfg, parts_.board, parts_.out, parts_.end)) return;
    on_tunnel_ready();
  } else {
    resolve();
  }
}

template <class Layer>
template <class Handler>
void client_connector<Layer>::resolve(const std::string& host, const std::string& port, Handler&& handler) {
  if (auto literal = detail::address_literal(host, port)) return handler(error_code{}, *literal);
  resolver_.async_resolve(host, port, std::forward<Handler>(handler));
}

template <class Layer>
void client_connector<Layer>::resolve() {
  parts_.end.set_state(connection_state::resolving);
  if (proxied())
    return resolve(parts_.cfg.proxy.host, parts_.cfg.proxy.port,
                   beast::bind_front_handler(&client_connector::on_proxy_resolve, this->shared_from_this()));
  resolve(dial_host(), dial_port(),
          beast::bind_front_handler(&client_connector::on_resolve, this->shared_from_this()));
}

template <class Layer>
void client_connector<Layer>::on_proxy_resolve(error_code ec, tcp::resolver::results_type results) {
  if (ec) return parts_.end.fail("resolve", "proxy " + parts_.cfg.proxy.host + ": " + ec.message(), exit_connect_failed);
  if (parts_.cfg.proxy.type != proxy_target::kind::socks5) return on_resolve({}, results);
  proxy_results_ = results;
  resolve(dial_host(), dial_port(),
          [self = this->shared_from_this()](error_code resolve_ec, tcp::resolver::results_type r) {
            if (resolve_ec)
              return self->parts_.end.fail("resolve", self->dial_host() + ": " + resolve_ec.message(), exit_connect_failed);
            self->target_address_ = r.begin()->endpoint().address();
            self->on_resolve({}, self->proxy_results_);
          });
}

template <class Layer>
void client_connector<Layer>::on_resolve(error_code ec, tcp::resolver::results_type results) {
  if constexpr (!local) {  // TCP only: a Unix socket is connected before the connector runs
    if (ec) return parts_.end.fail("resolve", dial_host() + ": " + ec.message(), exit_connect_failed);
    parts_.end.set_state(connection_state::connecting);
    beast::get_lowest_layer(ws_).expires_at(deadline_);
    beast::get_lowest_layer(ws_).async_connect(
        results, beast::bind_front_handler(&client_connector::on_connect, this->shared_from_this()));
  }
}

template <class Layer>
void client_connector<Layer>::on_connect(error_code ec, tcp::endpoint ep) {
  if constexpr (!local) {  // TCP only: a Unix socket is connected before
    const std::string where =
        proxied() ? "proxy " + parts_.cfg.proxy.host + ":" + parts_.cfg.proxy.port : dial_host() + ":" + dial_port();
    if (ec == beast::error::timeout)
      return parts_.end.fail("connect", where + ": timed out after " + seconds_text(parts_.cfg.connect_timeout),
                       exit_connect_failed);
    if (ec) return parts_.end.fail("connect", where + ": " + ec.message(), exit_connect_failed);
    if (parts_.cfg.verbose)
      parts_.out.notice("connect", "connected to " + ep.address().to_string() + " port " + std::to_string(ep.port()));
    // Our transport layer already gathers what is ready into one send(); Nagle's
    // algorithm would only hold back the last piece of a burst, or a lone message
    // typed at the terminal, until the server's ACK (the reference client and node's
    // ws set it too).
    error_code ignored;  // only a little slower without it
    beast::get_lowest_layer(ws_).socket().set_option(tcp::no_delay(true), ignored);
    // Connected: nothing is left to resolve, open or spawn, and the server's first byte
    // (the TLS or HTTP answer) is still to come. This is the latest safe point to lock down.
    if (!lock_down(parts_.cfg, parts_.board, parts_.out, parts_.end)) return;
    if (!proxied()) return on_tunnel_ready();
    // The proxy's answers are parsed inside the sandbox too.
    net::co_spawn(beast::get_lowest_layer(ws_).get_executor(),
                  open_proxy_tunnel(beast::get_lowest_layer(ws_), parts_.cfg.proxy, dial_host(), dial_port(), target_address_),
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
                    if (!err.empty()) return self->parts_.end.fail("proxy", err, exit_connect_failed);
                    if (self->parts_.cfg.verbose)
                      self->parts_.out.notice("proxy", "tunnel open to " + self->dial_host() + ":" + self->dial_port());
                    self->on_tunnel_ready();
                  });
  }
}

template <class Layer>
void client_connector<Layer>::on_tunnel_ready() {
  if constexpr (is_tls_layer<Layer>) {
    parts_.end.set_state(connection_state::tls_handshake);
    tls_steps<Layer>::client_handshake(ws_, parts_.cfg.target.host, [self = this->shared_from_this()](error_code ec) {
      if (!ec) return self->upgrade();
      bool certificate_refused = false;
      const std::string what = tls_steps<Layer>::client_failure(self->ws_, ec, &certificate_refused);
      if (certificate_refused) self->parts_.end.report().certificate_refused = true;  // --reconnect: final
      self->parts_.end.fail("tls", ec == beast::error::timeout && !certificate_refused
                                 ? "timed out after " + seconds_text(self->parts_.cfg.connect_timeout)
                                 : what,
                      exit_connect_failed);
    });
  } else {
    upgrade();
  }
}

template <class Layer>
void client_connector<Layer>::upgrade() {
  // The tcp_stream deadline and the websocket timeouts do not mix (beast #1726).
  beast::get_lowest_layer(ws_).expires_never();
  const auto left = std::max<std::chrono::steady_clock::duration>(deadline_ - std::chrono::steady_clock::now(),
                                                                   std::chrono::milliseconds(1));
  ws_.set_option(websocket::stream_base::timeout{left, websocket::stream_base::none(), false});
  ws_.set_option(websocket::stream_base::decorator([this](websocket::request_type& req) {
    for (const auto& [name, value] : upgrade_headers(parts_.cfg)) req.set(name, value);
    if (parts_.cfg.verbose) show_headers(parts_.out, ">", req);
  }));
  ws_.read_message_max(parts_.cfg.max_message);
  if (parts_.cfg.compress) {
    // permessage-deflate (RFC 7692) is offered; the server decides.
    websocket::permessage_deflate pmd;
    pmd.client_enable = true;
    ws_.set_option(pmd);
  }
  parts_.end.set_state(connection_state::upgrading);
  ws_.next_layer().stop_after_refusal();
  ws_.async_handshake(response_, parts_.cfg.target.host_header, parts_.cfg.target.resource,
                      beast::bind_front_handler(&client_connector::on_handshake, this->shared_from_this()));
}

template <class Layer>
std::string client_connector<Layer>::refusal_text() const {
  std::string what = "server answered HTTP " + std::to_string(response_.result_int());
  if (!response_.reason().empty()) what += " " + std::string(response_.reason());
  if (auto loc = response_.find(http::field::location); loc != response_.end())
    what += " (Location: " + std::string(loc->value()) + ")";
  if (const std::string said = refusal_body_text(response_[http::field::content_type], response_.body());
      !said.empty())
    what += ": \"" + said + "\"";
  what += refusal_hint(response_.result_int(), response_[http::field::www_authenticate],
                       response_[http::field::retry_after], response_[http::field::sec_websocket_version]);
  return what;
}

template <class Layer>
void client_connector<Layer>::on_handshake(error_code ec) {
  if (parts_.cfg.verbose && response_.result_int() != 0) show_headers(parts_.out, "<", response_);
  if (ec == websocket::error::upgrade_declined && is_redirect(response_.result_int()) &&
      response_.find(http::field::location) != response_.end() && parts_.cfg.max_redirects > 0)
    return parts_.end.redirect(response_.result_int(), response_[http::field::location]);
  if (ec == websocket::error::upgrade_declined) {
    // --reconnect: the supervisor decides by these (a 4xx is final, a 429 says when).
    parts_.end.report().http_status = response_.result_int();
    if (const auto ra = response_[http::field::retry_after];
        !ra.empty() && ra.size() <= 6 && ra.find_first_not_of("0123456789") == beast::string_view::npos)
      parts_.end.report().retry_after = static_cast<std::uint32_t>(std::stoul(std::string(ra)));
    return parts_.end.fail("handshake", refusal_text(), exit_handshake_rejected);
  }
  if constexpr (!is_tls_layer<Layer>) {
    // ws:// to a port that speaks TLS: a TLS record (alert 21 or handshake 22, version
    // 3.x; RFC 8446 §5.1) where the HTTP answer should be, or, as OpenSSL servers do,
    // the connection closed without a byte of answer.
    const std::string_view start = ws_.next_layer().answer_start();
    if (start.size() >= 2 && (start[0] == 0x15 || start[0] == 0x16) && start[1] == 0x03)
      return parts_.end.fail("handshake", "the server speaks TLS: use wss://", exit_handshake_rejected);
    if (start.empty() &&
        (ec == http::error::end_of_stream || ec == net::error::eof || ec == net::error::connection_reset))
      return parts_.end.fail("handshake",
                       "the server closed the connection without answering the upgrade request "
                       "(if it speaks TLS, use wss://)",
                       exit_handshake_rejected);
  }
  if (ec == beast::error::timeout)
    return parts_.end.fail("handshake", "no complete answer to the upgrade request within " +
                                      seconds_text(parts_.cfg.connect_timeout) + " of starting (--connect-timeout)",
                     exit_handshake_rejected);
  if (ec.category() == error_code(http::error::bad_value).category())
    return parts_.end.fail("handshake", "the server's answer is not valid HTTP (" + ec.message() + ")",
                     exit_handshake_rejected);
  if constexpr (is_tls_layer<Layer>) {
    // With TLS 1.3 a server checks the client certificate after our handshake is
    // done, so a refusal shows up here, as the end of the TLS stream.
    if (tls_steps<Layer>::truncated(ec))
      return parts_.end.fail("handshake",
                       std::string("the server ended the TLS connection without answering") +
                           (parts_.cfg.cert.empty() ? " (does it require a client certificate? see --cert)" : ""),
                       exit_handshake_rejected);
  }
  if (ec) return parts_.end.fail("handshake", ec.message(), exit_handshake_rejected);
  // RFC 6455 §4.1: a subprotocol we did not offer fails the connection.
  if (const auto chosen = response_[http::field::sec_websocket_protocol];
      !subprotocol_offered(std::string_view(chosen.data(), chosen.size()), parts_.cfg.subprotocols))
    return parts_.end.fail("handshake",
                     "the server chose subprotocol '" + std::string(chosen) + "', which was not offered",
                     exit_handshake_rejected);
  // RFC 6455 §9.1: an extension the client did not offer fails the connection (Beast
  // looks only for the permessage-deflate it offered and ignores the rest).
  if (const auto ext = response_[http::field::sec_websocket_extensions]; !ext.empty()) {
    if (const std::string bad = unoffered_extension(ext, parts_.cfg.compress); !bad.empty())
      return parts_.end.fail("handshake",
                       "the server accepted extension '" + bad + "', which was not offered" +
                           (parts_.cfg.compress || bad != "permessage-deflate" ? "" : " (--no-compress)"),
                       exit_handshake_rejected);
    if (const std::string bad = bad_deflate_parameter(ext); !bad.empty())
      return parts_.end.fail("handshake",
                       "the server's permessage-deflate parameter " + bad +
                           " is not allowed (RFC 7692 §7.1.2: window bits are 8 to 15)",
                       exit_handshake_rejected);
  }
  on_open_(std::move(ws_), std::move(response_));
}

}  // namespace wsbridge::netproc
