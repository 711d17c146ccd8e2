"""A process of the tree dies: the others notice, nothing is left behind."""
import os
import signal
import subprocess
import threading

import pytest

from conftest import (EXIT_PROCESS_DIED, WSBRIDGE, assert_no_processes_left, children_of,
                      role_of, wait_for)


def endless_lines(pipe):
    """Feeds lines until the pipe breaks (bounded by the test's own end)."""
    try:
        for i in range(50_000_000):
            pipe.write(b"line %d\n" % i)
    except (BrokenPipeError, ValueError, OSError):
        pass


def start_transfer(server):
    p = subprocess.Popen([WSBRIDGE, server.url], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    threading.Thread(target=endless_lines, args=(p.stdin,), daemon=True).start()
    # Mid-transfer: echoes are already coming back.
    assert p.stdout.readline().startswith(b"line ")
    return p


def drain(p):
    threading.Thread(target=p.stdout.read, daemon=True).start()


@pytest.mark.parametrize("role, name", [("netproc", "network process"), ("ioproc", "I/O process")])
def test_child_killed_mid_transfer_ends_everything_with_status_7(servers, role, name):
    server = servers("node", "echo")
    p = start_transfer(server)
    drain(p)
    victim = wait_for(lambda: [c for c in children_of(p.pid) if role_of(c) == role], what=role)[0]
    os.kill(victim, signal.SIGKILL)
    p.wait(timeout=10)
    err = p.stderr.read().decode()
    assert p.returncode == EXIT_PROCESS_DIED, err
    assert f"wsbridge: {name} killed by signal 9 (Killed)" in err
    assert_no_processes_left(server.url)


def test_supervisor_killed_takes_its_children_along(servers):
    server = servers("node", "echo")
    p = start_transfer(server)
    drain(p)
    kids = wait_for(lambda: len(children_of(p.pid)) == 2 and children_of(p.pid), what="two children")
    os.kill(p.pid, signal.SIGKILL)
    p.wait(timeout=10)
    assert_no_processes_left(server.url, timeout=2)
    wait_for(lambda: all(gone(k) for k in kids), timeout=2, what="both children to be gone")
    # The supervisor cannot say why the session ended; the I/O process says it for it.
    assert b"wsbridge: the supervisor process died; ending the session" in p.stderr.read()


def gone(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"  # dead, waiting for its reaper
    except OSError:
        return True


def test_children_hold_only_their_own_descriptors(servers):
    """The children are forks of the supervisor: they must not keep its descriptors (the
    other ends of their pipes would hide an EOF), nor any the user's shell left open."""
    server = servers("node", "echo")
    stray_r, stray_w = os.pipe()
    try:
        p = subprocess.Popen([WSBRIDGE, server.url], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, pass_fds=(stray_w,))
        p.stdin.write(b"hello\n")
        p.stdin.flush()
        assert p.stdout.readline() == b"hello\n"
        kids = wait_for(lambda: len(children_of(p.pid)) == 2 and children_of(p.pid), what="two children")
        stray = os.readlink(f"/proc/self/fd/{stray_w}")
        assert stray in {os.readlink(f"/proc/{p.pid}/fd/{n}") for n in os.listdir(f"/proc/{p.pid}/fd")}
        for kid in kids:
            targets = {os.readlink(f"/proc/{kid}/fd/{n}") for n in os.listdir(f"/proc/{kid}/fd")}
            assert stray not in targets, role_of(kid)
            # The supervisor's signalfd and its ends of the control pipes stay with it.
            assert not any("signalfd" in t for t in targets), role_of(kid)
        p.stdin.close()
        p.wait(timeout=10)
        assert p.returncode == 0, p.stderr.read()
    finally:
        os.close(stray_r)
        os.close(stray_w)
