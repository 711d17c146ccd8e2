// The no-bridge reference for scripts/bench: a minimal single-process Boost.Beast
// client with one synchronous write per message, the way a simple client is written.
//
//   bench_reference send URL   send each stdin line as a text message, Close at EOF
//   bench_reference recv URL   write each message received to stdout, one per line
//   bench_reference echo URL   for each stdin line: send it, read the answer, print it
//
// ws:// on 127.0.0.1 only (ws://127.0.0.1:PORT/); no TLS, no extensions.

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <cstdio>
#include <cstring>
#include <string>
#include <unistd.h>
#include <vector>

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;

namespace {

/// Calls `f` with each line of stdin (without '\n'), read in large chunks.
template <class F>
void for_each_line(F&& f) {
  std::vector<char> buf(1 << 18);
  std::string partial;
  for (;;) {
    const ssize_t n = ::read(STDIN_FILENO, buf.data(), buf.size());
    if (n <= 0) break;
    const char* p = buf.data();
    const char* end = p + n;
    while (p < end) {
      const char* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
      if (!nl) {
        partial.append(p, end);
        break;
      }
      if (partial.empty()) {
        f(std::string_view(p, static_cast<std::size_t>(nl - p)));
      } else {
        partial.append(p, nl);
        f(std::string_view(partial));
        partial.clear();
      }
      p = nl + 1;
    }
  }
  if (!partial.empty()) f(std::string_view(partial));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: bench_reference send|recv|echo ws://127.0.0.1:PORT/\n");
    return 2;
  }
  const std::string mode = argv[1];
  const std::string url = argv[2];
  const auto host_start = url.find("://") + 3;
  const auto colon = url.find(':', host_start);
  const auto slash = url.find('/', colon);
  const std::string host = url.substr(host_start, colon - host_start);
  const std::string port = url.substr(colon + 1, slash - colon - 1);
  try {
    net::io_context ioc;
    tcp::resolver resolver(ioc);
    websocket::stream<tcp::socket> ws(ioc);
    net::connect(ws.next_layer(), resolver.resolve(host, port));
    ws.next_layer().set_option(tcp::no_delay(true));
    ws.handshake(host + ":" + port, slash == std::string::npos ? "/" : url.substr(slash));
    ws.text(true);
    beast::flat_buffer buffer;
    if (mode == "send") {
      for_each_line([&](std::string_view line) { ws.write(net::buffer(line.data(), line.size())); });
      ws.close(websocket::close_code::normal);  // returns once the server's Close has come
    } else if (mode == "recv") {
      std::string out;
      for (;;) {
        ws.read(buffer);
        out.append(static_cast<const char*>(buffer.data().data()), buffer.size());
        out += '\n';
        buffer.consume(buffer.size());
        if (out.size() >= (1 << 16)) {
          std::fwrite(out.data(), 1, out.size(), stdout);
          out.clear();
        }
        if (out.empty()) continue;
        // Flush only when nothing more is waiting, as a pipe bridge must.
        if (ws.next_layer().available() == 0) {
          std::fwrite(out.data(), 1, out.size(), stdout);
          std::fflush(stdout);
          out.clear();
        }
      }
    } else if (mode == "echo") {
      for_each_line([&](std::string_view line) {
        ws.write(net::buffer(line.data(), line.size()));
        ws.read(buffer);
        std::fwrite(buffer.data().data(), 1, buffer.size(), stdout);
        std::fputc('\n', stdout);
        std::fflush(stdout);
        buffer.consume(buffer.size());
      });
      ws.close(websocket::close_code::normal);
    } else {
      std::fprintf(stderr, "bench_reference: unknown mode %s\n", mode.c_str());
      return 2;
    }
  } catch (const beast::system_error& e) {
    std::fflush(stdout);
    if (e.code() == websocket::error::closed) return 0;
    std::fprintf(stderr, "bench_reference: %s\n", e.code().message().c_str());
    return 1;
  }
  return 0;
}
