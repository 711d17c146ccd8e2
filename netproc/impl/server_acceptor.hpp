#pragma once
// server_acceptor's definitions: included by the translation units that instantiate
// it (server_acceptor.cpp for ws:// and ws+unix://, tls_session.cpp for wss://).

#include <sys/socket.h>

#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <algorithm>
#include <cctype>
#include <cstring>
#include <vector>

#include "bridge/common/version.hpp"
#include "bridge/protocol/exit_codes.hpp"
#include "bridge/protocol/limits.hpp"
#include "netproc/accept_path.hpp"
#include "netproc/forwarded.hpp"
#include "netproc/proxy_header.hpp"
#include "netproc/frame_writer.hpp"
#include "netproc/handshake.hpp"
#include "netproc/lock_down.hpp"
#include "netproc/server_acceptor.hpp"
#include "netproc/show_headers.hpp"
#include "netproc/web_responder.hpp"

namespace wsbridge::netproc {

template <class Layer>
void server_acceptor<Layer>::serve(accepted_handler<Layer> on_open) {
  on_open_ = std::move(on_open);
  parts_.end.access().accepted_at = std::chrono::steady_clock::now();
  if (!lock_down(parts_.cfg, parts_.board, parts_.out, parts_.end)) return;
  // A client that sends half a request and waits (slowloris) holds a netproc: the TLS
  // handshake and the whole request must arrive within --connect-timeout.
  beast::get_lowest_layer(ws_).expires_after(parts_.cfg.connect_timeout);
  if (parts_.cfg.proxy_protocol) return read_proxy_header();
  start_reading();
}

template <class Layer>
void server_acceptor<Layer>::read_proxy_header() {
  const proxy_header h = parse_proxy_header(proxy_bytes_);
  if (h.status == proxy_header::state::complete) {
    if (!h.local) {
      proxied_address_ = h.address;
      proxied_port_ = h.port;
    }
    return start_reading();
  }
  if (h.status == proxy_header::state::invalid)
    return parts_.end.fail("handshake", "PROXY protocol: " + h.error + " (--proxy-protocol); connection closed",
                     exit_handshake_rejected);
  // Exactly what the header still needs, from the socket itself: not one byte of the
  // request (or of TLS) after it.
  const std::size_t at = proxy_bytes_.size();
  proxy_bytes_.resize(at + h.wanted);
  net::async_read(beast::get_lowest_layer(ws_), net::buffer(proxy_bytes_.data() + at, h.wanted),
                  [self = this->shared_from_this()](error_code ec, std::size_t) {
                    if (!ec) return self->read_proxy_header();
                    self->parts_.end.fail("handshake",
                                    ec == beast::error::timeout
                                        ? "no PROXY protocol header within " + seconds_text(self->parts_.cfg.connect_timeout)
                                        : "PROXY protocol: the connection ended inside the header (" + ec.message() + ")",
                                    exit_handshake_rejected);
                  });
}

template <class Layer>
void server_acceptor<Layer>::start_reading() {
  if constexpr (is_tls_layer<Layer>) {
    parts_.end.set_state(connection_state::tls_handshake);
    tls_steps<Layer>::server_handshake(ws_, [self = this->shared_from_this()](error_code ec) {
      if (!ec) return self->read_request();
      self->parts_.end.fail("tls",
                      ec == beast::error::timeout ? "no TLS handshake within " + seconds_text(self->parts_.cfg.connect_timeout)
                                                  : ec.message(),
                      exit_connect_failed);
    });
  } else {
    read_request();
  }
}

template <class Layer>
void server_acceptor<Layer>::read_request() {
  parts_.end.set_state(connection_state::upgrading);
  request_.emplace();
  request_->header_limit(static_cast<std::uint32_t>(limits::max_upgrade_head));
  request_->body_limit(0);  // an upgrade request has no body (RFC 6455 §4.1)
  http::async_read(ws_.next_layer(), buffer_, *request_,
                   beast::bind_front_handler(&server_acceptor::on_request, this->shared_from_this()));
}

template <class Layer>
void server_acceptor<Layer>::on_request(error_code ec, std::size_t) {
  beast::get_lowest_layer(ws_).expires_never();
  if (ec) {
    // A request that broke HTTP's rules is answered, as a web server does (RFC 9110
    // §15.5.1, RFC 6585 §5), then the connection closes; one that never arrived whole
    // gets no answer.
    const bool too_large = ec == http::error::header_limit || ec == http::error::buffer_overflow;
    const bool malformed = ec.category() == error_code(http::error::bad_method).category() &&
                           ec != http::error::end_of_stream && ec != http::error::partial_message;
    if (too_large) {
      parts_.end.access().status = 431;
      send_refusal("431 Request Header Fields Too Large",
                   "request head larger than " + std::to_string(limits::max_upgrade_head) + " bytes\n");
    } else if (malformed) {
      parts_.end.access().status = 400;
      send_refusal("400 Bad Request", "not a valid HTTP request\n");
    }
    const std::string what = ec == beast::error::timeout ? "no complete upgrade request within " +
                                                               seconds_text(parts_.cfg.connect_timeout) + " (--connect-timeout)"
                             : ec == http::error::end_of_stream ? std::string("the client left without a request")
                             : too_large ? "request head larger than " + std::to_string(limits::max_upgrade_head) +
                                               " bytes; answered 431"
                                         : "not a valid HTTP request (" + ec.message() + ")" +
                                               (malformed ? "; answered 400" : "");
    return parts_.end.fail("handshake", what, exit_handshake_rejected);
  }
  hand_back_early_frames(ws_.next_layer(), buffer_);
  const auto& req = request_->get();
  parts_.end.access().target = std::string(req.target());
  if (parts_.cfg.verbose) show_headers(parts_.out, "<", req);
  identify_client(req);
  if (!websocket::is_upgrade(req)) {
    auto responder = std::make_shared<web_responder<Layer>>(ws_.next_layer(), this->shared_from_this(), parts_);
    return responder->answer(req);
  }
  // Cross-site WebSocket hijacking: a page on another site can open a connection with
  // the user's cookies; browsers say where the page came from (RFC 6455 §10.2).
  if (const auto origin = req[http::field::origin];
      !origin_allowed(origin, parts_.cfg.origins) || (parts_.cfg.same_origin_only && !same_origin_request(origin, client_host_))) {
    parts_.end.access().status = 403;
    send_refusal("403 Forbidden", "origin not allowed\n");
    return parts_.end.fail("handshake",
                     "refused Origin '" + std::string(origin) + "' (" +
                         (!origin_allowed(origin, parts_.cfg.origins) ? std::string("--origin-allow")
                                                                : "--same-origin: not the Host '" + client_host_ + "'" +
                                                                      (client_host_ == std::string(req[http::field::host])
                                                                           ? std::string()
                                                                           : " the proxy forwarded")) +
                         ")",
                     exit_handshake_rejected);
  }
  const std::string chosen = choose_subprotocol(req[http::field::sec_websocket_protocol], parts_.cfg.subprotocols);
  ws_.set_option(websocket::stream_base::timeout{
      std::chrono::duration_cast<std::chrono::steady_clock::duration>(limits::handshake_timeout),
      websocket::stream_base::none(), false});
  // Beast calls the decorator once its answer is complete but for these, and after
  // negotiating permessage-deflate: the answer is kept, as a client keeps the server's.
  ws_.set_option(websocket::stream_base::decorator([this, chosen](websocket::response_type& res) {
    res.set(http::field::server, std::string("wsbridge/") + version_string);
    if (res.result() != http::status::switching_protocols) return;
    parts_.answer_sent = true;
    if (!chosen.empty()) res.set(http::field::sec_websocket_protocol, chosen);
    response_ = res;
    if (parts_.cfg.verbose) show_headers(parts_.out, ">", res);
    // --exec: the program starts while the 101 is on its way, so that it is ready
    // when the client's first message comes (the relay's `opened` would be a round
    // trip later). What it is told is what `opened` says (relay.hpp).
    if (parts_.cfg.frames_program)
      parts_.link.start_program(std::string(res[http::field::sec_websocket_protocol]) + "\n" +
                                std::string(res[http::field::sec_websocket_extensions]) + "\n" + program_env_);
  }));
  ws_.read_message_max(parts_.cfg.max_message);
  if (parts_.cfg.compress) {  // permessage-deflate (RFC 7692) if the client offers it
    websocket::permessage_deflate pmd;
    pmd.server_enable = true;
    ws_.set_option(pmd);
  }
  program_env_ = program_environment(req, chosen);
  // Beast checks the request (RFC 6455 §4.2.1) and answers a bad one itself: 400, or
  // 426 with the version it speaks.
  ws_.async_accept(req, beast::bind_front_handler(&server_acceptor::on_accept, this->shared_from_this()));
}

template <class Layer>
void server_acceptor<Layer>::send_refusal(const char* status, std::string_view body) {
  // Written at once and in full: a fresh socket's buffer takes a few hundred bytes,
  // and the session then ends with _exit, which would drop a buffered answer. Over
  // TLS the answer goes through the TLS layer, also at once.
  const std::string answer = std::string("HTTP/1.1 ") + status + "\r\nServer: wsbridge/" + version_string +
                             "\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) +
                             "\r\nConnection: close\r\n\r\n" + std::string(body);
  if constexpr (is_tls_layer<Layer>) {
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
void server_acceptor<Layer>::on_accept(error_code ec) {
  if (ec) {
    parts_.end.access().status = ec == websocket::error::bad_sec_version ? 426 : 400;
    return parts_.end.fail("handshake", "refused the client's upgrade request: " + ec.message(), exit_handshake_rejected);
  }
  parts_.end.access().status = 101;
  on_open_(std::move(ws_), std::move(response_), std::move(program_env_));
}

template <class Layer>
void server_acceptor<Layer>::identify_client(const http::request<http::empty_body>& req) {
  const std::string& peer = parts_.cfg.side.peer;
  const std::size_t colon = local ? std::string::npos : peer.rfind(':');  // a Unix socket's client has no address
  client_address_ = local ? "" : peer.substr(0, colon);
  client_port_ = colon == std::string::npos ? "" : peer.substr(colon + 1);
  if (client_address_.starts_with("[") && client_address_.ends_with("]"))
    client_address_ = client_address_.substr(1, client_address_.size() - 2);
  if (!proxied_address_.empty()) {  // --proxy-protocol: the proxy's word for who connected
    client_address_ = proxied_address_;
    client_port_ = proxied_port_;
    parts_.end.access().client = client_address_ + ":" + client_port_;
  }
  client_host_ = std::string(req[http::field::host]);
  // A Unix socket's peer is local: a proxy in front of it is trusted when listed as
  // the loopback address (nginx's proxy_pass to unix:).
  const std::string tcp_peer = local && proxied_address_.empty() ? std::string("127.0.0.1") : client_address_;
  if (parts_.cfg.trusted_proxies.empty() || !in_ranges(tcp_peer, parts_.cfg.trusted_proxies)) return;
  const auto joined = [&](std::string_view name) {
    std::string all;
    for (auto [it, end] = req.equal_range(name); it != end; ++it)
      all.append(all.empty() ? "" : ", ").append(it->value());
    return all;
  };
  const auto client = client_behind_proxies(joined("Forwarded"), joined("X-Forwarded-For"),
                                            joined("X-Forwarded-Host"), parts_.cfg.trusted_proxies);
  if (!client) return;
  client_address_ = client->address;
  client_port_ = client->port;
  if (!client->host.empty()) client_host_ = client->host;
  parts_.end.access().client = client->address + (client->port.empty() ? "" : ":" + client->port);
}

template <class Layer>
std::string server_acceptor<Layer>::program_environment(const http::request<http::empty_body>& req,
                                                        const std::string& subprotocol) const {
  // websocketd's CGI-style variables (RFC 3875 §4.1), so that its scripts run as they
  // are, then ours. One "NAME=value" per line; values from the request cannot hold a
  // line break (HTTP's parser refuses them).
  std::string path(req.target()), query;
  if (const auto q = path.find('?'); q != std::string::npos) {
    query = path.substr(q + 1);
    path.erase(q);
  }
  const std::string& peer = parts_.cfg.side.peer;
  const std::string& addr = client_address_;
  const std::string& port = client_port_;
  std::string host(req[http::field::host]);
  // A Host without a port means the scheme's default (behind systemd's socket we know
  // no port of our own either).
  std::string server_port = !parts_.cfg.listen_port.empty() ? parts_.cfg.listen_port : is_tls_layer<Layer> ? "443" : "80";
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
  if constexpr (is_tls_layer<Layer>) add("HTTPS", "on");
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

}  // namespace wsbridge::netproc
