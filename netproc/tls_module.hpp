#pragma once
// wss:// runs in a module, wsbridge-tls.so, the only part of wsbridge linked with
// OpenSSL, loaded by netproc (before its sandbox) only when a connection needs TLS.
// Loading libssl and libcrypto cost every session about 5 ms in all (about 150 page
// faults for their relocations before main, and their mappings carried by all three
// processes through fork and exit), a quarter of a ws:// session's start-up
// (docs/architecture.md); a ws:// netproc has no TLS code mapped at all.
//
// The module instantiates the same stages as netproc (client_connector, server_acceptor,
// relay) on the TLS layer (tls_layer.hpp), so the session is one piece of code; its
// entry point runs the whole TLS session, sandbox included, and never returns while
// the session lasts (netproc ends with _exit).

#include <boost/beast/websocket/stream.hpp>
#include <random>
#include <string>
#include <string_view>

#include "bridge/protocol/settings.hpp"
#include "bridge/protocol/status_board.hpp"

namespace wsbridge::netproc {

using tls_session_fn = int (*)(const net_settings&, std::string_view replay, status_board&);

/// Name of the module's entry point (extern "C").
inline constexpr const char* tls_entry_point = "wsbridge_tls_session";

/// Server mode: the module's check of --tls-cert and --tls-key (extern "C"): 0, or 1
/// with *err filled.
using tls_check_fn = int (*)(const net_settings&, std::string*);
inline constexpr const char* tls_check_point = "wsbridge_tls_check";

/// Loads wsbridge-tls.so from beside the executable, or else from the directory it is
/// installed in. Returns its entry point, or nullptr and fills *err.
tls_session_fn load_tls_module(std::string* err);

/// Seeds Beast's generator for masks and handshake keys from the kernel, while the
/// sandbox still allows it. Inline: the program and the module each have their own
/// copy of Beast, and so of its generator.
inline void seed_beast_prng() {
  std::random_device rd;
  std::seed_seq seed{rd(), rd(), rd(), rd(), rd(), rd(), rd(), rd()};
  boost::beast::websocket::seed_prng(seed);
}

}  // namespace wsbridge::netproc
