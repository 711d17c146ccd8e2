#pragma once
// The two steps of the server's accept path that decide which of a client's bytes
// reach ioproc, and how: shared by the session and the request-path fuzz target
// (tests/fuzz/fuzz_accept.cpp), so that the fuzzer runs the code the server runs.

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <string>
#include <string_view>

#include "bridge/protocol/ipc.hpp"

namespace wsbridge::netproc {

/// After the upgrade request was read with http::async_read into `buffer`: whatever
/// followed its head is the client's first frames (a client may send them without
/// waiting for the 101). They go back to the transport, in front of the socket, so that
/// Beast parses them as frames; `buffer` is left empty, ready for messages.
template <class Transport, class DynamicBuffer>
void hand_back_early_frames(Transport& transport, DynamicBuffer& buffer) {
  // Put back in one piece: unread() puts its bytes in front of those it holds.
  transport.unread(boost::beast::buffers_to_string(buffer.data()));
  buffer.consume(buffer.size());
}

/// One message Beast read into `buffer` (all of it, nothing else), appended to `out`
/// as one IPC frame whose header counts every byte: nothing from the peer reaches
/// ioproc's pipe outside a frame the codec made. `buffer` is left empty.
template <class DynamicBuffer>
void frame_received_message(std::string& out, bool text, DynamicBuffer& buffer) {
  const auto data = buffer.cdata();
  ipc::append_frame(out, text ? ipc::frame_type::text : ipc::frame_type::binary,
                    std::string_view(static_cast<const char*>(data.data()), data.size()));
  buffer.consume(buffer.size());
}

}  // namespace wsbridge::netproc
