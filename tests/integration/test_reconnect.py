"""--reconnect: a lost connection is made again; nothing is lost or sent twice by
wsbridge, and it stops when it should."""
import os
import queue
import re
import signal
import subprocess
import threading
import time

import pytest

from conftest import (EXIT_HANDSHAKE, EXIT_OK, PEERS, PYTHON, WSBRIDGE, Server, assert_no_processes_left,
                      free_port, run_wsbridge, wait_for)

from proc_net import send_queue
from test_tls import make_cert

LINES = 200_000
PAD = "x" * 90  # 20 MB in all: far more than the kernel's buffers hold


class Feeder:
    """Writes LINES numbered lines into wsbridge's stdin from a thread (a full pipe
    blocks it), counting what it has written."""

    def __init__(self, stdin):
        self.stdin = stdin
        self.written = 0
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        try:
            for i in range(1, LINES + 1):
                self.stdin.write(f"{i} {PAD}\n".encode())
                self.written = i
            self.stdin.close()
        except (BrokenPipeError, ValueError):
            pass

    def blocked(self):
        """True once the writes have stopped making progress: every pipe and buffer
        between here and the server is full (polled, with a deadline, by wait_for)."""
        before = self.written
        time.sleep(0.2)
        return self.written == before < LINES


def record_server(port, *args):
    return Server([PYTHON, os.path.join(PEERS, "py_server.py"), "record", *map(str, args), "--port", str(port)])


def received(server, timeout=30.0):
    """The numbers of the lines a record server printed, up to its RECORD END (every
    message it received is printed by then, though its closing handshake may have
    completed earlier)."""
    got, deadline = [], time.monotonic() + timeout
    while True:
        try:
            line = server.lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            pytest.fail(f"timed out after {timeout}s waiting for the server's RECORD END")
        if line is None or line == "RECORD END":
            return got
        if line.startswith("GOT "):
            got.append(int(line.split()[1]))


def test_a_server_killed_and_restarted_mid_stream_gets_every_line_once():
    port = free_port()
    first = record_server(port, 1000)  # takes 1,000 lines, then stops reading
    proc = subprocess.Popen([WSBRIDGE, "--reconnect", "--reconnect-delay", "0.05,0.5", f"ws://127.0.0.1:{port}/"],
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    feeder = Feeder(proc.stdin)
    second = None
    try:
        first.expect("STOPPED")
        # Everything is backed up, netproc's queue included: the kill leaves it unsent.
        wait_for(lambda: send_queue(port) > 0 and feeder.blocked(), 30, "the stream to back up")
        first.proc.kill()  # SIGKILL: no Close, and what its kernel held is gone
        second = record_server(port)  # the same port, as a restarted service
        err = proc.stderr.read()  # to its end: wsbridge has exited (bounded by the test timeout)
        proc.wait(timeout=60)
        assert proc.returncode == EXIT_OK, err
        got_second = received(second)
    finally:
        proc.kill()
        if second:
            second.stop()
    report = re.search(rb"reconnect: (\d+) messages sent on the lost connection \(the kernel took them; "
                       rb"the server may not have processed the last\); (\d+) messages? to send again first; "
                       rb"reconnecting in [0-9.]+ s \(attempt 1\)", err)
    assert report, err
    sent_first, again = int(report.group(1)), int(report.group(2))
    assert again > 0  # netproc's queue was handed on, not dropped
    # The first server processed 1,000 lines (then "STOPPED") of what its kernel took;
    # the second got the rest exactly: from the first line not taken, to the end, none twice.
    assert sent_first >= 1000
    assert got_second == list(range(sent_first + 1, LINES + 1))
    assert feeder.written == LINES


def test_a_refusing_server_is_given_up_after_n_attempts(servers):
    unavailable = servers("hostile", "http-headers", 503)
    r = run_wsbridge(["--reconnect=2", "--reconnect-delay", "0.05", unavailable.url], b"x\n")
    assert r.returncode == EXIT_HANDSHAKE
    lines = r.stderr.decode().splitlines()
    assert lines.count("wsbridge: handshake: server answered HTTP 503 Service Unavailable") == 3
    assert lines[-1] == "wsbridge: reconnect: giving up after 2 failed attempts to reconnect (--reconnect=2)"
    assert [unavailable.expect("ANSWERED") for _ in range(3)]
    # A 4xx is final: asking again changes nothing.
    forbidden = servers("hostile", "http-headers", 403)
    r = run_wsbridge(["--reconnect", forbidden.url], b"x\n")
    assert r.returncode == EXIT_HANDSHAKE
    assert r.stderr.decode().splitlines()[-1] == ("wsbridge: reconnect: not reconnecting: the server refused the "
                                                  "upgrade with HTTP 403")
    # ... except a 429, which says when to come back.
    busy = servers("hostile", "http-headers", 429, "Retry-After: 1")
    r = run_wsbridge(["--reconnect=1", busy.url], b"x\n")
    assert "wsbridge: reconnect: reconnecting in 1.0 s (attempt 1 of 1)" in r.stderr.decode().splitlines()


def test_a_certificate_that_does_not_verify_is_not_retried(servers, tmp_path):
    cert, key = make_cert(tmp_path, "DNS:localhost")
    server = servers("python", "echo", "--tls", cert, key)
    r = run_wsbridge(["--reconnect", "--reconnect-delay", "0.05", f"wss://localhost:{server.port}/"], b"x\n")
    assert r.returncode == 3
    lines = r.stderr.decode().splitlines()
    assert lines[0].startswith("wsbridge: tls: certificate verify failed: self-signed certificate")
    assert lines[-1] == "wsbridge: reconnect: not reconnecting: the server's certificate was not accepted"
    assert len(lines) == 2


def test_a_close_the_server_chose_is_not_reconnected(servers):
    server = servers("python", "flood", "2")  # two messages, then Close 1000
    r = run_wsbridge(["--reconnect", "-n", server.url], b"")
    assert r.returncode == EXIT_OK, r.stderr
    assert r.stdout == b"msg 0\nmsg 1\n"
    assert b"reconnect" not in r.stderr


def test_a_server_going_away_is_reconnected_to(servers):
    # A graceful restart or deploy: the server closes with 1001 (going away).
    server = servers("python", "close-later", "0.2", "1001")
    proc = subprocess.Popen([WSBRIDGE, "--reconnect", "--reconnect-delay", "0.05,0.1", server.url],
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(l) for l in proc.stderr], daemon=True).start()
    try:
        said = []
        deadline = time.monotonic() + 20
        while not any(b"reconnecting in" in l for l in said):
            try:
                said.append(lines.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                pytest.fail(f"no reconnect after the server's 1001: {said}")
        assert any(b"the server closed the connection: 1001 (going away)" in l for l in said), said
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_ctrl_c_during_the_backoff_wait_exits_at_once():
    port = free_port()  # nothing listens: every attempt is refused
    proc = subprocess.Popen([WSBRIDGE, "--reconnect", "--reconnect-delay", "60", f"ws://127.0.0.1:{port}/"],
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for line in proc.stderr:  # bounded: the first attempt fails at once
            if b"reconnecting in" in line:
                break
        start = time.monotonic()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 128 + signal.SIGINT
        assert time.monotonic() - start < 5  # generous: "not trapped in a 30-60 s wait"
    finally:
        proc.kill()
    assert_no_processes_left(f"ws://127.0.0.1:{port}/")


def test_reconnect_options_are_checked():
    for bad in [["--reconnect-delay", "1"], ["--reconnect-on-close"], ["--reconnect", "--reconnect-delay", "5,1"],
                ["--reconnect", "--reconnect-delay", "soon"]]:
        r = run_wsbridge([*bad, "ws://127.0.0.1:9/"])
        assert r.returncode == 2, bad
