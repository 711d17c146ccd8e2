#include "bridge/supervisor/spare_factory.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdint>
#include <cstring>

#include "bridge/protocol/child_fd.hpp"
#include "bridge/protocol/limits.hpp"
#include "bridge/supervisor/process_spawn.hpp"

namespace wsbridge {
namespace {

/// How long the listener waits for the factory's answer before it forks its own: the
/// factory answers at once, unless it is stopped or gone.
constexpr int answer_wait_ms = 1000;

/// One request: a board page, with the spare's channel (SCM_RIGHTS). Answered with the
/// spare's pid, or -errno.
using page_word = std::uint64_t;

/// In a new spare, a child of the factory's parent: its descriptors as a spare of the
/// listener has them (the channel at control_in and to_supervisor, the board file at
/// boards, nothing else), then its body.
[[noreturn]] void become_spare(pid_t listener, int channel, std::size_t page, const spare_factory::spare_body& body) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != listener) ::_exit(limits::child_setup_failed);  // it died before prctl
  if (::dup2(channel, child_fd::control_in) < 0 || ::dup2(channel, child_fd::to_supervisor) < 0)
    ::_exit(limits::child_setup_failed);
  // The factory's socket was at control_in: replaced above. The channel's own number
  // and anything else above the board file go.
  ::close_range(static_cast<unsigned>(child_fd::boards) + 1, ~0U, 0);
  ::prctl(PR_SET_NAME, "wsbridge-spare");
  const int status = body(page);
  std::fflush(nullptr);
  ::_exit(status);
}

/// The factory's loop: a request at a time, until the listener's end of the socket
/// closes. Single-threaded, so a raw clone leaves no lock of libc's held in the child.
int serve(void (*prepare)(), const spare_factory::spare_body& body) {
  const pid_t listener = ::getppid();
  if (prepare) prepare();
  for (;;) {
    page_word page = 0;
    std::vector<int> fds;
    const ssize_t n = recv_with_fds(child_fd::control_in, &page, sizeof page, fds);
    if (n <= 0) return 0;  // the listener is gone, or done with us
    if (n != sizeof page || fds.size() != 1) return limits::child_setup_failed;  // not the listener's request
    const int received = fds[0];
    // Above every fixed number, so that placing it cannot overwrite another.
    const int channel = ::fcntl(received, F_DUPFD_CLOEXEC, child_fd::boards + 1);
    ::close(received);
    std::int32_t answer = -EMFILE;
    if (channel >= 0) {
      // CLONE_PARENT: the spare is the listener's child, as if the listener had forked
      // it. The flags alone, no new stack: the child goes on from here, as after fork.
      const long pid = ::syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0);
      if (pid == 0) become_spare(listener, channel, static_cast<std::size_t>(page), body);
      answer = pid > 0 ? static_cast<std::int32_t>(pid) : -errno;
      ::close(channel);
    }
    if (write_all(child_fd::control_in, {reinterpret_cast<const char*>(&answer), sizeof answer}) != 0) return 0;
  }
}

}  // namespace

bool spare_factory::start(int boards, void (*prepare)(), spare_body body, std::string* err) {
  unique_fd theirs;
  if (!make_socket_pair(socket_, theirs, err)) return false;
  // The factory: the socket at control_in, the board file at boards; its parent-death
  // signal ends it with the listener. It reads no client's byte.
  const child_spec spec{"wsbridge-pool", {-1, -1, theirs.get(), -1, -1, boards}, SIGKILL};
  pid_ = spawn_child(spec, [&] { return serve(prepare, body); }, err);
  if (pid_ > 0) return true;
  socket_.reset();
  return false;
}

pid_t spare_factory::spawn(int channel, std::size_t page, std::string* err) {
  if (!running()) return *err = "spare factory: not running", -1;
  const page_word word = page;
  std::int32_t answer = 0;
  pollfd p{socket_.get(), POLLIN, 0};
  if (send_with_fd(socket_.get(), {reinterpret_cast<const char*>(&word), sizeof word}, channel) != 0 ||
      ::poll(&p, 1, answer_wait_ms) != 1 ||
      ::recv(socket_.get(), &answer, sizeof answer, MSG_WAITALL) != static_cast<ssize_t>(sizeof answer)) {
    *err = "spare factory: no answer";
    stop();
    return -1;
  }
  if (answer > 0) return answer;
  *err = "start wsbridge-spare: clone: " + errno_text(-answer);
  return -1;
}

void spare_factory::stop() {
  if (pid_ > 0) ::kill(pid_, SIGKILL);
  socket_.reset();
  // Its pid stays until it is reaped (forget), so that its end is not taken for a spare's.
}

}  // namespace wsbridge
