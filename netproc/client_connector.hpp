#pragma once
// The client's first stage: resolve, connect (directly or through a proxy), TLS, and
// the upgrade request (RFC 6455 §4.1), ending by handing the open websocket to the
// relay, or in the session's end (a failure, or a redirect for the supervisor to
// follow). --connect-timeout bounds all of it, as curl's bounds its connection phase.

#include <boost/beast/http/message.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "bridge/protocol/settings.hpp"
#include "bridge/protocol/status_board.hpp"
#include "netproc/io_outbox.hpp"
#include "netproc/layers.hpp"
#include "netproc/session_parts.hpp"

namespace wsbridge::netproc {

/// What the relay starts from: the open websocket and the answer that opened it.
template <class Layer>
using opened_handler = std::function<void(websocket::stream<Layer>&& ws, websocket::response_type&& response)>;

template <class Layer>
class client_connector : public std::enable_shared_from_this<client_connector<Layer>> {
  static constexpr bool local = std::is_same_v<Layer, unix_layer>;

 public:
  template <class... StreamArgs>
  client_connector(session_parts& parts, StreamArgs&... stream_args)
      : parts_(parts), resolver_(parts.ioc), ws_(parts.ioc, stream_args...) {}

  /// ws+unix://: the socket, connected before root was dropped (the socket file may be
  /// one only root can open).
  template <class Socket>
  void adopt(Socket&& socket) {
    beast::get_lowest_layer(ws_).socket() = std::move(socket);
  }

  /// Connects; `on_open` gets the websocket once the upgrade succeeded.
  void run(opened_handler<Layer> on_open);

 private:
  /// Where to connect: the URL's host and port, unless --connect-to/--resolve says
  /// otherwise (the Host header, SNI and the certificate check keep the URL's host).
  const std::string& dial_host() const {
    return parts_.cfg.target.connect_host.empty() ? parts_.cfg.target.host : parts_.cfg.target.connect_host;
  }
  const std::string& dial_port() const {
    return parts_.cfg.target.connect_port.empty() ? parts_.cfg.target.port : parts_.cfg.target.connect_port;
  }
  bool proxied() const { return parts_.cfg.proxy.type != proxy_target::kind::none; }

  /// Resolves host:port, then calls `handler(ec, results)`. An address needs no
  /// resolver: Asio's asynchronous one starts a thread to call getaddrinfo, a tenth of
  /// the start-up of a connection to 127.0.0.1.
  template <class Handler>
  void resolve(const std::string& host, const std::string& port, Handler&& handler);

  void resolve();
  /// The proxy's addresses. For socks5:// we also resolve the server's name (the
  /// proxy gets an address); http:// and socks5h:// proxies resolve it themselves.
  void on_proxy_resolve(error_code ec, tcp::resolver::results_type results);
  void on_resolve(error_code ec, tcp::resolver::results_type results);
  void on_connect(error_code ec, tcp::endpoint ep);
  /// TCP reaches the server (directly or through a proxy's tunnel): TLS, then upgrade.
  void on_tunnel_ready();
  /// The HTTP upgrade (RFC 6455 §4.1).
  void upgrade();
  void on_handshake(error_code ec);
  /// Why the upgrade was refused, as one line, and what to try next.
  std::string refusal_text() const;

  static bool is_redirect(unsigned status) {
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
  }

  session_parts& parts_;
  tcp::resolver resolver_;
  tcp::resolver::results_type proxy_results_;       ///< socks5://: the proxy, while the server resolves
  std::optional<net::ip::address> target_address_;  ///< socks5://: the server's address
  websocket::stream<Layer> ws_;
  websocket::response_type response_;
  std::chrono::steady_clock::time_point deadline_{};  ///< --connect-timeout, from the start
  opened_handler<Layer> on_open_;
};

extern template class client_connector<plain_layer>;
extern template class client_connector<unix_layer>;

}  // namespace wsbridge::netproc
