#pragma once
// -v: a request or response head, one notice per line ("> GET / HTTP/1.1"), by the
// client and the server alike. Credentials are not repeated on the screen
// (shown_header_value, shown_target).

#include <boost/beast/http/message.hpp>
#include <string>

#include "netproc/handshake.hpp"
#include "netproc/io_outbox.hpp"

namespace wsbridge::netproc {

template <class Message>
void show_headers(io_outbox& out, const char* dir, const Message& m) {
  std::string first;
  if constexpr (Message::is_request::value)
    first = std::string(m.method_string()) + " " + shown_target(m.target()) + " HTTP/1.1";
  else
    first = "HTTP/1.1 " + std::to_string(m.result_int()) + " " + std::string(m.reason());
  out.notice("handshake", std::string(dir) + " " + first);
  for (const auto& field : m)
    out.notice("handshake", std::string(dir) + " " + std::string(field.name_string()) + ": " +
                                shown_header_value(field.name_string(), field.value()));
}

}  // namespace wsbridge::netproc
