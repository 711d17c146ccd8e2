// A fast WebSocket server for scripts/bench, on plain blocking sockets (one thread per
// connection) so that the server is never the bottleneck being measured.
//
//   bench_server sink            count the messages; print "RECEIVED <messages> <bytes>"
//   bench_server echo            send every frame back
//   bench_server flood N SIZE    send N text messages of SIZE bytes, then Close 1000
//
// Prints "PORT <n>" once listening on 127.0.0.1. No extensions are negotiated; frames
// are parsed as RFC 6455 §5.2 lays them out; anything unexpected ends the connection.

#include <arpa/inet.h>
#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <string>
#include <strings.h>
#include <vector>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

namespace {

enum class mode { sink, echo, flood };
mode g_mode = mode::sink;
std::uint64_t g_flood_count = 0;
std::size_t g_flood_size = 16;

bool write_all(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

void append_frame_header(std::string& out, std::uint8_t first, std::uint64_t len) {
  out += static_cast<char>(first);
  if (len < 126) {
    out += static_cast<char>(len);
  } else if (len < 65536) {
    out += static_cast<char>(126);
    out += static_cast<char>(len >> 8);
    out += static_cast<char>(len & 0xff);
  } else {
    out += static_cast<char>(127);
    for (int i = 7; i >= 0; --i) out += static_cast<char>((len >> (8 * i)) & 0xff);
  }
}

/// Reads the upgrade request and answers 101. Returns false if it is not one.
bool handshake(int fd) {
  std::string req;
  char buf[4096];
  while (req.find("\r\n\r\n") == std::string::npos) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0 || req.size() > 65536) return false;
    req.append(buf, static_cast<std::size_t>(n));
  }
  std::string key;
  for (std::size_t pos = 0; pos < req.size();) {
    const std::size_t end = req.find("\r\n", pos);
    const std::string line = req.substr(pos, end - pos);
    if (line.size() > 18 && strncasecmp(line.c_str(), "sec-websocket-key:", 18) == 0) {
      key = line.substr(18);
      key.erase(0, key.find_first_not_of(' '));
      key.erase(key.find_last_not_of(' ') + 1);
    }
    pos = end + 2;
    if (end == std::string::npos) break;
  }
  if (key.empty()) return false;
  const std::string magic = key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(magic.data()), magic.size(), digest);
  unsigned char accept[64];
  EVP_EncodeBlock(accept, digest, SHA_DIGEST_LENGTH);
  const std::string answer = std::string("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                         "Connection: Upgrade\r\nSec-WebSocket-Accept: ") +
                             reinterpret_cast<char*>(accept) + "\r\n\r\n";
  return write_all(fd, answer.data(), answer.size());
}

void unmask(char* p, std::size_t n, const unsigned char key[4]) {
  std::uint64_t k8;
  unsigned char kb[8] = {key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3]};
  std::memcpy(&k8, kb, 8);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    std::uint64_t v;
    std::memcpy(&v, p + i, 8);
    v ^= k8;
    std::memcpy(p + i, &v, 8);
  }
  for (; i < n; ++i) p[i] = static_cast<char>(p[i] ^ key[i % 4]);
}

const char close_reply[] = {static_cast<char>(0x88), 2, 0x03, static_cast<char>(0xe8)};

/// Reads frames until the client's Close; sinks or echoes them. Frames are parsed in
/// the read buffer itself, and a sunk message's payload is skipped, never copied: the
/// server shares the machine's cores with the client it measures.
void serve_frames(int fd) {
  std::string out;
  std::uint64_t messages = 0, bytes = 0;
  std::vector<char> buf(1 << 18);
  std::size_t have = 0;    // bytes of an incomplete frame kept at the front of buf
  std::uint64_t skip = 0;  // payload bytes of a sunk message still to come
  for (;;) {
    const ssize_t n = ::read(fd, buf.data() + have, buf.size() - have);
    if (n <= 0) break;
    const std::size_t end = have + static_cast<std::size_t>(n);
    std::size_t pos = static_cast<std::size_t>(std::min<std::uint64_t>(skip, end));
    skip -= pos;
    for (;;) {
      if (end - pos < 2) break;
      const auto* h = reinterpret_cast<const unsigned char*>(buf.data() + pos);
      const bool fin = h[0] & 0x80;
      const unsigned opcode = h[0] & 0x0f;
      std::uint64_t len = h[1] & 0x7f;
      std::size_t head = 2;
      if (len == 126) {
        if (end - pos < 4) break;
        len = (std::uint64_t{h[2]} << 8) | h[3];
        head = 4;
      } else if (len == 127) {
        if (end - pos < 10) break;
        len = 0;
        for (int i = 0; i < 8; ++i) len = (len << 8) | h[2 + i];
        head = 10;
      }
      const bool masked = h[1] & 0x80;
      const std::size_t key_at = head;
      if (masked) head += 4;
      if (end - pos < head) break;
      if (opcode <= 2 && g_mode == mode::sink) {
        bytes += len;
        if (fin) ++messages;
        if (end - pos < head + len) {  // the rest of it comes with the next reads
          skip = head + len - (end - pos);
          pos = end;
          break;
        }
        pos += head + len;
        continue;
      }
      if (end - pos < head + len) {
        if (head + len > buf.size()) buf.resize(head + len);
        break;
      }
      char* payload = buf.data() + pos + head;
      if (opcode == 8) {  // Close: answer, and that is the end
        write_all(fd, out.data(), out.size());
        write_all(fd, close_reply, sizeof close_reply);
        if (g_mode == mode::sink) std::printf("RECEIVED %llu %llu\n", static_cast<unsigned long long>(messages),
                                              static_cast<unsigned long long>(bytes));
        std::fflush(stdout);
        return;
      }
      if (opcode == 9) {  // Ping: Pong with the same data
        if (masked) unmask(payload, len, h + key_at);
        append_frame_header(out, 0x8a, len);
        out.append(payload, len);
      } else if (opcode <= 2) {  // echo
        bytes += len;
        if (fin) ++messages;
        if (masked) unmask(payload, len, h + key_at);
        append_frame_header(out, static_cast<std::uint8_t>((fin ? 0x80 : 0) | opcode), len);
        out.append(payload, len);
      }
      pos += head + len;
    }
    have = end - pos;
    std::memmove(buf.data(), buf.data() + pos, have);
    if (!out.empty()) {
      if (!write_all(fd, out.data(), out.size())) break;
      out.clear();
    }
  }
}

void flood(int fd) {
  std::string frame;
  append_frame_header(frame, 0x81, g_flood_size);
  frame.append(g_flood_size, 'x');
  std::string chunk;
  const std::size_t per_chunk = std::max<std::size_t>(1, (1 << 18) / frame.size());
  for (std::size_t i = 0; i < per_chunk; ++i) chunk += frame;
  std::uint64_t left = g_flood_count;
  while (left > 0) {
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(left, per_chunk));
    if (!write_all(fd, chunk.data(), n * frame.size())) return;
    left -= n;
  }
  const char close_frame[] = {static_cast<char>(0x88), 2, 0x03, static_cast<char>(0xe8)};
  write_all(fd, close_frame, sizeof close_frame);
  // The client's answer to our Close is the first frame it sends (no Ping is expected:
  // the bench runs no keepalive); once it is here, the server ends TCP, as RFC 6455
  // §7.1.1 asks of the server.
  char buf[4096];
  while (const ssize_t n = ::read(fd, buf, sizeof buf)) {
    if (n < 0 || (static_cast<unsigned char>(buf[0]) & 0x0f) == 8) break;
  }
}

void serve(int fd) {
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (handshake(fd)) {
    if (g_mode == mode::flood) flood(fd);
    else serve_frames(fd);
  }
  ::close(fd);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_server sink|echo|flood N SIZE\n");
    return 2;
  }
  const std::string m = argv[1];
  if (m == "sink") g_mode = mode::sink;
  else if (m == "echo") g_mode = mode::echo;
  else if (m == "flood" && argc == 4) {
    g_mode = mode::flood;
    g_flood_count = std::strtoull(argv[2], nullptr, 10);
    g_flood_size = std::strtoull(argv[3], nullptr, 10);
  } else {
    std::fprintf(stderr, "usage: bench_server sink|echo|flood N SIZE\n");
    return 2;
  }
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listener, 64) != 0 ||
      ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    std::perror("bench_server");
    return 1;
  }
  std::printf("PORT %u\n", ntohs(addr.sin_port));
  std::fflush(stdout);
  for (;;) {
    const int fd = ::accept(listener, nullptr, nullptr);
    if (fd < 0) continue;
    std::thread(serve, fd).detach();
  }
}
