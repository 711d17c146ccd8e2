#pragma once
// Sandboxes for the child processes, in OpenSSH's style (sandbox-seccomp-filter.c):
// no new privileges, resource limits, and a seccomp-bpf filter that allows a short
// list, makes file opening fail politely with EACCES, and traps the rest. A trapped
// call is written to the status board, so the supervisor can say in plain words which
// call it was. The filters are written with libseccomp in seccomp_policy.cpp and
// compiled into BPF at build time.

#include <string>

#include "bridge/protocol/status_board.hpp"

namespace wsbridge::sandbox {

/// netproc, when started as root: become the unprivileged user 65534, nobody (before it
/// connects), and re-arm the parent-death signal that the kernel clears on a change
/// of credentials. Returns false and fills *err on failure.
bool drop_root(int parent_death_signal, std::string* err);

/// netproc, once connected (nothing left to open, resolve or spawn): rlimits,
/// PR_SET_NO_NEW_PRIVS, and the allow-list filter. `board` receives a trapped call.
/// Returns false and fills *err when the filter could not be loaded (a kernel without
/// seccomp: the caller says so once and goes on), or, with *fatal set, when a limit
/// could not be set (the process must not go on). *applied describes what was done.
bool lock_down_network_process(status_board& board, std::string* applied, std::string* err, bool* fatal);

/// ioproc: it never needs the network or another program. PR_SET_NO_NEW_PRIVS and a
/// filter that refuses socket creation and exec with EACCES; everything else allowed
/// (the line editor reads terminfo and writes the history file).
bool lock_down_terminal_process(std::string* applied, std::string* err);

/// For --version: whether this kernel can apply the children's filters ("seccomp
/// filters and no_new_privs available", or why not).
std::string availability();

/// Name of a system call number of this architecture ("openat"), for messages.
std::string syscall_name(int nr);

}  // namespace wsbridge::sandbox
