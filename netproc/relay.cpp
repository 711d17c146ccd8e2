// relay for ws:// and ws+unix:// (the TLS module instantiates it for wss://).
#include "netproc/impl/relay.hpp"

namespace wsbridge::netproc {

template class relay<plain_layer>;
template class relay<unix_layer>;

}  // namespace wsbridge::netproc
