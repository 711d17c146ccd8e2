#pragma once
// Server mode: the answer to a request that is not a WebSocket upgrade, as a browser
// sends for the page that uses the socket. With --static-dir, the file the request
// names, opened by the supervisor beneath the directory and passed to us (the sandbox
// lets netproc open nothing); with --dev-console, the console page at /; otherwise
// 426 Upgrade Required, saying what this endpoint is. GET and HEAD only (405 else),
// one request per connection (Connection: close), then the session ends.

#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/steady_timer.hpp>
#include <cstdio>
#include <boost/beast/http.hpp>
#include <memory>
#include <string>
#include <string_view>

#include "bridge/common/version.hpp"
#include "bridge/protocol/exit_codes.hpp"
#include "bridge/protocol/limits.hpp"
#include "bridge/protocol/static_files.hpp"
#include "netproc/dev_console.hpp"
#include "netproc/io_outbox.hpp"
#include "netproc/layers.hpp"
#include "netproc/session_parts.hpp"

namespace wsbridge::netproc {

template <class Layer>
class web_responder : public std::enable_shared_from_this<web_responder<Layer>> {
 public:
  /// `stream` is the transport under the websocket; `owner` keeps it alive.
  web_responder(Layer& stream, std::shared_ptr<void> owner, session_parts& parts)
      : stream_(stream), owner_(std::move(owner)), parts_(parts), timer_(stream.get_executor()) {}

  void answer(const http::request<http::empty_body>& req) {
    head_only_ = req.method() == http::verb::head;
    if (req.method() != http::verb::get && !head_only_)
      return send_text(405, "Method Not Allowed", "only GET and HEAD are answered here\n", "Allow: GET, HEAD\r\n");
    if_modified_since_ = std::string(req[http::field::if_modified_since]);
    const auto path = static_path(req.target());
    if (!path) return not_found();
    path_ = *path;
    if (parts_.cfg.static_files) {
      parts_.link.on_file_answer = [self = this->shared_from_this()](const std::string& answer, int fd) {
        self->on_file_answer(answer, fd);
      };
      parts_.link.tell(ipc::frame_type::file_request, path_);
      return;
    }
    if (parts_.cfg.dev_console) return path_.empty() ? send_console() : not_found();
    send_text(426, "Upgrade Required",
              "This is a WebSocket endpoint (wsbridge): connect with ws:// (or wss://) instead of http://, "
              "for example: wsbridge ws://HOST:PORT/\n",
              "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n");
  }

 private:
  void on_file_answer(const std::string& answer, int fd) {
    if (answer == ipc::file_is_directory)
      return send_text(301, "Moved Permanently", "moved to /" + path_ + "/\n", "Location: /" + path_ + "/\r\n");
    if (!answer.starts_with(ipc::file_found) || fd < 0)
      return parts_.cfg.dev_console && path_.empty() ? send_console() : not_found();
    file_ = fd;
    // " SIZE MTIME", from the supervisor.
    unsigned long long size = 0;
    long long mtime = 0;
    if (std::sscanf(answer.c_str() + ipc::file_found.size(), " %llu %lld", &size, &mtime) != 2) return not_found();
    left_ = size;
    const std::string modified = http_date(static_cast<std::time_t>(mtime));
    if (const auto since = parse_http_date(if_modified_since_); since && mtime <= *since) {
      left_ = 0;
      return send_head(304, "Not Modified", "Last-Modified: " + modified + "\r\n", "", false);
    }
    // A directory's answer is its index.html (file_opener.hpp).
    const bool index = path_.empty() || path_.back() == '/';
    send_head(200, "OK", "Last-Modified: " + modified + "\r\nCache-Control: no-cache\r\n",
              content_type_for(index ? path_ + "index.html" : path_), true);
    if (head_only_) left_ = 0;
    send_file();
  }

  void not_found() { send_text(404, "Not Found", "not found\n", ""); }

  void send_console() {
    const std::string_view page = dev_console_page();
    send_head(200, "OK",
              "Cache-Control: no-cache\r\n"
              "Content-Security-Policy: default-src 'none'; script-src 'unsafe-inline'; "
              "style-src 'unsafe-inline'; connect-src 'self' ws: wss:\r\n",
              "text/html; charset=utf-8", true, page.size());
    if (!head_only_) stream_.write_raw(page);
    done();
  }

  void send_text(unsigned status, const char* reason, const std::string& body, const std::string& extra) {
    send_head(status, reason, extra, "text/plain; charset=utf-8", true, body.size());
    if (!head_only_) stream_.write_raw(body);
    done();
  }

  /// The status line and headers; the length is the file's (left_) unless given.
  void send_head(unsigned status, const char* reason, const std::string& extra, std::string_view type,
                 bool has_length, std::uint64_t length = ~std::uint64_t{0}) {
    status_ = status;
    std::string head = "HTTP/1.1 " + std::to_string(status) + " " + reason + "\r\nServer: wsbridge/" +
                       version_string + "\r\nDate: " + http_date(std::time(nullptr)) + "\r\n";
    if (!type.empty()) head += "Content-Type: " + std::string(type) + "\r\nX-Content-Type-Options: nosniff\r\n";
    if (has_length) head += "Content-Length: " + std::to_string(length == ~std::uint64_t{0} ? left_ : length) + "\r\n";
    head += extra + "Connection: close\r\n\r\n";
    stream_.write_raw(head);
  }

  /// The file in pieces of one socket batch, each read once the previous is taken:
  /// a large file is never held in memory, and a slow client slows the reading.
  void send_file() {
    if (left_ == 0) return done();
    std::string piece(std::min<std::uint64_t>(left_, limits::socket_batch), '\0');
    const ssize_t n = ::read(file_, piece.data(), piece.size());
    if (n <= 0) return done();  // the file shrank: the client sees a short body
    piece.resize(static_cast<std::size_t>(n));
    left_ -= static_cast<std::uint64_t>(n);
    stream_.write_raw(piece);
    stream_.async_flush([self = this->shared_from_this()](error_code ec) {
      if (ec) return self->end(exit_closed_abnormally);
      self->send_file();
    });
  }

  /// Everything is written: our side closes, and the session ends once the client has
  /// closed its side too, or after limits::web_linger.
  void done() {
    stream_.async_flush([self = this->shared_from_this()](error_code ec) {
      if (ec) return self->end(exit_closed_abnormally);
      auto& socket = beast::get_lowest_layer(self->stream_).socket();
      ::shutdown(socket.native_handle(), SHUT_WR);
      self->timer_.expires_after(limits::web_linger);
      self->timer_.async_wait([self](error_code timer_ec) {
        if (!timer_ec) self->end(exit_ok);
      });
      self->drain();
    });
  }

  void drain() {
    auto& socket = beast::get_lowest_layer(stream_).socket();
    socket.async_read_some(net::buffer(scratch_), [self = this->shared_from_this()](error_code ec, std::size_t) {
      if (ec) return self->end(exit_ok);  // EOF: the client has read it all and closed
      self->drain();
    });
  }

  void end(int status) {
    timer_.cancel();
    parts_.end.access().status = status_;
    parts_.end.finish(status, {}, connection_state::closed);
  }

  Layer& stream_;
  std::shared_ptr<void> owner_;
  session_parts& parts_;
  net::steady_timer timer_;
  bool head_only_ = false;
  std::string path_;
  std::string if_modified_since_;
  int file_ = -1;
  std::uint64_t left_ = 0;
  unsigned status_ = 0;
  char scratch_[4096];
};

}  // namespace wsbridge::netproc
