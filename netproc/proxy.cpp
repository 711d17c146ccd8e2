#include "netproc/proxy.hpp"

#include <array>
#include <boost/asio/read.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cstdint>
#include <vector>

#include "bridge/common/base64.hpp"
#include "bridge/common/version.hpp"

namespace wsbridge::netproc {
namespace {

namespace net = boost::asio;
namespace http = boost::beast::http;
using net::use_awaitable;

std::string authority(const std::string& host, const std::string& port) {
  return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + port;
}

net::awaitable<std::string> http_connect(tcp_stream& stream, const proxy_target& proxy,
                                         const std::string& target) {
  http::request<http::empty_body> req{http::verb::connect, target, 11};
  req.set(http::field::host, target);
  req.set(http::field::user_agent, std::string("wsbridge/") + version_string);
  if (!proxy.userinfo.empty()) {
    std::string value = "Basic ";
    append_base64(value, proxy.userinfo);
    req.set(http::field::proxy_authorization, value);
  }
  co_await http::async_write(stream, req, use_awaitable);
  boost::beast::flat_buffer buf;
  http::response_parser<http::empty_body> parser;
  parser.skip(true);  // a 2xx answer to CONNECT has no body: the tunnel starts after the header
  co_await http::async_read_header(stream, buf, parser, use_awaitable);
  const unsigned status = parser.get().result_int();
  if (status / 100 != 2) {
    std::string why = "CONNECT " + target + ": the proxy answered HTTP " + std::to_string(status);
    if (!parser.get().reason().empty()) why += " " + std::string(parser.get().reason());
    co_return why;
  }
  // The server has not spoken yet (we speak first), so nothing may follow the header.
  if (buf.size() != 0) co_return "CONNECT " + target + ": the proxy sent data before the tunnel opened";
  co_return "";
}

const char* socks_reply_text(std::uint8_t rep) {
  switch (rep) {  // RFC 1928 §6
    case 1: return "general SOCKS server failure";
    case 2: return "connection not allowed by ruleset";
    case 3: return "network unreachable";
    case 4: return "host unreachable";
    case 5: return "connection refused";
    case 6: return "TTL expired";
    case 7: return "command not supported";
    case 8: return "address type not supported";
    default: return "unknown error";
  }
}

net::awaitable<std::string> socks5(tcp_stream& stream, const proxy_target& proxy,
                                   const std::string& host, const std::string& port,
                                   std::optional<net::ip::address> resolved) {
  const std::string target = authority(host, port);
  const bool with_password = !proxy.userinfo.empty();
  std::vector<std::uint8_t> hello = {5, 1, 0};
  if (with_password) hello = {5, 2, 0, 2};
  co_await net::async_write(stream, net::buffer(hello), use_awaitable);
  std::array<std::uint8_t, 2> choice{};
  co_await net::async_read(stream, net::buffer(choice), use_awaitable);
  if (choice[0] != 5) co_return "the proxy does not speak SOCKS5";
  if (choice[1] == 0xff) co_return "the SOCKS5 proxy accepts none of our authentication methods";
  if (choice[1] == 2) {
    if (!with_password) co_return "the SOCKS5 proxy asks for a user name and password";
    const auto colon = proxy.userinfo.find(':');
    const std::string user = proxy.userinfo.substr(0, colon);
    const std::string pass = colon == std::string::npos ? "" : proxy.userinfo.substr(colon + 1);
    if (user.size() > 255 || pass.size() > 255) co_return "the proxy user name or password is over 255 bytes";
    std::vector<std::uint8_t> auth = {1, static_cast<std::uint8_t>(user.size())};
    auth.insert(auth.end(), user.begin(), user.end());
    auth.push_back(static_cast<std::uint8_t>(pass.size()));
    auth.insert(auth.end(), pass.begin(), pass.end());
    co_await net::async_write(stream, net::buffer(auth), use_awaitable);
    std::array<std::uint8_t, 2> status{};
    co_await net::async_read(stream, net::buffer(status), use_awaitable);
    if (status[1] != 0) co_return "the SOCKS5 proxy refused the user name and password";
  } else if (choice[1] != 0) {
    co_return "the SOCKS5 proxy chose an authentication method we did not offer";
  }

  std::vector<std::uint8_t> req = {5, 1, 0};  // CONNECT
  if (resolved && resolved->is_v4()) {
    req.push_back(1);
    const auto b = resolved->to_v4().to_bytes();
    req.insert(req.end(), b.begin(), b.end());
  } else if (resolved) {
    req.push_back(4);
    const auto b = resolved->to_v6().to_bytes();
    req.insert(req.end(), b.begin(), b.end());
  } else {  // socks5h: the proxy resolves the name
    if (host.size() > 255) co_return "the host name is over 255 bytes, too long for SOCKS5";
    req.push_back(3);
    req.push_back(static_cast<std::uint8_t>(host.size()));
    req.insert(req.end(), host.begin(), host.end());
  }
  const unsigned p = static_cast<unsigned>(std::stoul(port));
  req.push_back(static_cast<std::uint8_t>(p >> 8));
  req.push_back(static_cast<std::uint8_t>(p & 0xff));
  co_await net::async_write(stream, net::buffer(req), use_awaitable);

  std::array<std::uint8_t, 4> head{};
  co_await net::async_read(stream, net::buffer(head), use_awaitable);
  if (head[0] != 5) co_return "the proxy does not speak SOCKS5";
  if (head[1] != 0) co_return "SOCKS5 CONNECT " + target + ": " + socks_reply_text(head[1]);
  // The bound address that follows is of no use to us, but it must be read.
  std::size_t rest = 0;
  if (head[3] == 1) rest = 4 + 2;
  else if (head[3] == 4) rest = 16 + 2;
  else if (head[3] == 3) {
    std::array<std::uint8_t, 1> len{};
    co_await net::async_read(stream, net::buffer(len), use_awaitable);
    rest = len[0] + 2u;
  } else {
    co_return "the SOCKS5 proxy answered with an unknown address type";
  }
  std::vector<std::uint8_t> bound(rest);
  co_await net::async_read(stream, net::buffer(bound), use_awaitable);
  co_return "";
}

}  // namespace

net::awaitable<std::string> open_proxy_tunnel(tcp_stream& stream, const proxy_target& proxy,
                                              const std::string& host, const std::string& port,
                                              std::optional<net::ip::address> resolved) {
  try {
    if (proxy.type == proxy_target::kind::http) co_return co_await http_connect(stream, proxy, authority(host, port));
    co_return co_await socks5(stream, proxy, host, port, proxy.type == proxy_target::kind::socks5 ? resolved : std::nullopt);
  } catch (const boost::system::system_error& e) {
    if (e.code() == boost::beast::error::timeout) co_return "the proxy did not answer in time";
    if (e.code() == net::error::eof) co_return "the proxy closed the connection";
    co_return e.code().message();
  }
}

}  // namespace wsbridge::netproc
