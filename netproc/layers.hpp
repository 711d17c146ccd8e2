#pragma once
// What a connection's websocket runs on, named once for the three stages of a session
// (client_connector.hpp, server_acceptor.hpp, relay.hpp). Each stage is a class
// template over the layer under Beast's websocket::stream: ws:// over TCP, ws+unix://
// over a Unix socket, and wss:// over TLS. TLS is only ever a type: its types and
// steps exist in the TLS module alone (tls_layer.hpp), and a stage asks for them with
// `if constexpr (is_tls_layer<Layer>)`, so a ws:// netproc has no TLS code at all.

#include <sys/ioctl.h>
#include <linux/sockios.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/core/basic_stream.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <chrono>
#include <cstdio>
#include <string>

#include "netproc/proxy.hpp"  // tcp_stream
#include "netproc/session_transport.hpp"

namespace wsbridge::netproc {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using beast::error_code;

using unix_stream = beast::basic_stream<net::local::stream_protocol, net::io_context::executor_type>;

using plain_layer = session_transport<tcp_stream>;  ///< ws://
using unix_layer = session_transport<unix_stream>;  ///< ws+unix://, --unix

/// True for the TLS layer only (specialized in tls_layer.hpp, inside the TLS module).
template <class Layer>
inline constexpr bool is_tls_layer = false;

/// The TLS steps of each stage, defined for the TLS layer in tls_layer.hpp; a stage
/// calls them only under `if constexpr (is_tls_layer<Layer>)`.
template <class Layer>
struct tls_steps;

/// Bytes in the kernel's send queue that the peer has not acknowledged (SIOCOUTQ, for
/// TCP and Unix stream sockets alike); 0 if it cannot tell. An in-memory stream in
/// tests provides its own overload.
template <class Protocol, class Executor, class RatePolicy>
int unacknowledged_bytes(beast::basic_stream<Protocol, Executor, RatePolicy>& s) {
  int n = 0;
  if (::ioctl(s.socket().native_handle(), SIOCOUTQ, &n) != 0) return 0;
  return n;
}

/// "1.5s": a duration as messages show it.
inline std::string seconds_text(std::chrono::milliseconds d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%gs", static_cast<double>(d.count()) / 1000.0);
  return buf;
}

}  // namespace wsbridge::netproc
