// The TLS module's session (tls_module.hpp): the same stages as netproc's, on the TLS
// layer (tls_layer.hpp), and the module's entry point.
#include <sys/stat.h>

#include <openssl/rand.h>

#include "netproc/impl/client_connector.hpp"
#include "netproc/impl/relay.hpp"
#include "netproc/impl/server_acceptor.hpp"
#include "netproc/stages.hpp"
#include "netproc/tls_layer.hpp"
#include "netproc/tls_module.hpp"

namespace wsbridge::netproc {

template class client_connector<tls_layer>;
template class server_acceptor<tls_layer>;
template class relay<tls_layer>;

/// The TLS client context: peer verified by default against the system's CA bundle,
/// loaded now (before the sandbox) rather than looked up lazily on disk during the
/// handshake. Returns false and fills *err.
bool make_tls_context(const net_settings& cfg, net::ssl::context& ctx, std::string* err) {
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
    struct stat st;
    if (::stat(bundle.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
      *err += " (--cacert names a directory; give the PEM file of the CA certificates)";
    return false;
  }
  return true;
}

/// Server mode: the context with our certificate and key, loaded before the sandbox.
bool make_server_context(const net_settings& cfg, net::ssl::context& ctx, std::string* err) {
  error_code ec;
  ctx.set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                  net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 | net::ssl::context::no_tlsv1_1);
  ctx.use_certificate_chain_file(cfg.tls_cert, ec);
  if (ec) {
    *err = "cannot load the certificate from " + cfg.tls_cert + ": " + ec.message();
    return false;
  }
  ctx.use_private_key_file(cfg.tls_key, net::ssl::context::pem, ec);
  if (ec) {
    *err = "cannot load the private key from " + cfg.tls_key + ": " + ec.message();
    return false;
  }
  return true;
}

/// Server mode, in the listener before it listens (tls_module.hpp).
extern "C" __attribute__((visibility("default"))) int wsbridge_tls_check(const net_settings& cfg, std::string* err) {
  net::ssl::context ctx{net::ssl::context::tls_server};
  return make_server_context(cfg, ctx, err) ? 0 : 1;
}

/// The TLS module's entry point (tls_module.hpp): what run_session does for wss://.
extern "C" __attribute__((visibility("default"))) int wsbridge_tls_session(const net_settings& cfg, std::string_view replay,
                                                                           status_board& board) {
  // This module has its own copy of Beast, whose mask generator needs its own seed;
  // OpenSSL's generator and the time zone (for certificate checks) are loaded now,
  // while the files they read can still be opened: inside the sandbox OpenSSL would
  // open /etc/localtime during the handshake, and fail.
  seed_beast_prng();
  unsigned char warm[16];
  RAND_bytes(warm, sizeof warm);
  ::tzset();
  net::io_context ioc{1};
  std::string err;
  if (cfg.server()) {
    net::ssl::context ctx{net::ssl::context::tls_server};
    if (!make_server_context(cfg, ctx, &err)) {  // checked before listening: the files changed
      std::fprintf(stderr, "wsbridge: tls: %s\n", err.c_str());
      return exit_failure;
    }
    return serve_accepted<tls_layer>(cfg, board, ioc, ctx);
  }
  net::ssl::context ctx{net::ssl::context::tls_client};
  const bool ready = make_tls_context(cfg, ctx, &err);
  if (!drop_root(cfg)) return exit_failure;
  session_parts p(ioc, cfg, board);
  if (ready)
    connect_then_relay(p, std::make_shared<client_connector<tls_layer>>(p, ctx), replay);
  else
    p.end.fail("tls", err, exit_usage);  // ioproc waits for a `closed` frame: the usual path
  run_loop(ioc);
  return exit_failure;
}

}  // namespace wsbridge::netproc
