#pragma once
// wss://: the TLS layer and its steps, compiled into the TLS module only (tls_module.hpp).
// The stages are written once for every layer and reach these through
// `if constexpr (is_tls_layer<Layer>)` (layers.hpp).

#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <string>

#include "netproc/layers.hpp"

namespace wsbridge::netproc {

using tls_layer = session_transport<beast::ssl_stream<tcp_stream>>;

template <>
inline constexpr bool is_tls_layer<tls_layer> = true;

template <>
struct tls_steps<tls_layer> {
  using ws_type = websocket::stream<tls_layer>;

  /// The client's handshake, with SNI for host names (not IP literals) and OpenSSL's own
  /// host check, so that a mismatch is reported as such (X509_V_ERR_HOSTNAME_MISMATCH).
  template <class Handler>
  static void client_handshake(ws_type& ws, const std::string& host, Handler&& handler) {
    auto& ssl = ws.next_layer().next_layer();
    error_code ec;
    net::ip::make_address(host, ec);
    const bool ip_literal = !ec;
    if (!ip_literal) SSL_set_tlsext_host_name(ssl.native_handle(), host.c_str());
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl.native_handle());
    if (ip_literal) X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
    else X509_VERIFY_PARAM_set1_host(param, host.c_str(), 0);
    ssl.async_handshake(net::ssl::stream_base::client, std::forward<Handler>(handler));
  }

  /// Why the client's handshake failed, and what to do next for the two causes users
  /// meet most (a test or company CA; a plain port). Sets *certificate_refused when the
  /// server's certificate failed verification.
  static std::string client_failure(ws_type& ws, error_code ec, bool* certificate_refused) {
    std::string what = ec.message();
    const long v = SSL_get_verify_result(ws.next_layer().next_layer().native_handle());
    *certificate_refused = v != X509_V_OK;
    if (v != X509_V_OK) what = std::string("certificate verify failed: ") + X509_verify_cert_error_string(v);
    if (v == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT || v == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN ||
        v == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY || v == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT)
      what += "; trust its CA with --cacert FILE, or skip the check with -k";
    else if (v == X509_V_OK && (what.find("wrong version number") != std::string::npos ||
                                what.find("packet length too long") != std::string::npos))
      what += " (the server does not speak TLS on this port: ws:// instead of wss://?)";
    return what;
  }

  /// The TLS stream ended without a close_notify: with TLS 1.3 a server checks the
  /// client certificate after our handshake is done, so a refusal shows up at the
  /// upgrade this way.
  static bool truncated(error_code ec) { return ec == net::ssl::error::stream_truncated; }

  template <class Handler>
  static void server_handshake(ws_type& ws, Handler&& handler) {
    ws.next_layer().next_layer().async_handshake(net::ssl::stream_base::server, std::forward<Handler>(handler));
  }
};

}  // namespace wsbridge::netproc
