#include "bridge/supervisor/listener.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <deque>
#include <map>
#include <set>
#include <memory>
#include <netinet/in.h>
#include <optional>
#include <poll.h>
#include <string>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <utility>
#include <vector>

#include "bridge/common/fd_util.hpp"
#include "bridge/common/safe_text.hpp"
#include "bridge/common/sandbox.hpp"
#include "bridge/protocol/close_codes.hpp"
#include "bridge/protocol/ipc.hpp"
#include "bridge/supervisor/file_opener.hpp"
#include "bridge/supervisor/net_reports.hpp"
#include "bridge/supervisor/program_launcher.hpp"
#include "bridge/protocol/exit_codes.hpp"
#include "bridge/protocol/limits.hpp"
#include "bridge/supervisor/process_spawn.hpp"
#include "bridge/protocol/child_fd.hpp"
#include "bridge/protocol/status_board.hpp"
#include "bridge/supervisor/request_gate.hpp"
#include "bridge/supervisor/spare_factory.hpp"

namespace wsbridge {
namespace {

using clock = std::chrono::steady_clock;

/// What a client over --max-connections gets (RFC 9110 §15.6.4), without a byte of its
/// request read: the listener parses nothing a client sends.
constexpr std::string_view busy_answer =
    "HTTP/1.1 503 Service Unavailable\r\n"
    "Content-Type: text/plain\r\n"
    "Content-Length: 43\r\n"
    "Retry-After: 1\r\n"
    "Connection: close\r\n"
    "\r\n"
    "wsbridge: busy (--max-connections reached)\n";

/// What a client gets when its request did not arrive in time (RFC 9110 §15.5.9).
constexpr std::string_view timeout_answer =
    "HTTP/1.1 408 Request Timeout\r\n"
    "Content-Type: text/plain\r\n"
    "Content-Length: 44\r\n"
    "Connection: close\r\n"
    "\r\n"
    "wsbridge: the upgrade request did not arrive\n";

/// A refused socket is kept open until the client has sent its request and seen our
/// answer: closed with its request unread, the kernel would send a reset, which can
/// destroy the 503 before the client reads it.
struct refused_socket {
  unique_fd fd;
  clock::time_point until;
};
constexpr std::size_t max_refused = 64;
constexpr auto refused_linger = std::chrono::seconds(2);

std::string address_text(const sockaddr_storage& a) {
  char host[INET6_ADDRSTRLEN] = "?";
  unsigned port = 0;
  if (a.ss_family == AF_INET) {
    const auto& in = reinterpret_cast<const sockaddr_in&>(a);
    ::inet_ntop(AF_INET, &in.sin_addr, host, sizeof host);
    port = ntohs(in.sin_port);
    return std::string(host) + ":" + std::to_string(port);
  }
  const auto& in6 = reinterpret_cast<const sockaddr_in6&>(a);
  ::inet_ntop(AF_INET6, &in6.sin6_addr, host, sizeof host);
  port = ntohs(in6.sin6_port);
  std::string text = "[";  // appended: GCC 12's -Wrestrict misfires on "[" + std::string
  text += host;
  return text + "]:" + std::to_string(port);
}

/// A connection's supervisor, as the listener sees it.
struct connection {
  std::string peer;
  std::unique_ptr<status_board_mapping> board;  ///< made here, used by its processes
  clock::time_point accepted_at;
  bool dropped = false;  ///< killed for a newer one while in its upgrade, not reaped yet

  /// Its netproc has completed the upgrade (read without asking: the board is shared).
  bool upgraded() const { return board->get()->opened.load(std::memory_order_relaxed) != 0; }
};

/// --exec: a connection as the listener, its one monitor, sees it. Its processes are
/// the listener's own children: a sandboxed netproc, which frames the program's pipes
/// itself, and the program, started here when netproc says the connection is open.
/// The listener holds one descriptor per connection (the channel), so that a process
/// limit, not ours, bounds how many it can serve.
struct served {
  std::string peer;
  std::size_t board = 0;  ///< its page in the listener's board_file, mapped by its netproc alone
  std::uint64_t id = 0;   ///< its number in served_ (ids grow: the oldest is the smallest)
  /// Its netproc said the upgrade is done (program_start, as the 101 goes out): it
  /// counts against --max-connections, and can no longer be dropped for a newer one.
  bool upgraded = false;
  clock::time_point accepted_at;
  unique_fd channel;      ///< a socket: requests and file descriptors to netproc, its reports back
  net_reports reports;    ///< what netproc said, checked as it came
  pid_t net = -1;         ///< netproc, -1 once reaped
  bool net_killed_by_us = false;
  bool dropped = false;   ///< killed for a newer one while in its upgrade
  std::optional<clock::time_point> kill_net_at;  ///< interrupted: its grace to send a Close
  pid_t program = -1;     ///< the program, -1 before it starts and once reaped
  pid_t group = -1;       ///< its process group, while something may be left in it
  bool program_signalled = false;  ///< ended by us: its status is ours, not a failure
  int program_step = 0;   ///< ending it after netproc: 0 EOF given, 1 SIGTERM sent, 2 SIGKILL sent
  std::optional<clock::time_point> program_at;  ///< the next step of ending it
  std::optional<clock::time_point> group_at;    ///< what it left in its group gets SIGKILL

  bool done() const { return net < 0 && program < 0 && group < 0; }
};

/// A netproc forked ahead of time, waiting for its connection (net_settings::pooled).
struct pooled_net {
  pid_t pid = -1;
  unique_fd channel;
  std::size_t board = 0;
};

/// Raises the soft limit on descriptors to the hard one (each connection waiting for
/// its request holds one here) and returns the limit the listener started with, which
/// its connections get back.
rlim_t raise_descriptor_limit() {
  rlimit r{};
  if (::getrlimit(RLIMIT_NOFILE, &r) != 0) return 1024;
  const rlim_t before = r.rlim_cur;
  r.rlim_cur = r.rlim_max;
  if (::setrlimit(RLIMIT_NOFILE, &r) != 0) return before;
  return before;
}

/// How many connections may wait for their request at once: limits::max_waiting_requests,
/// or a quarter of the descriptors we may have.
std::size_t gate_capacity() {
  rlimit r{};
  const rlim_t soft = ::getrlimit(RLIMIT_NOFILE, &r) == 0 ? r.rlim_cur : 1024;
  return std::max<std::size_t>(16, std::min<std::size_t>(limits::max_waiting_requests, soft / 4));
}

class listener {
 public:
  listener(const config& cfg, child_roles roles)
      : cfg_(cfg),
        roles_(roles),
        original_nofile_(raise_descriptor_limit()),
        gate_(gate_capacity(), cfg.connect_timeout, cfg.target.tls) {}
  int run();

 private:
  bool open_socket(std::string* err);
  /// --listen systemd: the socket systemd passed (socket activation).
  bool take_systemd_socket(std::string* err);
  void accept_waiting();
  /// Answers with `answer` (nothing over TLS, which the listener does not speak) and
  /// closes once the client has read it (drain_refused).
  void refuse(unique_fd fd, std::string_view answer = busy_answer);
  void drain_refused(bool all);
  /// Its request head is complete: a connection gets its processes, unless the open
  /// ones are at --max-connections by now (503).
  void on_request_ready(unique_fd fd, const std::string& peer);
  std::size_t open_connections() const;
  void start_connection(unique_fd fd, const std::string& peer);
  /// In a connection's own process: its supervisor.
  int run_connection(const std::string& peer, status_board_mapping& board);
  /// Makes room for one more connection in its upgrade: the oldest one still in its
  /// upgrade is ended when there are limits::max_upgrading of them.
  void drop_oldest_upgrading();
  void on_signal(int sig, bool from_terminal);
  void reap();
  bool single() const { return cfg_.exec.empty(); }

  // ---- --exec: the monitor of every connection --------------------------------------
  void start_served(unique_fd fd, const std::string& peer);
  /// Forks a netproc that waits for its connection (from the spare factory while it
  /// runs, else from here); false and *err on failure.
  bool spawn_pooled(pooled_net& out, std::string* err);
  /// A spare's life, from its board's page on (in the spare).
  int run_spare(std::size_t page);
  /// Tops the pool up to its size (after the loop's events: off a connection's way).
  void refill_pool();
  /// Reads netproc's reports (a bounded amount, or `to_end` all there is); a frame out
  /// of place ends it as a crash would.
  void read_channel(served& s, bool to_end = false);
  /// Every channel epoll says is readable.
  void read_channels();
  /// Stops watching the channel and closes it (netproc has ended, or broke the protocol).
  void close_channel(served& c);
  /// The connection's upgrade is done: counted open, out of upgrading_.
  void mark_upgraded(served& c);
  void answer_file(served& s);
  void start_program(served& s);
  void tell_net(served& s, ipc::frame_type type, std::string_view payload);
  void on_served_exit(pid_t pid, int status);
  void on_net_exit(served& s, int status);
  void on_program_exit(served& s, int status);
  /// The next step of ending a program whose connection is over, or what it left
  /// behind; and an interrupted netproc's grace.
  void run_served_timers(clock::time_point now);
  /// Sets one of a connection's timers (kill_net_at, program_at, group_at) and queues it.
  void arm(served& c, std::optional<clock::time_point>& timer, clock::time_point at);
  void interrupt_served(served& s, int sig);
  std::optional<clock::time_point> next_served_timer() const;

  const config& cfg_;
  const child_roles roles_;
  unique_fd socket_;
  unique_fd signals_;
  std::map<pid_t, connection> connections_;  ///< connection supervisors by pid
  std::vector<refused_socket> refused_;
  const rlim_t original_nofile_;  ///< RLIMIT_NOFILE's soft limit as we found it
  request_gate gate_;             ///< accepted, request head not complete yet
  int interrupted_by_ = 0;
  bool served_once_ = false;    ///< without --exec: the one connection has ended
  int last_status_ = exit_ok;   ///< ... with this status
  unsigned accepted_ = 0;       ///< connections so far, to name Unix-socket clients
  clock::time_point paused_until_{};  ///< accept() failed for want of resources
  std::optional<clock::time_point> deadline_;  ///< when connections still open get SIGKILL
  std::map<std::uint64_t, served> served_;     ///< --exec: the connections, by number
  std::map<pid_t, std::uint64_t> served_pids_; ///< their netprocs and programs
  std::uint64_t next_served_ = 0;
  std::optional<program_launcher> launcher_;
  unique_fd channels_;            ///< --exec: epoll over the connections' channels
  board_file boards_;             ///< --exec: every connection's board, none mapped here
  std::map<pid_t, std::size_t> dying_spares_;  ///< spares killed unused: their boards, until reaped
  std::set<std::uint64_t> upgrading_;  ///< --exec: connections in their upgrade, oldest first
  std::size_t open_count_ = 0;         ///< --exec: upgraded connections whose netproc runs
  /// --exec: every timer armed (when, connection id), the soonest first.
  std::set<std::pair<clock::time_point, std::uint64_t>> served_timers_;
  std::deque<pooled_net> pool_;   ///< --exec: netprocs waiting for a connection
  spare_factory factory_;         ///< --exec: where they are forked from
  std::size_t pool_size_ = 0;
  net_settings pool_settings_;    ///< what each of them is given (the peer comes later)
};

int listener::run() {
  std::string err;
  signals_ = watch_signals(&err);
  if (!signals_) {
    std::fprintf(stderr, "wsbridge: %s\n", err.c_str());
    return exit_failure;
  }
  if (!open_socket(&err)) {
    std::fprintf(stderr, "wsbridge: listen: %s\n", err.c_str());
    return exit_connect_failed;
  }
  if (!single()) {
    // The connections' channels, watched with epoll: a poll set rebuilt on every
    // wake-up made opening 10,000 connections quadratic.
    channels_.reset(::epoll_create1(EPOLL_CLOEXEC));
    if (!channels_ || !boards_.create(&err)) {
      std::fprintf(stderr, "wsbridge: %s\n", channels_ ? err.c_str() : ("epoll: " + errno_text(errno)).c_str());
      return exit_failure;
    }
    // The programs' descendants that lose their parent become ours (tini's way), so
    // that they are reaped, and ended with their program's group.
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);
    launcher_.emplace(program_spec{cfg_.exec, cfg_.program_uid, cfg_.program_gid, original_nofile_});
    pool_settings_ = net_settings_of(cfg_, "");
    pool_settings_.pooled = true;
    pool_size_ = std::min<std::size_t>(limits::netproc_pool, cfg_.max_connections);
    // Forked now, while our heap is small (spare_factory.hpp). Without it (it could not
    // start, or has died), spares are forked from here.
    if (!factory_.start(boards_.fd(), roles_.prepare_netprocs, [this](std::size_t page) { return run_spare(page); }, &err) && cfg_.verbose)
      std::fprintf(stderr, "wsbridge: %s; spares are forked by the listener\n", err.c_str());
    refill_pool();
  }
  for (;;) {
    const bool accepting = socket_ && !interrupted_by_ && !(single() && served_once_) && clock::now() >= paused_until_;
    if (!accepting && connections_.empty() && served_.empty() && (gate_.size() == 0 || interrupted_by_)) break;
    std::vector<pollfd> fds{{signals_.get(), POLLIN, 0}};
    if (accepting) fds.push_back({socket_.get(), POLLIN, 0});
    for (const auto& r : refused_) fds.push_back({r.fd.get(), POLLIN, 0});
    const std::size_t gate_first = fds.size();
    if (!interrupted_by_) gate_.add_polls(fds);
    const std::size_t gate_end = fds.size();
    if (channels_) fds.push_back({channels_.get(), POLLIN, 0});
    int timeout_ms = refused_.empty() && clock::now() >= paused_until_ ? -1 : 100;
    const auto shorten = [&](clock::time_point at) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(at - clock::now());
      const int ms = static_cast<int>(std::max<long long>(0, left.count()));
      timeout_ms = timeout_ms < 0 ? ms : std::min(timeout_ms, ms);
    };
    if (const auto next = gate_.next_deadline(); next && !interrupted_by_)
      timeout_ms = timeout_ms < 0 ? static_cast<int>(next->count()) : std::min(timeout_ms, static_cast<int>(next->count()));
    if (const auto next = next_served_timer()) shorten(*next);
    if (deadline_) shorten(*deadline_);
    if (::poll(fds.data(), fds.size(), timeout_ms) < 0 && errno != EINTR) break;
    read_signals(signals_.get(), [this](const signalfd_siginfo& si) {
      if (si.ssi_signo != SIGCHLD) on_signal(static_cast<int>(si.ssi_signo), si.ssi_code == SI_KERNEL);
    });
    if (channels_ && fds[gate_end].revents) read_channels();
    reap();
    run_served_timers(clock::now());
    if (!interrupted_by_)
      gate_.service(
          fds.data() + gate_first, fds.size() - gate_first,
          [this](unique_fd fd, const std::string& peer) { on_request_ready(std::move(fd), peer); },
          [this](unique_fd fd, const std::string& peer) {
            if (cfg_.verbose)
              std::fprintf(stderr, "wsbridge: %s: no complete upgrade request within %llds (--connect-timeout); 408\n",
                           peer.c_str(), static_cast<long long>(std::chrono::ceil<std::chrono::seconds>(
                                             cfg_.connect_timeout).count()));
            refuse(std::move(fd), timeout_answer);
          });
    else
      gate_.clear();  // shutting down: nothing new starts
    if (accepting && fds.size() > 1 && (fds[1].revents & POLLIN)) accept_waiting();
    drain_refused(false);
    if (!interrupted_by_) refill_pool();
    if (deadline_ && clock::now() >= *deadline_) {
      for (const auto& [pid, c] : connections_) ::kill(pid, SIGKILL);
      for (auto& [id, c] : served_) {
        if (c.net > 0) ::kill(c.net, SIGKILL);
        if (c.group > 0) ::kill(-c.group, SIGKILL);
        c.net_killed_by_us = c.program_signalled = true;
      }
      deadline_.reset();
    }
  }
  drain_refused(true);
  if (!cfg_.listen_unix.empty()) ::unlink(cfg_.listen_unix.c_str());  // ours: made by bind()
  if (interrupted_by_) return 128 + interrupted_by_;
  return single() ? last_status_ : exit_ok;
}

bool listener::open_socket(std::string* err) {
  if (cfg_.listen_systemd) return take_systemd_socket(err);
  if (!cfg_.listen_unix.empty()) {
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    if (cfg_.listen_unix.size() >= sizeof a.sun_path) return *err = cfg_.listen_unix + ": path too long", false;
    // Never removed for the user: whatever is there may be another server's socket.
    struct stat st;
    if (::lstat(cfg_.listen_unix.c_str(), &st) == 0)
      return *err = cfg_.listen_unix + ": already exists (remove it, or choose another path)", false;
    std::memcpy(a.sun_path, cfg_.listen_unix.c_str(), cfg_.listen_unix.size());
    socket_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!socket_) return *err = "socket: " + errno_text(errno), false;
    if (::bind(socket_.get(), reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0)
      return *err = cfg_.listen_unix + ": " + errno_text(errno), false;
    if (::listen(socket_.get(), SOMAXCONN) != 0) return *err = "listen: " + errno_text(errno), false;
    std::fprintf(stderr, "wsbridge: listening on %s%s\n", cfg_.target.display.c_str(),
                 cfg_.exec.empty() ? "" : (" (--exec " + cfg_.exec[0] + ")").c_str());
    return true;
  }
  sockaddr_storage addr{};
  socklen_t len = 0;
  const int port = std::stoi(cfg_.listen_port);
  if (cfg_.listen_host.find(':') != std::string::npos) {
    auto& a = reinterpret_cast<sockaddr_in6&>(addr);
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(static_cast<std::uint16_t>(port));
    if (::inet_pton(AF_INET6, cfg_.listen_host.c_str(), &a.sin6_addr) != 1) return *err = "bad address", false;
    len = sizeof a;
  } else {
    auto& a = reinterpret_cast<sockaddr_in&>(addr);
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    if (::inet_pton(AF_INET, cfg_.listen_host.c_str(), &a.sin_addr) != 1) return *err = "bad address", false;
    len = sizeof a;
  }
  socket_.reset(::socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!socket_) return *err = "socket: " + errno_text(errno), false;
  const int one = 1;
  ::setsockopt(socket_.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(socket_.get(), reinterpret_cast<const sockaddr*>(&addr), len) != 0)
    return *err = address_text(addr) + ": " + errno_text(errno), false;
  if (::listen(socket_.get(), SOMAXCONN) != 0) return *err = "listen: " + errno_text(errno), false;
  len = sizeof addr;
  ::getsockname(socket_.get(), reinterpret_cast<sockaddr*>(&addr), &len);
  // Always said, -q or not: with port 0 it is the only way to learn the port.
  std::fprintf(stderr, "wsbridge: listening on %s://%s/%s\n", cfg_.target.tls ? "wss" : "ws", address_text(addr).c_str(),
               cfg_.exec.empty() ? "" : (" (--exec " + cfg_.exec[0] + ")").c_str());
  return true;
}

bool listener::take_systemd_socket(std::string* err) {
  // sd_listen_fds(3): the sockets start at descriptor 3, LISTEN_FDS of them, meant for
  // the process LISTEN_PID names. The variables are removed, so that no program we
  // start takes them for its own.
  const char* pid = std::getenv("LISTEN_PID");
  const char* count = std::getenv("LISTEN_FDS");
  const bool ours = pid && count && std::strtol(pid, nullptr, 10) == ::getpid();
  const long n = ours ? std::strtol(count, nullptr, 10) : 0;
  for (const char* name : {"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"}) ::unsetenv(name);
  if (n < 1)
    return *err = "systemd passed no socket (LISTEN_FDS and LISTEN_PID unset, or not for this process): "
                  "--listen systemd is for a service started by its .socket unit",
           false;
  constexpr int first = 3;  // SD_LISTEN_FDS_START
  int listening = 0, type = 0;
  socklen_t len = sizeof listening;
  sockaddr_storage addr{};
  socklen_t addr_len = sizeof addr;
  if (::getsockopt(first, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || !listening ||
      (len = sizeof type, ::getsockopt(first, SOL_SOCKET, SO_TYPE, &type, &len) != 0) || type != SOCK_STREAM ||
      ::getsockname(first, reinterpret_cast<sockaddr*>(&addr), &addr_len) != 0 ||
      (addr.ss_family != AF_INET && addr.ss_family != AF_INET6))
    return *err = "systemd's descriptor 3 is not a listening TCP socket (the .socket unit needs ListenStream= "
                  "with an address or a port, and Accept=no)",
           false;
  // Descriptors past the first are not ours to serve; they stay systemd's.
  for (long fd = first + 1; fd < first + n; ++fd) ::close(static_cast<int>(fd));
  ::fcntl(first, F_SETFD, FD_CLOEXEC);
  ::fcntl(first, F_SETFL, ::fcntl(first, F_GETFL) | O_NONBLOCK);
  socket_.reset(first);
  std::fprintf(stderr, "wsbridge: listening on %s://%s/ (systemd's socket%s)%s\n", cfg_.target.tls ? "wss" : "ws",
               address_text(addr).c_str(), n > 1 ? (", the first of " + std::to_string(n)).c_str() : "",
               cfg_.exec.empty() ? "" : (" (--exec " + cfg_.exec[0] + ")").c_str());
  return true;
}

void listener::accept_waiting() {
  for (;;) {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    unique_fd fd(::accept4(socket_.get(), reinterpret_cast<sockaddr*>(&addr), &len, SOCK_CLOEXEC));
    if (!fd) {
      // EAGAIN: all taken. EMFILE and the like: the socket stays readable, so polling
      // it would spin; pause a little (the backlog keeps the clients waiting, not lost).
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ECONNABORTED && errno != EINTR) {
        std::fprintf(stderr, "wsbridge: accept: %s\n", errno_text(errno).c_str());
        paused_until_ = clock::now() + std::chrono::milliseconds(100);
      }
      return;
    }
    ++accepted_;
    const std::string peer = addr.ss_family == AF_UNIX ? "unix#" + std::to_string(accepted_) : address_text(addr);
    if (open_connections() >= cfg_.max_connections) {
      if (cfg_.verbose) std::fprintf(stderr, "wsbridge: %s: refused with 503 (--max-connections %u)\n", peer.c_str(),
                                     cfg_.max_connections);
      refuse(std::move(fd));
      continue;
    }
    // Held until its request head is in: half a request costs a descriptor, no process.
    if (auto dropped = gate_.admit(std::move(fd), peer); dropped && cfg_.verbose)
      std::fprintf(stderr, "wsbridge: %s: closed with its request unfinished, for a newer connection (%zu waiting)\n",
                   dropped->c_str(), gate_.size());
  }
}

std::size_t listener::open_connections() const {
  // Without --exec, one connection at all: stdin and stdout serve one. With it,
  // --max-connections counts open ones; those still in their upgrade have a bound of
  // their own (drop_oldest_upgrading), so they cannot crowd out an open one.
  if (single()) return connections_.size();
  return open_count_;
}

void listener::on_request_ready(unique_fd fd, const std::string& peer) {
  if (open_connections() >= cfg_.max_connections) {
    if (cfg_.verbose) std::fprintf(stderr, "wsbridge: %s: refused with 503 (--max-connections %u)\n", peer.c_str(),
                                   cfg_.max_connections);
    return refuse(std::move(fd));
  }
  if (single()) return start_connection(std::move(fd), peer);
  drop_oldest_upgrading();
  start_served(std::move(fd), peer);
}

void listener::refuse(unique_fd fd, std::string_view answer) {
  if (!cfg_.target.tls) ::send(fd.get(), answer.data(), answer.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  ::shutdown(fd.get(), SHUT_WR);
  if (refused_.size() >= max_refused) return;  // closed now: a flood gets no lingering
  refused_.push_back({std::move(fd), clock::now() + refused_linger});
}

void listener::drain_refused(bool all) {
  const auto now = clock::now();
  std::erase_if(refused_, [&](refused_socket& r) {
    char buf[4096];
    for (;;) {  // discarded unread: the request is not ours to parse
      const ssize_t n = ::recv(r.fd.get(), buf, sizeof buf, MSG_DONTWAIT);
      if (n == 0) return true;  // the client has closed: done
      if (n < 0) return !(errno == EAGAIN || errno == EWOULDBLOCK) || all || now >= r.until;
    }
  });
}

void listener::drop_oldest_upgrading() {
  if (upgrading_.size() < limits::max_upgrading) return;
  const auto it = served_.find(*upgrading_.begin());
  // Its request head was complete (the gate saw to it): one still in its upgrade a
  // second later is stuck (a stalled TLS handshake), while a burst of fresh ones (100
  // clients at once on 2 cores) is only busy, and none of it is dropped.
  if (it != served_.end() && clock::now() - it->second.accepted_at < limits::upgrade_stuck) return;
  upgrading_.erase(upgrading_.begin());
  if (it == served_.end()) return;
  served& oldest = it->second;
  if (cfg_.verbose)
    std::fprintf(stderr, "wsbridge: %s: dropped while in its upgrade, for a newer connection (%zu in theirs)\n",
                 oldest.peer.c_str(), upgrading_.size() + 1);
  ::kill(oldest.net, SIGKILL);  // no program runs yet
  oldest.net_killed_by_us = oldest.dropped = true;
}

void listener::start_connection(unique_fd fd, const std::string& peer) {
  auto board = std::make_unique<status_board_mapping>();
  if (std::string err; !board->create(&err)) {
    std::fprintf(stderr, "wsbridge: %s: %s\n", peer.c_str(), err.c_str());
    return;
  }
  // The connection's supervisor: its socket at child_fd::accepted and every other
  // descriptor of ours closed (the listening socket, other clients' sockets), its
  // signals still blocked for its own signalfd. It dies with the listener, and its
  // children with it.
  const child_spec spec{"wsbridge-conn", {fd.get()}, SIGKILL, /*supervises=*/true};
  std::string err;
  const pid_t pid = spawn_child(spec, [&] { return run_connection(peer, *board); }, &err);
  if (pid < 0) {
    std::fprintf(stderr, "wsbridge: %s: %s\n", peer.c_str(), err.c_str());
    return;  // fd closes: the client sees the connection end
  }
  connections_.emplace(pid, connection{peer, std::move(board), clock::now()});
}

int listener::run_connection(const std::string& peer, status_board_mapping& board) {
  // In the child. The listener's descriptors are closed already; the members holding
  // them are left alone (their numbers may now be this connection's).
  rlimit nofile{};
  if (::getrlimit(RLIMIT_NOFILE, &nofile) == 0) {  // the limit a program expects (select() and FD_SETSIZE)
    nofile.rlim_cur = std::min(original_nofile_, nofile.rlim_max);
    ::setrlimit(RLIMIT_NOFILE, &nofile);
  }
  // The other connections' boards are unmapped: none of this connection's processes
  // (a compromised netproc least of all) can read or write them.
  for (auto it = connections_.begin(); it != connections_.end();)
    it = it->second.board.get() == &board ? std::next(it) : connections_.erase(it);
  const accepted_connection accepted{child_fd::accepted, peer, &board};
  return run_supervisor(cfg_, roles_, &accepted);
}

void listener::on_signal(int sig, bool from_terminal) {
  if (interrupted_by_) {  // a second one: end everything now
    for (const auto& [pid, c] : connections_) ::kill(pid, SIGKILL);
    deadline_ = clock::now();
    return;
  }
  interrupted_by_ = sig;
  socket_.reset();  // no new connections from here on
  // Each connection closes with 1001 (going away) and ends its program within the
  // graces. A terminal's Ctrl+C has reached them already (the whole foreground process
  // group gets it), and a second one would mean "now".
  if (!from_terminal)
    for (const auto& [pid, c] : connections_) ::kill(pid, sig);
  // --exec: the listener is their supervisor. Its netprocs ignore the terminal's
  // signals, and its programs are in groups of their own, so they hear it from us.
  for (auto& [id, c] : served_) interrupt_served(c, sig);
  for (const auto& n : pool_) ::kill(n.pid, SIGKILL);  // they serve nobody yet
  pool_.clear();  // their boards are not needed again: nothing new starts
  factory_.stop();
  deadline_ = clock::now() + cfg_.close_timeout + 2 * limits::exec_grace + std::chrono::seconds(2);
}

void listener::reap() {
  reap_children([this](pid_t pid, int status) {
    if (!single()) return on_served_exit(pid, status);
    if (connections_.erase(pid) == 0) return;
    served_once_ = true;
    last_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  });
}


// ---- --exec: the monitor of every connection ----------------------------------------

bool listener::spawn_pooled(pooled_net& n, std::string* err) {
  const auto slot = boards_.take();
  if (!slot) return *err = "status boards: " + errno_text(errno), false;
  n.board = *slot;
  unique_fd theirs;
  if (!make_socket_pair(n.channel, theirs, err)) {
    boards_.give_back(n.board);
    return false;
  }
  // netproc's descriptors (child_fd): no ioproc pipes; the channel serves both as its
  // requests (control_in) and its reports (to_supervisor); the socket comes later, by
  // the channel; the board file, for it to map its own page and close. Every other
  // descriptor of ours is closed in it (the listening socket, other channels).
  // Named "wsbridge-spare" until its connection comes (then "wsbridge-net"): ps shows
  // which ones serve a client.
  const std::size_t page = n.board;
  if (factory_.running()) {
    n.pid = factory_.spawn(theirs.get(), page, err);
    if (n.pid > 0) return true;
    if (cfg_.verbose) std::fprintf(stderr, "wsbridge: %s; spares are forked by the listener\n", err->c_str());
  }
  const child_spec spec{"wsbridge-spare", {-1, -1, theirs.get(), theirs.get(), -1, boards_.fd()}, SIGKILL};
  n.pid = spawn_child(spec, [&] { return run_spare(page); }, err);
  if (n.pid > 0) return true;
  boards_.give_back(n.board);
  return false;
}

int listener::run_spare(std::size_t page) {
  status_board* board = board_file::map(child_fd::boards, page);
  ::close(child_fd::boards);  // its own page only, from here on
  return board ? roles_.netproc(pool_settings_, {}, *board) : exit_failure;
}

void listener::refill_pool() {
  while (pool_.size() < pool_size_) {
    pooled_net n;
    std::string err;
    if (!spawn_pooled(n, &err)) return;  // tried again after the next event; connections fork their own
    pool_.push_back(std::move(n));
  }
}

void listener::start_served(unique_fd fd, const std::string& peer) {
  std::string err;
  std::string frame;
  ipc::append_frame(frame, ipc::frame_type::connection, peer);
  pooled_net n;
  for (;;) {
    if (!pool_.empty()) {
      n = std::move(pool_.front());
      pool_.pop_front();
    } else if (!spawn_pooled(n, &err)) {
      std::fprintf(stderr, "wsbridge: %s: %s\n", peer.c_str(), err.c_str());
      return;  // fd closes: the client sees the connection end
    }
    // The socket is the netproc's from here on; ours closes on return.
    if (send_with_fd(n.channel.get(), frame, fd.get()) == 0) break;
    ::kill(n.pid, SIGKILL);  // gone meanwhile: the next one (its board is free once it is reaped)
    dying_spares_[n.pid] = n.board;
  }
  ::fcntl(n.channel.get(), F_SETFL, O_NONBLOCK);  // read in our loop, as it comes
  served c;
  c.peer = peer;
  c.accepted_at = clock::now();
  c.board = std::move(n.board);
  c.channel = std::move(n.channel);
  c.reports.notices_allowed = true;
  c.net = n.pid;
  const std::uint64_t id = next_served_++;
  c.id = id;
  upgrading_.insert(id);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = id;
  ::epoll_ctl(channels_.get(), EPOLL_CTL_ADD, c.channel.get(), &ev);
  served_pids_[c.net] = id;
  served_.emplace(id, std::move(c));
}

void listener::read_channels() {
  epoll_event events[256];
  for (;;) {
    const int n = ::epoll_wait(channels_.get(), events, 256, 0);
    for (int i = 0; i < n; ++i)
      if (auto it = served_.find(events[i].data.u64); it != served_.end() && it->second.channel)
        read_channel(it->second);
    if (n < 256) return;
  }
}

void listener::mark_upgraded(served& c) {
  if (c.upgraded || c.dropped || c.net <= 0) return;
  c.upgraded = true;
  upgrading_.erase(c.id);
  ++open_count_;
}

void listener::close_channel(served& c) {
  if (!c.channel) return;
  ::epoll_ctl(channels_.get(), EPOLL_CTL_DEL, c.channel.get(), nullptr);
  c.channel.reset();
}

void listener::read_channel(served& c, bool to_end) {
  char buf[16384];
  // At most 16 reads (256 KiB) a wake-up: a program writing its stderr without pause
  // (its lines come here as notices) must not hold the loop from other connections.
  // epoll is level-triggered, so the rest is read on the next turn.
  for (int reads = 0; to_end || reads < 16; ++reads) {
    const ssize_t n = ::read(c.channel.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) break;
    if (n <= 0) {  // EOF: netproc has ended, or is ending
      close_channel(c);
      break;
    }
    if (std::string err; !c.reports.take(std::string_view(buf, static_cast<std::size_t>(n)), &err)) {
      // As a crash: the child is not trusted to go on (OpenSSH's monitor: fatal).
      std::fprintf(stderr, "wsbridge: %s: internal protocol error from the network process: %s\n", c.peer.c_str(),
                   safe_text(err).c_str());
      close_channel(c);
      if (c.net > 0) ::kill(c.net, SIGKILL);
      c.net_killed_by_us = true;
      return;
    }
  }
  if (!c.reports.notices.empty()) {
    // Made safe by netproc already; again here, as netproc is not trusted to have.
    write_all(STDERR_FILENO, safe_text(std::exchange(c.reports.notices, {}), /*keep_newlines=*/true));
  }
  if (c.reports.file_request) answer_file(c);
  if (c.reports.program_start) {
    mark_upgraded(c);
    start_program(c);
  }
}

void listener::tell_net(served& c, ipc::frame_type type, std::string_view payload) {
  if (!c.channel) return;
  std::string frame;
  ipc::append_frame(frame, type, payload);
  write_all(c.channel.get(), frame);  // a netproc gone meanwhile is found by reap()
}

void listener::answer_file(served& c) {
  const std::string path = std::move(*c.reports.file_request);
  c.reports.file_request.reset();
  if (c.channel) answer_file_request(c.channel.get(), cfg_.static_dir, path);
}

void listener::start_program(served& c) {
  const std::string opened = std::move(*c.reports.program_start);
  c.reports.program_start.reset();
  if (interrupted_by_ || c.net <= 0) return;
  started_program p;
  std::string err;
  int status = 0;
  if (!launcher_->start(opened, p, &err, &status)) {
    std::fprintf(stderr, "wsbridge: %s: %s\n", c.peer.c_str(), err.c_str());
    tell_net(c, ipc::frame_type::program_exit, std::to_string(status));
    return;
  }
  c.program = c.group = p.pid;
  served_pids_[p.pid] = served_pids_[c.net];
  std::string frame;
  ipc::append_frame(frame, ipc::frame_type::program_pipes, std::to_string(p.pid));
  const int fds[] = {p.to_stdin.get(), p.from_stdout.get(), p.from_stderr.get()};
  // Our copies close on return: from now on the pipes are the program's and netproc's
  // alone, and a netproc that is gone leaves the program EOF on its stdin.
  if (c.channel) send_with_fds(c.channel.get(), frame, fds);
}

void listener::on_served_exit(pid_t pid, int status) {
  const auto at = served_pids_.find(pid);
  if (pid == factory_.pid()) return factory_.forget();  // spares are forked here from now on
  if (at == served_pids_.end()) {  // a netproc of the pool, or a program's orphan (we are the subreaper)
    std::erase_if(pool_, [&](const pooled_net& n) { return n.pid == pid && (boards_.give_back(n.board), true); });
    if (auto d = dying_spares_.find(pid); d != dying_spares_.end()) {
      boards_.give_back(d->second);
      dying_spares_.erase(d);
    }
    return;
  }
  const std::uint64_t id = at->second;
  served_pids_.erase(at);
  auto it = served_.find(id);
  if (it == served_.end()) return;
  served& c = it->second;
  if (pid == c.net) on_net_exit(c, status);
  else if (pid == c.program) on_program_exit(c, status);
  if (c.done()) {
    boards_.give_back(c.board);
    served_.erase(it);
  }
}

void listener::on_net_exit(served& c, int status) {
  c.net = -1;
  upgrading_.erase(c.id);
  if (c.upgraded) --open_count_;
  c.kill_net_at.reset();
  // What it said last (a file request cannot be answered now; a program not started
  // will not be).
  if (c.channel) read_channel(c, /*to_end=*/true);
  close_channel(c);
  if (const int nr = boards_.sandbox_syscall(c.board); nr != 0) {
    std::fprintf(stderr, "wsbridge: %s: network process stopped by its sandbox (system call %s)\n", c.peer.c_str(),
                 sandbox::syscall_name(nr).c_str());
  } else if (WIFSIGNALED(status) && !c.net_killed_by_us) {
    const int sig = WTERMSIG(status);
    if (sig == SIGABRT)
      std::fprintf(stderr, "wsbridge: %s: network process aborted (out of memory, or an internal check failed)\n",
                   c.peer.c_str());
    else
      std::fprintf(stderr, "wsbridge: %s: network process killed by signal %d (%s)\n", c.peer.c_str(), sig,
                   ::strsignal(sig));
  }
  // Its end of the program's stdin closed with it: the program has EOF, and the
  // grace to end (then SIGTERM, then SIGKILL to its group, each after the grace).
  if (c.program > 0 && !c.program_at) {
    c.program_step = 0;
    arm(c, c.program_at, clock::now() + limits::exec_grace);
  }
}

void listener::on_program_exit(served& c, int status) {
  c.program = -1;
  c.program_at.reset();
  // Its status decides the Close (1011 when it failed): netproc waits for it.
  tell_net(c, ipc::frame_type::program_exit, std::to_string(status));
  // A program that failed is always said, with its connection (-q or not), as a web
  // server logs a CGI script's failure.
  if (c.program_signalled) {
    if (c.program_step > 0 && !interrupted_by_)
      std::fprintf(stderr, "wsbridge: %s: the program did not exit after its input ended; it was stopped with a signal\n",
                   c.peer.c_str());
  } else if (WIFSIGNALED(status)) {
    std::fprintf(stderr, "wsbridge: %s: the program was killed by signal %d (%s)\n", c.peer.c_str(), WTERMSIG(status),
                 ::strsignal(WTERMSIG(status)));
  } else if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "wsbridge: %s: the program exited with status %d\n", c.peer.c_str(), WEXITSTATUS(status));
  }
  // What it started and left behind is in its group (unless it made a group or
  // session of its own): SIGTERM, the grace, SIGKILL. No process outlives its connection.
  if (::kill(-c.group, SIGTERM) == 0) arm(c, c.group_at, clock::now() + limits::exec_grace);
  else c.group = -1;
}

void listener::arm(served& c, std::optional<clock::time_point>& timer, clock::time_point at) {
  timer = at;
  served_timers_.emplace(at, c.id);
}

void listener::run_served_timers(clock::time_point now) {
  // Only the connections with a timer due: a walk over all of them on every wake-up
  // made opening 10,000 connections quadratic. An entry whose timer has since been
  // reset or moved finds nothing due.
  while (!served_timers_.empty() && served_timers_.begin()->first <= now) {
    const std::uint64_t id = served_timers_.begin()->second;
    served_timers_.erase(served_timers_.begin());
    const auto it = served_.find(id);
    if (it == served_.end()) continue;
    served& c = it->second;
    if (c.kill_net_at && now >= *c.kill_net_at) {
      c.kill_net_at.reset();
      if (c.net > 0) ::kill(c.net, SIGKILL);
      c.net_killed_by_us = true;
    }
    if (c.program_at && now >= *c.program_at && c.program > 0) {
      c.program_signalled = true;
      c.program_step = std::min(c.program_step + 1, 2);
      ::kill(-c.group, c.program_step == 1 ? SIGTERM : SIGKILL);
      if (c.program_step == 1) arm(c, c.program_at, now + limits::exec_grace);
      else c.program_at.reset();
    }
    if (c.group_at && now >= *c.group_at) {
      ::kill(-c.group, SIGKILL);
      c.group_at.reset();
      c.group = -1;
    }
    if (c.done()) {
      boards_.give_back(c.board);
      served_.erase(it);
    }
  }
}

std::optional<clock::time_point> listener::next_served_timer() const {
  if (served_timers_.empty()) return std::nullopt;
  return served_timers_.begin()->first;
}

void listener::interrupt_served(served& c, int sig) {
  // The program hears it too, with its group.
  if (c.program > 0) {
    ::kill(-c.group, sig);
    c.program_signalled = true;
  }
  if (c.net <= 0) return;
  if (const auto state = boards_.state(c.board); state == connection_state::open || state == connection_state::upgrading) {
    // Tell the client why we leave (1001, going away), but wait only a short grace.
    // One in its upgrade may have sent its 101 already, which the client may have read
    // before netproc's board says open: netproc keeps the request for then, or ends
    // the attempt if no 101 went out (session_parts).
    std::string frame;
    ipc::append_frame(frame, ipc::frame_type::close_request, ipc::encode_close({close_going_away, false, ""}));
    if (c.channel) write_all(c.channel.get(), frame);
    arm(c, c.kill_net_at, clock::now() + limits::interrupt_grace);
  } else {
    // Nothing to say before the upgrade, and a closing connection has said it.
    ::kill(c.net, SIGKILL);
    c.net_killed_by_us = true;
  }
}

}  // namespace

int run_listener(const config& cfg, child_roles roles) {
  listener l(cfg, roles);
  return l.run();
}

}  // namespace wsbridge
