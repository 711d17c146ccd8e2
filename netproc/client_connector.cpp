// client_connector for ws:// and ws+unix:// (the TLS module instantiates it for wss://).
#include "netproc/impl/client_connector.hpp"

namespace wsbridge::netproc {

template class client_connector<plain_layer>;
template class client_connector<unix_layer>;

}  // namespace wsbridge::netproc
