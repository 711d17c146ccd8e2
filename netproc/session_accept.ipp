// session<Layer>, server side (--listen): the client's upgrade request, checked and
// answered. The transfer and the closing are the client's code (the other .ipp files),
// with the frames unmasked (RFC 6455 §5.1). Part of session_impl.hpp.
#pragma once

namespace wsbridge::netproc {
namespace {  // internal linkage: see session_impl.hpp

template <class Layer>
void session<Layer>::serve() {
  accepted_at_ = std::chrono::steady_clock::now();
  start_watching();
  if (cfg_.sandbox && !lock_down()) return;
  // A client that sends half a request and waits (slowloris) holds three processes:
  // the TLS handshake and the whole request must arrive within --connect-timeout.
  beast::get_lowest_layer(ws_).expires_after(cfg_.connect_timeout);
  if constexpr (tls) this->start_server_tls();  // (`this->`: declared in the TLS module only)
  else read_request();
}

#ifdef WSBRIDGE_TLS_MODULE
template <class Layer>
void session<Layer>::start_server_tls() {
  set_state(connection_state::tls_handshake);
  ws_.next_layer().next_layer().async_handshake(
      net::ssl::stream_base::server, [self = this->shared_from_this()](error_code ec) {
        if (!ec) return self->read_request();
        const std::string what = ec == beast::error::timeout ? "no TLS handshake within " +
                                                                   seconds_text(self->cfg_.connect_timeout)
                                                             : ec.message();
        self->fail_before_open("tls", what, exit_connect_failed);
      });
}
#endif

template <class Layer>
void session<Layer>::read_request() {
  set_state(connection_state::upgrading);
  request_.emplace();
  request_->header_limit(static_cast<std::uint32_t>(limits::max_upgrade_head));
  request_->body_limit(0);  // an upgrade request has no body (RFC 6455 §4.1)
  http::async_read(ws_.next_layer(), read_buffer_, *request_,
                   beast::bind_front_handler(&session::on_request, this->shared_from_this()));
}

template <class Layer>
void session<Layer>::on_request(error_code ec, std::size_t) {
  beast::get_lowest_layer(ws_).expires_never();
  if (ec) {
    // A request that broke HTTP's rules is answered, as a web server does (RFC 9110
    // §15.5.1, RFC 6585 §5), then the connection closes; one that never arrived whole
    // gets no answer.
    const bool too_large = ec == http::error::header_limit || ec == http::error::buffer_overflow;
    const bool malformed = ec.category() == error_code(http::error::bad_method).category() &&
                           ec != http::error::end_of_stream && ec != http::error::partial_message;
    if (too_large) {
      answer_status_ = 431;
      send_refusal("431 Request Header Fields Too Large", "request head larger than " +
                                                           std::to_string(limits::max_upgrade_head) + " bytes\n");
    } else if (malformed) {
      answer_status_ = 400;
      send_refusal("400 Bad Request", "not a valid HTTP request\n");
    }
    const std::string what = ec == beast::error::timeout ? "no complete upgrade request within " +
                                                               seconds_text(cfg_.connect_timeout) + " (--connect-timeout)"
                             : ec == http::error::end_of_stream ? std::string("the client left without a request")
                             : too_large ? "request head larger than " + std::to_string(limits::max_upgrade_head) +
                                               " bytes; answered 431"
                                         : "not a valid HTTP request (" + ec.message() + ")" +
                                               (malformed ? "; answered 400" : "");
    return fail_before_open("handshake", what, exit_handshake_rejected);
  }
  hand_back_early_frames(ws_.next_layer(), read_buffer_);
  const auto& req = request_->get();
  target_ = std::string(req.target());
  if (cfg_.verbose) show_headers("<", req);
  // Cross-site WebSocket hijacking: a page on another site can open a connection with
  // the user's cookies; browsers say where the page came from (RFC 6455 §10.2).
  if (const auto origin = req[http::field::origin];
      !origin_allowed(origin, cfg_.origins) ||
      (cfg_.same_origin_only && !same_origin_request(origin, req[http::field::host]))) {
    answer_status_ = 403;
    send_refusal("403 Forbidden", "origin not allowed\n");
    return fail_before_open("handshake", "refused Origin '" + std::string(origin) + "' (" +
                                             (cfg_.origins.empty() ? "--same-origin" : "--origin-allow") + ")",
                            exit_handshake_rejected);
  }
  const std::string chosen = choose_subprotocol(req[http::field::sec_websocket_protocol], cfg_.subprotocols);
  ws_.set_option(websocket::stream_base::timeout{
      std::chrono::duration_cast<std::chrono::steady_clock::duration>(limits::handshake_timeout),
      websocket::stream_base::none(), false});
  // Beast calls the decorator once its answer is complete but for these, and after
  // negotiating permessage-deflate: the answer is kept, as a client keeps the server's.
  ws_.set_option(websocket::stream_base::decorator([this, chosen](websocket::response_type& res) {
    res.set(http::field::server, std::string("wsbridge/") + version_string);
    if (res.result() != http::status::switching_protocols) return;
    if (!chosen.empty()) res.set(http::field::sec_websocket_protocol, chosen);
    response_ = res;
    if (cfg_.verbose) show_headers(">", res);
  }));
  ws_.read_message_max(cfg_.max_message);
  if (cfg_.compress) {  // permessage-deflate (RFC 7692) if the client offers it
    websocket::permessage_deflate pmd;
    pmd.server_enable = true;
    ws_.set_option(pmd);
  }
  watch_control_frames();
  program_env_ = program_environment(req, chosen);
  // Beast checks the request (RFC 6455 §4.2.1) and answers a bad one itself: 400, or
  // 426 with the version it speaks.
  ws_.async_accept(req, beast::bind_front_handler(&session::on_accept, this->shared_from_this()));
}

template <class Layer>
void session<Layer>::send_refusal(const char* status, std::string_view body) {
  // Written at once and in full: a fresh socket's buffer takes a few hundred bytes,
  // and the session then ends with _exit, which would drop a buffered answer. Over
  // TLS the answer goes through the TLS layer, also at once.
  const std::string answer = std::string("HTTP/1.1 ") + status + "\r\nServer: wsbridge/" + version_string +
                             "\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) +
                             "\r\nConnection: close\r\n\r\n" + std::string(body);
  if constexpr (tls) {
    error_code ignored;
    net::write(ws_.next_layer().next_layer(), net::buffer(answer), ignored);
  } else {
    [[maybe_unused]] const ssize_t n =
        ::send(beast::get_lowest_layer(ws_).socket().native_handle(), answer.data(), answer.size(), MSG_NOSIGNAL);
  }
  // Ours is the last word: the client reads it before the end of the connection,
  // not a reset caused by its request bytes we leave unread.
  ::shutdown(beast::get_lowest_layer(ws_).socket().native_handle(), SHUT_WR);
}

template <class Layer>
void session<Layer>::on_accept(error_code ec) {
  if (ec) {
    answer_status_ = ec == websocket::error::bad_sec_version ? 426 : 400;
    return fail_before_open("handshake", "refused the client's upgrade request: " + ec.message(),
                            exit_handshake_rejected);
  }
  answer_status_ = 101;
  on_open();
}

template <class Layer>
std::string session<Layer>::program_environment(const http::request<http::empty_body>& req,
                                                 const std::string& subprotocol) const {
  // websocketd's CGI-style variables (RFC 3875 §4.1), so that its scripts run as they
  // are, then ours. One "NAME=value" per line; values from the request cannot hold a
  // line break (HTTP's parser refuses them).
  std::string path(req.target()), query;
  if (const auto q = path.find('?'); q != std::string::npos) {
    query = path.substr(q + 1);
    path.erase(q);
  }
  const std::string& peer = cfg_.side.peer;
  const std::size_t colon = local ? std::string::npos : peer.rfind(':');  // a Unix socket's client has no address
  std::string addr = local ? "" : peer.substr(0, colon), port = colon == std::string::npos ? "" : peer.substr(colon + 1);
  if (addr.starts_with("[") && addr.ends_with("]")) addr = addr.substr(1, addr.size() - 2);
  std::string host(req[http::field::host]);
  std::string server_port = cfg_.listen_port;
  if (const auto c = host.rfind(':'); c != std::string::npos && host.find(']', c) == std::string::npos) {
    server_port = host.substr(c + 1);
    host.erase(c);
  }
  std::string env;
  const auto add = [&](std::string_view name, std::string_view value) {
    env.append(name).append("=").append(value).append("\n");
  };
  add("GATEWAY_INTERFACE", "websocketd-CGI/0.1");
  add("SERVER_SOFTWARE", std::string("wsbridge/") + version_string);
  add("SERVER_PROTOCOL", "HTTP/1.1");
  add("SERVER_NAME", host);
  add("SERVER_PORT", server_port);
  add("REMOTE_ADDR", addr);
  add("REMOTE_HOST", addr);
  add("REMOTE_PORT", port);
  add("REQUEST_METHOD", std::string(req.method_string()));
  add("REQUEST_URI", std::string(req.target()));
  // As websocketd 0.4 serving one program: the script is "/", the path is PATH_INFO.
  add("SCRIPT_NAME", "/");
  add("PATH_INFO", path);
  add("PATH_TRANSLATED", path);
  unsigned char id[8];
  random_bytes(id, sizeof id);
  std::uint64_t unique = 0;
  std::memcpy(&unique, id, sizeof id);
  add("UNIQUE_ID", std::to_string(unique >> 1));
  add("QUERY_STRING", query);
  if constexpr (tls) add("HTTPS", "on");
  // Request headers as CGI's HTTP_* (RFC 3875 §4.1.18), by Apache httpd 2.4's rules: a
  // name with '_' is dropped, since X_Forwarded_For and X-Forwarded-For would both be
  // HTTP_X_FORWARDED_FOR and one could pose as the other; repeated headers are joined
  // into one value with ", " (RFC 9110 §5.3), Cookie with "; " (RFC 6265 §5.4).
  std::vector<std::pair<std::string, std::string>> headers;
  for (const auto& field : req) {
    const std::string_view raw(field.name_string().data(), field.name_string().size());
    if (raw.find('_') != std::string_view::npos) continue;
    std::string name = "HTTP_";
    for (char c : raw) name += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    const std::string_view value(field.value().data(), field.value().size());
    const auto same = std::find_if(headers.begin(), headers.end(), [&](const auto& h) { return h.first == name; });
    if (same == headers.end()) headers.emplace_back(std::move(name), std::string(value));
    else same->second.append(name == "HTTP_COOKIE" ? "; " : ", ").append(value);
  }
  for (const auto& [name, value] : headers) add(name, value);
  add("WSBRIDGE_REMOTE", peer);
  add("WSBRIDGE_SUBPROTOCOL", subprotocol);
  return env;
}

/// netproc's part of server mode, for ws:// and (in the TLS module) wss://: the socket
/// the listener accepted (child_fd::socket) becomes the session's; root is dropped.
inline void assign_accepted(tcp_stream::socket_type& socket, error_code& ec) {
  sockaddr_storage local{};
  socklen_t len = sizeof local;
  ::getsockname(child_fd::socket, reinterpret_cast<sockaddr*>(&local), &len);
  socket.assign(local.ss_family == AF_INET6 ? tcp::v6() : tcp::v4(), child_fd::socket, ec);
}

inline void assign_accepted(unix_stream::socket_type& socket, error_code& ec) {
  socket.assign(net::local::stream_protocol(), child_fd::socket, ec);
}

template <class Layer, class... StreamArgs>
int serve_accepted(const net_settings& cfg, status_board& board, net::io_context& ioc, StreamArgs&... stream_args) {
  typename beast::lowest_layer_type<Layer>::socket_type socket(ioc.get_executor());
  error_code ec;
  assign_accepted(socket, ec);
  if (!drop_root(cfg)) return exit_failure;
  auto s = std::make_shared<session<Layer>>(ioc, cfg, board, stream_args...);
  if (ec) {
    s->fail_now("accept", ec.message(), exit_failure);
  } else {
    s->adopt(std::move(socket));
    s->serve();
  }
  run_loop(ioc);
  return exit_failure;  // every path ends in _exit
}

}  // namespace
}  // namespace wsbridge::netproc
