// The server's request path as netproc runs it: the client's bytes (an upgrade request
// and whatever follows it, all of them chosen by the fuzzer, arriving in two reads)
// read by http::async_read through session_transport, the leftover handed back to the
// transport (hand_back_early_frames), Beast's accept, then every message Beast reads
// framed for ioproc (frame_received_message).
//
// The oracle: what would go down ioproc's pipe decodes, with the codec ioproc uses,
// into exactly the messages Beast returned, in order, and nothing else: no byte of the
// client's reaches the pipe outside a frame the codec built.
#include <boost/asio/io_context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/websocket.hpp>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "bridge/protocol/ipc.hpp"
#include "netproc/accept_path.hpp"
#include "netproc/session_transport.hpp"
#include "tests/support/memory_stream.hpp"

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using beast::error_code;

namespace {

struct message {
  bool text;
  std::string payload;
};

void run(net::io_context& ioc) {
  ioc.restart();
  ioc.poll();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  // The first byte splits the rest into what arrives with the request and what later.
  const std::string input(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::size_t split = input.empty() ? 0 : data[0] % (input.size() + 1);

  net::io_context ioc;
  websocket::stream<wsbridge::netproc::session_transport<fake::stream>> ws{ioc};
  ws.next_layer().next_layer().feed(input.substr(0, split));
  beast::flat_buffer buffer;
  http::request_parser<http::empty_body> parser;
  parser.header_limit(16 * 1024);
  parser.body_limit(0);
  bool head_done = false;
  http::async_read(ws.next_layer(), buffer, parser, [&](error_code ec, std::size_t) { head_done = !ec; });
  run(ioc);
  ws.next_layer().next_layer().feed(input.substr(split));
  run(ioc);
  if (!head_done) return 0;
  wsbridge::netproc::hand_back_early_frames(ws.next_layer(), buffer);
  if (buffer.size() != 0) __builtin_trap();
  ws.read_message_max(1 << 20);
  bool accepted = false;
  ws.async_accept(parser.get(), [&](error_code ec) { accepted = !ec; });
  run(ioc);
  if (!accepted) return 0;

  std::string to_io;            // what netproc would write to ioproc
  std::vector<message> read;    // what Beast returned
  std::function<void(error_code, std::size_t)> on_read = [&](error_code ec, std::size_t n) {
    if (ec) return;
    if (buffer.size() != n) __builtin_trap();  // a message is all the buffer holds
    read.push_back({ws.got_text(), beast::buffers_to_string(buffer.data())});
    wsbridge::netproc::frame_received_message(to_io, ws.got_text(), buffer);
    if (read.size() < 64) ws.async_read(buffer, on_read);
  };
  ws.async_read(buffer, on_read);
  run(ioc);

  wsbridge::ipc::frame_decoder decoder;
  if (!to_io.empty()) {  // (no memcpy into the empty space of an empty stream)
    auto space = decoder.prepare(to_io.size());
    std::memcpy(space.data(), to_io.data(), to_io.size());
    decoder.commit(to_io.size());
  }
  wsbridge::ipc::frame f;
  std::string err;
  for (const message& m : read) {
    if (decoder.next(f, &err) != wsbridge::ipc::frame_decoder::result::frame) __builtin_trap();
    const auto type = m.text ? wsbridge::ipc::frame_type::text : wsbridge::ipc::frame_type::binary;
    if (f.type != type || f.payload != m.payload) __builtin_trap();
  }
  if (decoder.next(f, &err) != wsbridge::ipc::frame_decoder::result::need_more || !decoder.empty()) __builtin_trap();
  return 0;
}
