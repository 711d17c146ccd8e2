#pragma once
// Tunnels through a proxy: HTTP CONNECT (RFC 9110 §9.3.6) and SOCKS5 (RFC 1928, with
// RFC 1929 user/password). Runs on the TCP stream once it is connected to the proxy,
// inside the sandbox, before TLS and the WebSocket handshake.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <optional>
#include <string>

#include "bridge/protocol/settings.hpp"

namespace wsbridge::netproc {

/// TCP under the websocket, on the io_context's own executor type: Beast's operations
/// copy the executor for every message, and a type-erased any_io_executor made those
/// copies a tenth of netproc's time.
using tcp_stream = boost::beast::basic_stream<boost::asio::ip::tcp, boost::asio::io_context::executor_type>;

/// Asks the proxy at the other end of `stream` for a tunnel to host:port. For socks5://
/// (the client resolves), `resolved` is the server's address. Returns "" once the
/// tunnel is open, or one line that says what the proxy refused.
boost::asio::awaitable<std::string> open_proxy_tunnel(tcp_stream& stream, const proxy_target& proxy,
                                                      const std::string& host, const std::string& port,
                                                      std::optional<boost::asio::ip::address> resolved);

}  // namespace wsbridge::netproc
