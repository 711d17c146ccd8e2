#include "bridge/supervisor/supervisor.hpp"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <optional>
#include <random>
#include <poll.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "bridge/protocol/close_codes.hpp"
#include "bridge/protocol/exit_codes.hpp"
#include "bridge/common/fd_util.hpp"
#include "bridge/protocol/ipc.hpp"
#include "bridge/protocol/limits.hpp"
#include "bridge/supervisor/process_spawn.hpp"
#include "bridge/supervisor/file_opener.hpp"
#include "bridge/supervisor/net_reports.hpp"
#include "bridge/supervisor/reconnect.hpp"
#include "bridge/common/safe_text.hpp"
#include "bridge/common/sandbox.hpp"
#include "bridge/protocol/status_board.hpp"

namespace wsbridge {
namespace {

using clock = std::chrono::steady_clock;

/// --exec: how long ioproc may take to end the program (EOF, then SIGTERM and SIGKILL,
/// each after limits::exec_grace), and a second to report it.
constexpr auto program_wind_down = 2 * limits::exec_grace + std::chrono::seconds(1);

/// The parent pid of `pid` (from /proc/PID/stat), or -1.
pid_t parent_of(pid_t pid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
  unique_fd fd(::open(path, O_RDONLY | O_CLOEXEC));
  if (!fd) return -1;
  char buf[512];
  const ssize_t n = ::read(fd.get(), buf, sizeof buf - 1);
  if (n <= 0) return -1;
  buf[n] = '\0';
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses; the last ')' ends it.
  const char* end = std::strrchr(buf, ')');
  int ppid = -1;
  if (!end || std::sscanf(end + 1, " %*c %d", &ppid) != 1) return -1;
  return ppid;
}

/// Saves the terminal's settings at start and puts them back on every exit path of
/// the supervisor, whatever a child did to them (a crashed ioproc cannot restore).
class terminal_guard {
 public:
  terminal_guard() { saved_ = ::isatty(STDIN_FILENO) && ::tcgetattr(STDIN_FILENO, &termios_) == 0; }
  ~terminal_guard() { restore(); }
  void restore() {
    if (!saved_) return;
    // Called from the foreground normally; ignore SIGTTOU in case we were put in the
    // background meanwhile, or tcsetattr would stop us.
    auto old = ::signal(SIGTTOU, SIG_IGN);
    ::tcsetattr(STDIN_FILENO, TCSADRAIN, &termios_);
    ::signal(SIGTTOU, old);
  }

 private:
  struct termios termios_ {};
  bool saved_ = false;
};

struct child {
  const char* name;                  ///< "network process", for messages
  pid_t pid = -1;                    ///< -1 once reaped (or never started)
  std::optional<int> status;         ///< waitpid status once reaped
  bool killed_by_us = false;         ///< a signal we sent is not a crash
  unique_fd control;                 ///< our end of its control pipe
};

class supervisor {
 public:
  supervisor(const config& cfg, child_roles roles, const accepted_connection* accepted)
      : cfg_(cfg),
        roles_(roles),
        accepted_(accepted ? *accepted : accepted_connection{}),
        who_(accepted ? accepted->peer + ": " : ""),
        net_cfg_(cfg) {}
  int run();

 private:
  bool start(std::string* err);
  bool spawn_netproc(std::string* err);
  bool follow_redirect();
  /// --reconnect: netproc has ended (it wrote no `closed`): decide (reconnect.hpp) and
  /// schedule the next netproc, or hand ioproc the end. True when one will follow.
  bool consider_reconnect(int status);
  /// Reads what netproc tells us on its channel (child_fd::to_supervisor) into
  /// reports_; `to_end`: until EOF. A frame out of place ends netproc as a crash would.
  void read_reports(bool to_end);
  /// --static-dir: opens the file netproc asked for (file_opener.hpp) and answers.
  void answer_file_request();
  void start_reconnect();
  /// A notice to the user through ioproc, in order after netproc's; `last`: and the
  /// session's end (a `closed` frame), when no netproc follows.
  void tell_io(const std::string& step, const std::string& detail, bool last);
  /// Frames for ioproc on netproc's pipe, written as the pipe takes them: it is
  /// non-blocking (netproc's Asio makes it so, and we do too), and a full pipe (ioproc
  /// held up by a slow stdout) must never keep us from handling a signal.
  void send_to_io(std::string_view frames);
  void flush_to_io();
  /// No netproc follows: the pipes go once what we queued for ioproc is written.
  void release_net_pipes();
  void on_signal(const signalfd_siginfo& si);
  void on_deadline();
  void reap();
  void on_child_end(pid_t pid, int status);
  void kill_child(child& c, int sig);
  void kill_all(int sig);
  int exit_status() const;
  void report_child_end(const child& c) const;

  const config& cfg_;
  const child_roles roles_;
  accepted_connection accepted_;  ///< server mode: the connection (its socket is -1 once netproc has it)
  const std::string who_;         ///< server mode: which connection, in reports
  terminal_guard terminal_;
  status_board_mapping board_;
  child net_{"network process", -1, {}, false, {}};
  child io_{"I/O process", -1, {}, false, {}};
  // netproc's ends of its pipes to ioproc, kept so that a netproc started for a
  // redirect continues on the same pipes. Released once no netproc can follow: then
  // EOF on them means the network process is gone.
  unique_fd net_in_, net_out_, net_ctl_;
  std::string to_io_;            ///< send_to_io() frames the pipe has not taken yet
  bool release_when_flushed_ = false;
  unsigned redirects_ = 0;
  bool redirect_refused_ = false;  ///< a redirect answer we did not follow
  config net_cfg_;  ///< the command line as the current netproc's target needs it: cfg_, after redirects
  unique_fd signals_;
  int interrupted_by_ = 0;                 ///< first interrupting signal, 0 if none
  bool child_crashed_ = false;
  std::optional<clock::time_point> deadline_;  ///< when survivors get SIGKILL
  // --reconnect.
  unique_fd from_net_;               ///< our end of the current netproc's channel to us
  net_reports reports_;              ///< what it told us there
  std::string replay_;               ///< what it handed back, for the next one
  std::string replay_given_;         ///< what the current netproc was given to send first
  std::optional<clock::time_point> reconnect_at_;  ///< when the next netproc starts
  unsigned failures_ = 0;            ///< attempts in a row that did not hold
  std::uint64_t opened_at_spawn_ = 0, sent_at_spawn_ = 0;  ///< the board's counts then
  std::mt19937 jitter_{std::random_device{}()};
};

int supervisor::run() {
  std::string err;
  if (!start(&err)) {
    std::fprintf(stderr, "wsbridge: %s\n", err.c_str());
    kill_all(SIGKILL);
  }
  while (net_.pid > 0 || io_.pid > 0) {
    int timeout_ms = -1;
    for (const auto& at : {deadline_, reconnect_at_}) {
      if (!at) continue;
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(*at - clock::now());
      const int ms = static_cast<int>(std::max<long long>(0, left.count()));
      timeout_ms = timeout_ms < 0 ? ms : std::min(timeout_ms, ms);
    }
    pollfd p[3] = {{signals_.get(), POLLIN, 0},
                   {from_net_ ? from_net_.get() : -1, POLLIN, 0},
                   {!to_io_.empty() && net_out_ ? net_out_.get() : -1, POLLOUT, 0}};
    const int r = ::poll(p, 3, timeout_ms);
    if (r < 0 && errno != EINTR) break;
    if (r > 0 && p[0].revents) read_signals(signals_.get(), [this](const signalfd_siginfo& si) { on_signal(si); });
    if (r > 0 && p[1].revents) read_reports(false);
    if (reports_.file_request) answer_file_request();
    if (r > 0 && p[2].revents) flush_to_io();
    if (deadline_ && clock::now() >= *deadline_) on_deadline();
    if (reconnect_at_ && clock::now() >= *reconnect_at_) start_reconnect();
    reap();
  }
  terminal_.restore();
  return err.empty() ? exit_status() : exit_failure;
}

bool supervisor::start(std::string* err) {
  signals_ = watch_signals(err);
  if (!signals_) return false;

  // --log: the transcript of a terminal session, opened here since ioproc may not open
  // files; appended to, so that sessions (and a server's connections) add up.
  unique_fd log;
  if (!cfg_.log_path.empty()) {
    if (!terminal_session_wanted(cfg_)) {
      *err = "--log records a terminal session (stdin and stdout a terminal); in a pipe, tee records what passes";
      return false;
    }
    log.reset(::open(cfg_.log_path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600));
    if (!log) {
      *err = "--log " + safe_text(cfg_.log_path) + ": " + errno_text(errno);
      return false;
    }
  }
  if (accepted_.board) board_ = std::move(*accepted_.board);
  else if (!board_.create(err)) return false;
  unique_fd io_to_net_w, net_to_io_r, io_ctl_r;
  if (!make_pipe(net_in_, io_to_net_w, err) || !make_pipe(net_to_io_r, net_out_, err) ||
      !make_pipe(io_ctl_r, io_.control, err))
    return false;
  ::fcntl(net_out_.get(), F_SETFL, O_NONBLOCK);  // see send_to_io()
  if (!spawn_netproc(err)) return false;
  // The message pipes hold 1 MiB rather than 64 KiB: each side then moves a whole
  // 256 KiB read in one write, with a quarter of the context switches. Best effort:
  // a smaller pipe only costs speed.
  for (int fd : {net_in_.get(), net_to_io_r.get()}) ::fcntl(fd, F_SETPIPE_SZ, limits::pipe_size);
  // ioproc gets SIGUSR1 when we die: in terminal mode it restores the terminal
  // settings (we cannot, being dead); in every mode it says so in one line and exits.
  child_spec io_spec{"wsbridge-io", {net_to_io_r.get(), io_to_net_w.get(), io_ctl_r.get()}, SIGUSR1};
  if (log) io_spec.fds.insert(io_spec.fds.end(), {-1, -1, log.get()});  // child_fd::log
  const io_settings io = io_settings_of(cfg_, accepted_.peer);
  io_.pid = spawn_child(io_spec, [this, &io] { return roles_.ioproc(io, *board_.get()); }, err);
  return io_.pid >= 0;
  // The children's pipe ends close here as the unique_fds go out of scope: from now
  // on, EOF on a pipe means the process at the other end has gone.
}

bool supervisor::spawn_netproc(std::string* err) {
  // Server mode: a socket, so that the descriptor of a file for --static-dir can go
  // with its answer (SCM_RIGHTS); otherwise a pipe.
  if (!(accepted_.socket >= 0 ? make_socket_pair(net_ctl_, net_.control, err)
                              : make_pipe(net_ctl_, net_.control, err)))
    return false;
  unique_fd to_us;
  if (!make_pipe(from_net_, to_us, err)) return false;
  ::fcntl(from_net_.get(), F_SETFL, O_NONBLOCK);  // read in our loop, as it comes
  reports_ = net_reports{};
  opened_at_spawn_ = board_.get()->opened_count.load(std::memory_order_relaxed);
  sent_at_spawn_ = board_.get()->messages_sent.load(std::memory_order_relaxed);
  // child_fd: peer_in, peer_out, control_in, to_supervisor, and socket in server mode.
  child_spec spec{"wsbridge-net", {net_in_.get(), net_out_.get(), net_ctl_.get(), to_us.get()}, SIGKILL};
  if (accepted_.socket >= 0) spec.fds.push_back(accepted_.socket);
  const net_settings net = net_settings_of(net_cfg_, accepted_.peer);
  net_ = child{"network process",
               spawn_child(spec, [this, &net] { return roles_.netproc(net, replay_given_, *board_.get()); }, err), {},
               false, std::move(net_.control)};
  net_ctl_.reset();
  // Server mode: the connection is netproc's alone from now on (its end closes it).
  if (accepted_.socket >= 0) ::close(std::exchange(accepted_.socket, -1));
  return net_.pid >= 0;
}

/// netproc left with a redirect answer: decide, with the one redirect policy
/// (resolve_redirect, config.hpp), and start the next netproc on the same pipes, or
/// end the session. A netproc that follows starts from the previous one's target, so
/// a chain keeps only the credentials every hop was entitled to.
bool supervisor::follow_redirect() {
  if (interrupted_by_ != 0 || io_.pid <= 0 || !reports_.redirect) return false;
  // From netproc, which parsed the server's answer: bounded by the codec, and judged
  // here by the one redirect policy.
  const std::string location = reports_.redirect->location.substr(0, limits::max_redirect_url);
  std::string url, why;
  if (reports_.redirect->location.size() > limits::max_redirect_url) {
    why = "the URL is too long to follow";
  } else if (resolve_redirect(net_cfg_.target, location, redirects_, cfg_.max_redirects, url, &why) &&
             apply_redirect(net_cfg_, url, &why)) {
    ++redirects_;
    if (cfg_.verbose) tell_io("redirect", "following " + net_cfg_.target.display, false);
    std::string err;
    if (spawn_netproc(&err)) return true;
    why = err;
  }
  redirect_refused_ = true;
  const std::string shown = location.size() > 200 ? location.substr(0, 200) + "..." : location;
  tell_io("handshake", "server answered HTTP " + std::to_string(reports_.redirect->status) +
                           " (Location: " + shown + "): " + why, true);
  return false;
}

void supervisor::answer_file_request() {
  const std::string path = std::move(*reports_.file_request);
  reports_.file_request.reset();
  if (net_.control) wsbridge::answer_file_request(net_.control.get(), cfg_.static_dir, path);
}

void supervisor::read_reports(bool to_end) {
  char buf[65536];
  while (from_net_) {
    const ssize_t n = ::read(from_net_.get(), buf, sizeof buf);
    if (n > 0) {
      if (std::string err; !reports_.take(std::string_view(buf, static_cast<std::size_t>(n)), &err)) {
        // As a crash: the child is not trusted to go on (OpenSSH's monitor: fatal).
        std::fprintf(stderr, "wsbridge: %sinternal protocol error from the network process: %s\n", who_.c_str(),
                     safe_text(err).c_str());
        from_net_.reset();
        reports_ = net_reports{};
        child_crashed_ = true;
        kill_child(net_, SIGKILL);
        return;
      }
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN && to_end) {  // netproc has exited: EOF is coming
      pollfd p{from_net_.get(), POLLIN, 0};
      ::poll(&p, 1, 1000);
      if (p.revents) continue;
    }
    if (n == 0 || to_end || errno != EAGAIN) from_net_.reset();
    return;
  }
}

bool supervisor::consider_reconnect(int status) {
  status_board& b = *board_.get();
  // From netproc's channel (it parsed the server's answers), checked as it came.
  const ipc::end_report reported = reports_.end.value_or(ipc::end_report{});
  const ipc::close_info& end_info = reported.close;
  replay_ = std::move(reports_.unsent);
  const bool forced = b.reconnect_requested.exchange(0, std::memory_order_relaxed) != 0;
  attempt_end end;
  end.status = status;
  end.opened = b.opened_count.load(std::memory_order_relaxed) != opened_at_spawn_;
  end.close_code = end_info.code;
  end.close_by_server = end_info.by_server;
  end.close_requested = b.close_requested.exchange(0, std::memory_order_relaxed) != 0;
  end.http_status = reported.http_status;
  end.retry_after = reported.retry_after;
  end.certificate_refused = reported.certificate_refused;
  end.work_left = cfg_.no_close || b.input_ended.load(std::memory_order_relaxed) == 0 ||
                  b.input_messages.load(std::memory_order_relaxed) > b.messages_sent.load(std::memory_order_relaxed);
  failures_ = end.opened ? 1 : failures_ + 1;
  // A netproc that never opened never took the replay it was given: it stays first.
  if (!end.opened) replay_.insert(0, replay_given_);
  replay_given_.clear();
  reconnect_decision d;
  if (forced) {  // /reconnect
    d.reconnect = true;
    failures_ = 0;
  } else if (interrupted_by_ == 0 && io_.pid > 0) {
    d = decide_reconnect(end, cfg_, failures_, std::uniform_real_distribution<double>(0, 1)(jitter_));
  }
  if (!d.reconnect) {
    if (!d.why_not.empty()) tell_io("reconnect", d.why_not, false);
    // The end netproc left for ioproc, as its own `closed` frame would have said it.
    std::string frame;
    ipc::append_frame(frame, ipc::frame_type::closed, ipc::encode_close(end_info));
    send_to_io(frame);
    replay_.clear();
    return false;
  }
  // What the user needs to know about the data (docs/guide.md).
  const std::uint64_t sent = b.messages_sent.load(std::memory_order_relaxed) - sent_at_spawn_;
  const std::uint64_t unsent = reported.unsent_messages;
  std::string line = forced ? std::string("reconnecting now (/reconnect)") : std::string();
  if (end.opened && !forced) {
    const auto add = [&](const std::string& part) { line += (line.empty() ? "" : "; ") + part; };
    // How it ended: a server that closed says why (a restart: 1001, 1012, 1013); else
    // the connection was lost.
    const bool closed = end.close_by_server && end_info.code != 0 && end_info.code != close_abnormal;
    if (closed)
      add("the server closed the connection: " + std::to_string(end_info.code) + " (" +
          close_code_meaning(end_info.code) + ")" + (end_info.reason.empty() ? "" : " \"" + safe_text(end_info.reason) + "\""));
    const std::string messages = std::to_string(sent) + " message" + (sent == 1 ? "" : "s");
    if (sent != 0)
      add(closed ? messages + " sent before it closed"
                 : messages + " sent on the lost connection (the kernel took them; the server may not have "
                              "processed the last)");
    if (unsent != 0) add(std::to_string(unsent) + " message" + (unsent == 1 ? "" : "s") + " to send again first");
  }
  if (!forced) {
    char wait[32];
    std::snprintf(wait, sizeof wait, "%.1f", std::chrono::duration<double>(d.delay).count());
    line += std::string(line.empty() ? "" : "; ") + "reconnecting in " + wait + " s (attempt " +
            std::to_string(failures_) + (cfg_.reconnect_attempts ? " of " + std::to_string(cfg_.reconnect_attempts) : "") +
            ")";
  }
  tell_io("reconnect", line, false);
  reconnect_at_ = clock::now() + d.delay;
  return true;
}

void supervisor::start_reconnect() {
  reconnect_at_.reset();
  if (interrupted_by_ != 0 || io_.pid <= 0) return;
  replay_given_ = std::move(replay_);
  replay_.clear();
  std::string err;
  if (!spawn_netproc(&err)) {
    tell_io("reconnect", err, true);
    release_net_pipes();
  }
}

void supervisor::tell_io(const std::string& step, const std::string& detail, bool last) {
  // Written where netproc's frames go, so that ioproc shows it in order after them,
  // as if the network process had said it (the frames' format is ipc.hpp's).
  std::string frames;
  ipc::append_frame(frames, ipc::frame_type::notice, step + ": " + safe_text(detail));
  if (last) ipc::append_frame(frames, ipc::frame_type::closed, ipc::encode_close({}));
  if (!net_out_) std::fprintf(stderr, "wsbridge: %s: %s\n", step.c_str(), safe_text(detail).c_str());
  send_to_io(frames);
}

void supervisor::send_to_io(std::string_view frames) {
  to_io_.append(frames);
  flush_to_io();
}

void supervisor::flush_to_io() {
  while (!to_io_.empty() && net_out_) {
    const ssize_t n = ::write(net_out_.get(), to_io_.data(), to_io_.size());
    if (n > 0) {
      to_io_.erase(0, static_cast<std::size_t>(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && errno == EAGAIN) {
      return;  // the main loop waits until the pipe takes more
    } else {
      to_io_.clear();  // EPIPE: ioproc has gone; the supervisor reports how it ended
    }
  }
  if (to_io_.empty() && release_when_flushed_) {
    release_when_flushed_ = false;
    net_in_.reset();
    net_out_.reset();
  }
}

void supervisor::release_net_pipes() {
  release_when_flushed_ = true;
  flush_to_io();
}

void supervisor::on_signal(const signalfd_siginfo& si) {
  const int sig = static_cast<int>(si.ssi_signo);
  if (sig == SIGCHLD) return;  // reap() runs after every wake-up
  if (interrupted_by_ != 0) {  // a second interrupt: end everything now
    kill_all(SIGKILL);
    return;
  }
  interrupted_by_ = sig;
  // --exec: the program hears it too, with its process group (its own, so that what
  // it started ends with it; a terminal's Ctrl+C does not reach it there). The pid
  // comes from the board, which netproc can write too: only a child of ioproc is
  // signalled, never whatever process a compromised netproc names.
  if (const pid_t program = board_.get()->program_pid.load(std::memory_order_relaxed);
      program > 0 && io_.pid > 0 && parent_of(program) == io_.pid)
    ::kill(-program, sig);
  const auto state = board_.get()->state.load(std::memory_order_acquire);
  // A server in its upgrade may have sent its 101 already, which its client may have
  // read before netproc's board says open: it is owed a Close too, and netproc keeps
  // the request for then (or ends the attempt if no 101 went out).
  const bool owes_close = state == connection_state::open || (cfg_.server() && state == connection_state::upgrading);
  if (owes_close && net_.pid > 0) {
    // Tell the peer why we leave (a client: 1000; a server: 1001, going away), but
    // wait only a short grace.
    std::string frame;
    ipc::append_frame(frame, ipc::frame_type::close_request,
                      ipc::encode_close({cfg_.server() ? close_going_away : close_normal, false, ""}));
    write_all(net_.control.get(), frame);
  } else {
    // Nothing to say to the server before the connection is open, and a closing
    // connection has already said it: stop now.
    deadline_ = clock::now();
    on_deadline();
    return;
  }
  deadline_ = clock::now() + limits::interrupt_grace;
}

void supervisor::on_deadline() {
  deadline_.reset();
  if (!cfg_.exec.empty() && io_.pid > 0 && net_.pid > 0 && interrupted_by_ != 0) {
    // --exec: ioproc ends the program in its own time (EOF, SIGTERM, SIGKILL, each
    // after limits::exec_grace); the network process has had its grace.
    kill_child(net_, SIGKILL);
    deadline_ = clock::now() + program_wind_down;
    return;
  }
  kill_all(SIGKILL);
}

void supervisor::reap() {
  reap_children([this](pid_t pid, int status) { on_child_end(pid, status); });
}

void supervisor::on_child_end(pid_t pid, int status) {
  child* c = pid == net_.pid ? &net_ : pid == io_.pid ? &io_ : nullptr;
  if (!c) return;
  c->pid = -1;
  c->status = status;
  c->control.reset();
  if (c == &net_) {
    read_reports(true);
    if (reports_.redirect && follow_redirect()) return;
    if (cfg_.reconnect && !reports_.redirect && WIFEXITED(status) && consider_reconnect(WEXITSTATUS(status))) return;
    release_net_pipes();
  }
  report_child_end(*c);
  if (c == &io_) reconnect_at_.reset();  // nobody left to reconnect for
  child& other = c == &net_ ? io_ : net_;
  const bool trapped = c == &net_ && board_.get()->sandbox_syscall.load(std::memory_order_relaxed) != 0;
  if ((WIFSIGNALED(status) && !c->killed_by_us) || trapped) {
    child_crashed_ = true;
    kill_child(other, SIGKILL);
  } else if (c == &io_ && other.pid > 0 && !deadline_) {
    // ioproc is done (input and output finished, or stdout closed): netproc now
    // closes the connection; give it the close timeout and a little more.
    deadline_ = clock::now() + cfg_.close_timeout + std::chrono::seconds(1);
  } else if (c == &net_ && other.pid > 0 && !cfg_.exec.empty()) {
    // --exec: netproc is gone; ioproc still ends the program, within its graces.
    deadline_ = clock::now() + program_wind_down;
  }
}

void supervisor::report_child_end(const child& c) const {
  if (&c == &net_) {
    if (const int nr = board_.get()->sandbox_syscall.load(std::memory_order_relaxed); nr != 0) {
      std::fprintf(stderr, "wsbridge: %snetwork process stopped by its sandbox (system call %s)\n", who_.c_str(),
                   sandbox::syscall_name(nr).c_str());
      return;
    }
  }
  if (!c.status || !WIFSIGNALED(*c.status) || c.killed_by_us) return;
  const int sig = WTERMSIG(*c.status);
  if (sig == SIGABRT) {  // abort(): std::bad_alloc at its memory limit, or a failed check
    std::fprintf(stderr, "wsbridge: %s%s aborted (out of memory, or an internal check failed)\n", who_.c_str(), c.name);
    return;
  }
  std::fprintf(stderr, "wsbridge: %s%s killed by signal %d (%s)\n", who_.c_str(), c.name, sig, ::strsignal(sig));
}

void supervisor::kill_child(child& c, int sig) {
  if (c.pid <= 0) return;
  c.killed_by_us = true;
  ::kill(c.pid, sig);  // ESRCH: already gone, and reap() will see it
}

void supervisor::kill_all(int sig) {
  // --exec: the program's process group first, while the program is still ioproc's
  // child (the same check as in on_signal): once ioproc is killed, PR_SET_PDEATHSIG
  // ends the program, but not what the program started.
  if (const pid_t program = board_.get() ? board_.get()->program_pid.load(std::memory_order_relaxed) : 0;
      program > 0 && io_.pid > 0 && parent_of(program) == io_.pid)
    ::kill(-program, sig);
  kill_child(net_, sig);
  kill_child(io_, sig);
}

int supervisor::exit_status() const {
  if (interrupted_by_ != 0) return 128 + interrupted_by_;
  if (child_crashed_) return exit_process_died;
  if (redirect_refused_) return exit_handshake_rejected;
  // stdout's reader went away: what a shell pipeline expects to see (141), whatever the
  // network process's closing handshake made of it afterwards.
  if (io_.status && WIFEXITED(*io_.status) && WEXITSTATUS(*io_.status) == exit_output_closed) return exit_output_closed;
  for (const child* c : {&net_, &io_}) {
    if (c->status && WIFEXITED(*c->status) && WEXITSTATUS(*c->status) != 0)
      return WEXITSTATUS(*c->status);
  }
  return exit_ok;
}

}  // namespace

int run_supervisor(const config& cfg, child_roles roles, const accepted_connection* accepted) {
  supervisor s(cfg, roles, accepted);
  return s.run();
}

}  // namespace wsbridge
