#pragma once
// Where a session stands on closing (RFC 6455 §7), as one value with one transition
// function, so that the order of the closing handshake is written down in one place
// and unit-tested (tests/unit/hostile.tests.cpp).

#include <cstdint>

namespace wsbridge::netproc {

/// Each phase is entered at most once, in this order; `answering` is entered instead
/// of `sent` when the server closes first.
enum class close_phase : std::uint8_t {
  none,       ///< no close begun (connecting, or open)
  lingering,  ///< all input sent: closing once the server has been quiet for --linger
  requested,  ///< a close was asked for (Ctrl+C, /close, --timeout, --max-messages,
              ///< ioproc gone): our Close goes out after the write in flight, and what
              ///< is still queued is dropped (and reported as not sent)
  sent,       ///< our Close is in the transport, maybe behind data the server is taking
  flushed,    ///< our Close is in the kernel: the server has --close-timeout to answer
  answering,  ///< the server closed first: Beast answers, then the session ends
  finished,   ///< the end is decided: leaving once ioproc has every frame
};

enum class close_event : std::uint8_t {
  linger,        ///< input ended and everything is sent
  request,       ///< a close is asked for
  send,          ///< our Close frame is written to the transport
  flushed,       ///< the kernel has our Close frame
  server_close,  ///< the server's Close frame arrived
  finish,        ///< the session's end is decided (status and close report)
};

/// The phase after `e` in phase `p`; `p` itself when `e` means nothing there (a second
/// request, a linger once closing, anything once finished). The server's Close in
/// `sent` or `flushed` completes the handshake: the caller finishes.
constexpr close_phase after(close_phase p, close_event e) {
  using cp = close_phase;
  if (p == cp::finished) return p;
  switch (e) {
    case close_event::linger:
      return p == cp::none ? cp::lingering : p;
    case close_event::request:
      return p <= cp::lingering ? cp::requested : p;
    case close_event::send:
      return p <= cp::requested ? cp::sent : p;
    case close_event::flushed:
      return p == cp::sent ? cp::flushed : p;
    case close_event::server_close:
      return p <= cp::requested ? cp::answering : p;
    case close_event::finish:
      return cp::finished;
  }
  return p;
}

/// Our Close frame is written (and the server's has not arrived before it).
constexpr bool our_close_sent(close_phase p) { return p == close_phase::sent || p == close_phase::flushed; }

}  // namespace wsbridge::netproc
