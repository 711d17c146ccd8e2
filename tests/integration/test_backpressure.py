"""Bounded memory: a slow server or a slow consumer stops wsbridge reading, instead of
making it buffer without limit."""
import fcntl
import os
import select
import subprocess

from conftest import WSBRIDGE, assert_no_processes_left, children_of, status_kib, wait_for

CHUNK = b"x" * 1023 + b"\n"
LIMIT = 256 * 1024 * 1024  # a producer that would write this much if nobody pushed back
RSS_BOUND_KB = 64 * 1024   # each process stays well under this


def peak_rss_kb(pid):
    return status_kib(pid, "VmHWM")


def stays_blocked(fd, seconds=1.0):
    """True when the pipe to wsbridge's stdin has had no room for `seconds`."""
    r, w, _ = select.select([], [fd], [], seconds)
    return not w


def test_server_that_never_reads_stops_wsbridge_reading_input(servers):
    server = servers("hostile", "no-close-reply")  # handshakes, then never reads
    p = subprocess.Popen([WSBRIDGE, "--close-timeout", "1", server.url], stdin=subprocess.PIPE,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    fd = p.stdin.fileno()
    fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_NONBLOCK)
    written = 0

    def producer_blocked():
        nonlocal written
        while written < LIMIT:
            try:
                written += os.write(fd, CHUNK * 64)
            except BlockingIOError:
                return stays_blocked(fd)
        return True

    wait_for(producer_blocked, timeout=60, what="the producer to be held back")
    assert written < 64 * 1024 * 1024, f"wsbridge read {written} bytes the server never took"
    kids = children_of(p.pid)
    assert len(kids) == 2
    for pid in [p.pid, *kids]:
        assert peak_rss_kb(pid) < RSS_BOUND_KB
    p.kill()
    p.wait(timeout=10)
    assert_no_processes_left(server.url)


def test_consumer_that_stops_reading_holds_back_the_server(servers):
    server = servers("node", "flood", 1_000_000)
    p = subprocess.Popen([WSBRIDGE, server.url], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    # Read a little, then stop: the flood must not pile up inside wsbridge.
    assert p.stdout.readline() == b"msg 0\n"
    kids = wait_for(lambda: len(children_of(p.pid)) == 2 and children_of(p.pid), what="children")

    def flood_stalled():
        # Once every buffer is full, nothing moves: the children's memory stops growing.
        before = [peak_rss_kb(k) for k in kids]
        select.select([], [], [], 1.0)
        return before == [peak_rss_kb(k) for k in kids]

    wait_for(flood_stalled, timeout=60, what="the flood to stall")
    for pid in [p.pid, *kids]:
        assert peak_rss_kb(pid) < RSS_BOUND_KB
    # Nothing was lost: once the consumer reads again, every message arrives in order.
    rest = p.stdout.read().decode().splitlines()
    p.wait(timeout=60)
    assert rest == [f"msg {i}" for i in range(1, 1_000_000)]
    assert_no_processes_left(server.url)
