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


@pytest.mark.parametrize("role, name", [("netproc", "network process"), ("ioproc", "terminal process")])
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


def gone(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"  # dead, waiting for its reaper
    except OSError:
        return True
