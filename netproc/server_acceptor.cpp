// server_acceptor for ws:// and ws+unix:// (the TLS module instantiates it for wss://).
#include "netproc/impl/server_acceptor.hpp"

namespace wsbridge::netproc {

template class server_acceptor<plain_layer>;
template class server_acceptor<unix_layer>;

}  // namespace wsbridge::netproc
