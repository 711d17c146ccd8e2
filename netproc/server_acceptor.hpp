#pragma once
// The server's first stage (--listen): the client's upgrade request on the socket the
// listener accepted, read (after TLS, for wss://), checked (Origin, subprotocol) and
// answered, ending by handing the open websocket to the relay, with the environment
// the --exec program is proposed; or in the session's end, after a refusal. A request
// that is not an upgrade (a browser's GET for the page) goes to web_responder.

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "bridge/protocol/settings.hpp"
#include "bridge/protocol/status_board.hpp"
#include "netproc/io_outbox.hpp"
#include "netproc/layers.hpp"
#include "netproc/session_parts.hpp"

namespace wsbridge::netproc {

/// The relay's start on the server side: the open websocket, the answer we sent, and
/// the --exec program's environment ("NAME=value" lines).
template <class Layer>
using accepted_handler =
    std::function<void(websocket::stream<Layer>&& ws, websocket::response_type&& response, std::string&& program_env)>;

template <class Layer>
class server_acceptor : public std::enable_shared_from_this<server_acceptor<Layer>> {
  static constexpr bool local = std::is_same_v<Layer, unix_layer>;

 public:
  template <class... StreamArgs>
  server_acceptor(session_parts& parts, StreamArgs&... stream_args) : parts_(parts), ws_(parts.ioc, stream_args...) {}

  template <class Socket>
  void adopt(Socket&& socket) {
    beast::get_lowest_layer(ws_).socket() = std::move(socket);
  }

  /// Locks down, then reads and answers the request; `on_open` gets the websocket.
  void serve(accepted_handler<Layer> on_open);

 private:
  /// --proxy-protocol: the header before the connection's first byte, read exactly.
  void read_proxy_header();
  /// TLS if serving wss://, then the request.
  void start_reading();
  void read_request();
  void on_request(error_code ec, std::size_t);
  /// A refusal the acceptor writes itself (400, 403, 431), at once.
  void send_refusal(const char* status, std::string_view body);
  void on_accept(error_code ec);
  /// The --exec program's environment: websocketd's variables, then WSBRIDGE_*.
  std::string program_environment(const http::request<http::empty_body>& req, const std::string& subprotocol) const;
  /// Who the client is: the TCP peer, or behind a --trusted-proxy the client its
  /// forwarding headers name, with the Host it asked that proxy for.
  void identify_client(const http::request<http::empty_body>& req);

  session_parts& parts_;
  websocket::stream<Layer> ws_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::empty_body>> request_;
  websocket::response_type response_;
  std::string program_env_;
  accepted_handler<Layer> on_open_;
  std::string client_address_, client_port_;  ///< REMOTE_ADDR, REMOTE_PORT
  std::string client_host_;                   ///< the Host --same-origin compares with
  std::string proxy_bytes_;                   ///< --proxy-protocol: the header so far
  std::string proxied_address_, proxied_port_;  ///< the client the PROXY header names
};

extern template class server_acceptor<plain_layer>;
extern template class server_acceptor<unix_layer>;

}  // namespace wsbridge::netproc
