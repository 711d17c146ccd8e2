// Asio, Beast and URL are compiled once, here, instead of in every file that uses them
// (Debian ships no libboost_url; BOOST_ASIO_SEPARATE_COMPILATION and BOOST_BEAST_SEPARATE_COMPILATION are set
// for the whole project in the top-level CMakeLists.txt). Asio's TLS part is compiled
// into the TLS module only (netproc/tls_src.cpp).
#include <boost/asio/impl/src.hpp>
#include <boost/beast/src.hpp>
#include <boost/url/src.hpp>
