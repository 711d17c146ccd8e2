"""Pipe mode: every input line reaches the server, every message reaches stdout."""
import array
import fcntl
import os
import re
import signal
import subprocess
import termios
import threading
import time

import pytest

from conftest import (EXIT_OK, EXIT_UNDELIVERED, WSBRIDGE, assert_no_processes_left, children_of,
                      role_of, run_wsbridge, wait_for)
from proc_net import send_queue

LINES = b"".join(b"line %d \xc3\xa9 payload\n" % i for i in range(100_000))


@pytest.mark.parametrize("kind", ["python", "node"])
def test_100000_lines_come_back_byte_exact_and_in_order(servers, kind):
    server = servers(kind, "echo")
    # A longer linger than the default 0.5 s: on a loaded 2-core CI machine the python
    # server may pause between echoes, and only its silence ends the session.
    r = run_wsbridge(["--linger", "2", server.url], LINES)
    assert r.returncode == EXIT_OK, r.stderr
    assert r.stdout == LINES
    assert r.stderr == b""
    assert_no_processes_left(server.url)


def test_large_distinct_lines_come_back_byte_exact_while_the_server_holds_back(servers):
    # Batches over 64 KiB go to netproc by reference (vmsplice), and here the echo
    # server holds netproc back, so they wait in the pipe; every line differs, so stale
    # or reused bytes would show. (When a buffer may be reused is tested in the unit
    # tests, where the reader can be held back exactly.)
    server = servers("node", "echo")
    lines = b"".join(b"%06d " % i + os.urandom(30_000).hex().encode() + b"\n" for i in range(400))
    r = run_wsbridge(["--linger", "1", server.url], lines)
    assert r.returncode == EXIT_OK, r.stderr
    assert r.stdout == lines
    assert_no_processes_left(server.url)


def test_crlf_input_lines_lose_only_their_line_ending(servers):
    server = servers("node", "echo")
    r = run_wsbridge([server.url], b"one\r\ntwo\r\n\r\nlast without newline")
    assert r.returncode == EXIT_OK, r.stderr
    assert r.stdout == b"one\ntwo\n\nlast without newline\n"


@pytest.mark.parametrize("kind", ["python", "node"])
def test_server_that_sends_1000_messages_and_closes_has_all_1000_on_stdout(servers, kind):
    server = servers(kind, "flood", 1000)
    # stdin stays open and silent: the server, not the end of input, ends the session.
    p = subprocess.Popen([WSBRIDGE, server.url], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    out, err = p.communicate(timeout=30)
    assert p.returncode == EXIT_OK, err
    assert out.decode().splitlines() == [f"msg {i}" for i in range(1000)]
    assert b'wsbridge: connection closed by server: 1000 (normal closure) "flood done"' in err
    assert_no_processes_left(server.url)


def test_server_closing_while_input_flows_is_reported_and_unsent_lines_counted(servers):
    server = servers("python", "close-on-signal", 100, 1001)
    # The server reads nothing more, so our Close reply waits behind megabytes it will
    # never read: --close-timeout bounds that wait.
    p = subprocess.Popen([WSBRIDGE, "--close-timeout", "1", server.url], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    threading.Thread(target=feed_lines, args=(p.stdin, 1000), daemon=True).start()
    # The server reads no more after 100 messages. Once its TCP window is closed (data
    # waits in our send queue) and stdin has filled up, ioproc is stuck handing lines it
    # has read and counted to netproc: some lines are certain not to be sent when the
    # server closes. (Closing at a fixed point instead raced with how much the socket
    # buffers took: every line read could be "sent", into them.)
    wait_for(lambda: send_queue(server.port) > 65536 and pipe_full(p.stdin), timeout=30,
             what="the input to back up")
    os.kill(server.proc.pid, signal.SIGUSR1)
    out, err = p.communicate(timeout=60)
    assert p.returncode == EXIT_UNDELIVERED, err
    err = err.decode()
    assert 'wsbridge: connection closed by server: 1001 (going away) "reason 100"' in err
    m = re.search(r"wsbridge: (\d+) input lines were not sent: the connection closed first", err)
    assert m, err
    assert int(m.group(1)) > 0
    # Every line the server echoed was sent, in order.
    assert out.splitlines() == LINES.splitlines()[:100]
    assert_no_processes_left(server.url)


def pipe_full(pipe):
    """True when the pipe holds about as much as it can (its reader has stopped; a page
    the reader has begun is not refilled, so "full" is within 64 KiB of the size)."""
    unread = array.array("i", [0])
    fcntl.ioctl(pipe.fileno(), termios.FIONREAD, unread)
    return unread[0] >= fcntl.fcntl(pipe.fileno(), fcntl.F_GETPIPE_SZ) - 65536


def feed_lines(pipe, blocks):
    """Writes LINES, then the same lines again in large writes, faster than the server
    reads, until the pipe breaks (or after `blocks` more: bounded)."""
    try:
        pipe.write(LINES)
        for _ in range(blocks):
            pipe.write(LINES)
    except (BrokenPipeError, ValueError, OSError):
        pass


def test_input_before_the_connection_opens_is_queued_not_dropped(servers):
    server = servers("node", "echo")
    # The whole input is in the pipe and at EOF before the handshake can finish.
    r = run_wsbridge([server.url], b"early 1\nearly 2\n")
    assert r.returncode == EXIT_OK, r.stderr
    assert r.stdout == b"early 1\nearly 2\n"


def test_end_of_input_closes_cleanly_with_1000(servers):
    server = servers("python", "sink")
    r = run_wsbridge(["--linger", "0", server.url], b"a\nb\nc\n")
    assert r.returncode == EXIT_OK, r.stderr
    # The server prints once its side of the close is done, which may be just after
    # wsbridge has left: wait for the line rather than stop the server at once.
    assert server.expect("RECEIVED") == "RECEIVED 3"


def test_message_over_max_size_is_refused_with_1009_and_a_clear_error(servers):
    server = servers("python", "greet", "x" * 5000)
    p = subprocess.Popen([WSBRIDGE, "--max-size", "1000", server.url], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 5
    assert out == b""
    assert err.decode().splitlines()[0] == ("wsbridge: read: the server sent a message larger than --max-size "
                                            "(1000 bytes); closed with 1009 (message too big)")
    assert_no_processes_left(server.url)


def test_an_idle_open_session_uses_no_cpu(servers):
    """netproc polls briefly before sleeping (spin_policy.hpp); with nothing happening
    the window must close, not keep a CPU busy."""
    server = servers("python", "echo")
    p = subprocess.Popen([WSBRIDGE, server.url], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        for i in range(20):  # a burst of round trips opens the window fully first
            p.stdin.write(b"ping %d\n" % i)
            p.stdin.flush()
            assert p.stdout.readline() == b"ping %d\n" % i
        netproc = wait_for(lambda: [c for c in children_of(p.pid) if role_of(c) == "netproc"], what="netproc")[0]
        before = cpu_seconds(netproc)
        time.sleep(1.0)  # the interval measured, not a synchronisation
        used = cpu_seconds(netproc) - before
        assert used < 0.2, f"netproc used {used:.2f} s of CPU in 1 s of silence"
    finally:
        p.stdin.close()
        p.wait(timeout=10)


def cpu_seconds(pid):
    """User plus system CPU time of a process, from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
