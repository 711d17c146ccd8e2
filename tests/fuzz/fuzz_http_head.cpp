// The server's answer to the upgrade, parsed as netproc parses it: Beast's response
// parser with the handshake's limits, then our checks of what it found (extensions the
// client did not offer, what -v may show of each header).
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <cstddef>
#include <cstdint>
#include <string>

#include "bridge/common/safe_text.hpp"
#include "netproc/handshake.hpp"

namespace http = boost::beast::http;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  http::response_parser<http::empty_body> parser;
  parser.header_limit(16 * 1024);
  parser.skip(true);
  boost::beast::error_code ec;
  parser.put(boost::asio::buffer(data, size), ec);
  if (!parser.is_header_done()) return 0;
  const auto& res = parser.get();
  const auto ext = res[http::field::sec_websocket_extensions];
  for (bool offered : {true, false}) {
    const std::string bad = wsbridge::netproc::unoffered_extension(std::string_view(ext.data(), ext.size()), offered);
    if (!offered && !bad.empty() && ext.empty()) __builtin_trap();
  }
  for (const auto& field : res) {
    const std::string shown = wsbridge::netproc::shown_header_value(
        std::string_view(field.name_string().data(), field.name_string().size()),
        std::string_view(field.value().data(), field.value().size()));
    const std::string name = wsbridge::safe_text(std::string_view(field.name_string().data(), field.name_string().size()));
    if ((name == "Cookie" || name == "Set-Cookie") && shown != "***") __builtin_trap();
  }
  return 0;
}
