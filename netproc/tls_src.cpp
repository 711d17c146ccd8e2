// Asio's TLS layer, compiled once, into the TLS module only (see tls_module.hpp and
// bridge/common/boost_src.cpp for the rest of Asio, Beast and URL).
#include <boost/asio/ssl/impl/src.hpp>
