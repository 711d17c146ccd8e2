#include "netproc/tls_module.hpp"

#include "bridge/module_loader.hpp"

namespace wsbridge::netproc {

tls_session_fn load_tls_module(std::string* err) {
  return reinterpret_cast<tls_session_fn>(load_module("wsbridge-tls.so", tls_entry_point, "TLS module", err));
}

}  // namespace wsbridge::netproc
