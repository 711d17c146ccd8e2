#include "netproc/tls_module.hpp"

#include "bridge/common/module_loader.hpp"
#include "netproc/netproc.hpp"

namespace wsbridge::netproc {

tls_session_fn load_tls_module(std::string* err) {
  return reinterpret_cast<tls_session_fn>(load_module("wsbridge-tls.so", tls_entry_point, "TLS module", err));
}

}  // namespace wsbridge::netproc

namespace wsbridge {

bool check_server_tls(const net_settings& cfg, std::string* err) {
  const auto check = reinterpret_cast<netproc::tls_check_fn>(
      load_module("wsbridge-tls.so", netproc::tls_check_point, "TLS module", err));
  return check && check(cfg, err) == 0;
}

}  // namespace wsbridge
