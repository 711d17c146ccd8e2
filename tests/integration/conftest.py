"""Shared fixtures for wsbridge's integration tests.

Every test runs the real `wsbridge` binary (path in $WSBRIDGE) against real servers
started here on 127.0.0.1 with ephemeral ports. Nothing sleeps to synchronise: helpers
wait for a condition with a deadline.
"""
import os
import queue
import threading
import signal
import socket
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
PEERS = os.path.join(os.path.dirname(HERE), "peers")
WSBRIDGE = os.environ.get("WSBRIDGE", os.path.join(os.path.dirname(os.path.dirname(HERE)), "build", "wsbridge"))
PYTHON = "/usr/bin/python3"  # Debian's, which has python3-websockets
sys.path.insert(0, PEERS)  # shared helpers for tests and scripts (hanging_dns)

# Exit statuses (bridge/protocol/exit_codes.hpp, docs/guide.md "Exit codes").
EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_CONNECT, EXIT_HANDSHAKE = 0, 1, 2, 3, 4
EXIT_ABNORMAL, EXIT_UNDELIVERED, EXIT_PROCESS_DIED, EXIT_PEER_DEAD, EXIT_INPUT_REFUSED = 5, 6, 7, 8, 9


def wait_for(predicate, timeout=10.0, what="condition"):
    """Polls `predicate` until it returns a true value; fails the test at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.01)


class Server:
    """A server process that prints 'PORT <n>' when it listens."""

    def __init__(self, argv, env=None):
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env=None if env is None else {**os.environ, **env})
        line = self.proc.stdout.readline()
        if not line.startswith("PORT "):
            self.proc.kill()
            raise RuntimeError(f"server {argv} did not start: {line!r} {self.proc.stderr.read()}")
        self.port = int(line.split()[1])
        self.url = f"ws://127.0.0.1:{self.port}/"
        self.lines = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def expect(self, word, timeout=10.0):
        """Waits until the server prints a line that is `word` or starts with `word `
        (an event); returns that line."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail(f"timed out after {timeout}s waiting for the server to say {word}")
            if line is None:
                pytest.fail(f"the server ended before saying {word}")
            if line == word or line.startswith(word + " "):
                return line

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def stdout_lines(self):
        """What the server printed after PORT (once it has been stopped)."""
        self.stop()
        self.reader.join(timeout=5)
        out = []
        while not self.lines.empty():
            line = self.lines.get()
            if line is not None:
                out.append(line)
        return out


@pytest.fixture
def servers():
    started = []

    def start(kind, *args, env=None):
        if kind == "python":
            argv = [PYTHON, os.path.join(PEERS, "py_server.py"), *map(str, args)]
        elif kind == "node":
            argv = ["node", os.path.join(PEERS, "node_server.js"), *map(str, args)]
        elif kind == "hostile":
            argv = [PYTHON, os.path.join(PEERS, "hostile_server.py"), *map(str, args)]
        elif kind == "proxy":
            argv = [PYTHON, os.path.join(PEERS, "proxy_server.py"), *map(str, args)]
        else:
            raise ValueError(kind)
        s = Server(argv, env)
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()


def _processes(filename, mode="r"):
    """(pid, contents of /proc/PID/filename) for every process still there."""
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/{filename}", mode) as f:
                    yield int(name), f.read()
            except OSError:
                continue


def children_of(pid):
    """PIDs whose parent is `pid` (from /proc)."""
    return [child for child, stat in _processes("stat") if int(stat.rsplit(")", 1)[1].split()[1]) == pid]


ROLE_NAMES = {"wsbridge-net": "netproc", "wsbridge-io": "ioproc"}


def process_name(pid):
    """The process's name (/proc/PID/comm), "" if it is gone."""
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def role_of(pid):
    """"netproc" or "ioproc" for a wsbridge child (its process name), else None."""
    return ROLE_NAMES.get(process_name(pid))


def status_kib(pid, field):
    """A memory figure from /proc/PID/status in KiB ("VmRSS", "VmHWM"), 0 if gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def mapped_files(pid):
    """Names of the files a process has mapped (libraries, modules)."""
    with open(f"/proc/{pid}/maps") as f:
        return {line.split()[-1].rsplit("/", 1)[-1] for line in f if "/" in line}


def role_pids(marker):
    """PIDs of wsbridge child processes whose command line (the supervisor's, which
    they are forks of) contains `marker` (the URL)."""
    return [pid for pid, cmdline in _processes("cmdline", "rb")
            if marker.encode() in cmdline and role_of(pid) is not None]


def assert_no_processes_left(marker, timeout=5.0):
    wait_for(lambda: not role_pids(marker), timeout, f"wsbridge children for {marker} to be gone")


def run_wsbridge(args, input_bytes=b"", timeout=60):
    """Runs wsbridge to completion; returns CompletedProcess with bytes stdout/stderr."""
    return subprocess.run([WSBRIDGE, *args], input=input_bytes, capture_output=True, timeout=timeout)


def free_port():
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def greeting_and_echoes(url, messages=("hello",), sock=None, origin=None, headers=None):
    """Connects with python3-websockets (over `sock` if given, e.g. one bound to another
    source address); returns the first message the server sends unasked, then the
    answer to each of `messages`."""
    import asyncio  # here: most tests need no event loop
    import websockets

    async def run():
        async with websockets.connect(url, sock=sock, origin=origin, extra_headers=headers or {},
                                      open_timeout=10) as ws:
            got = [await asyncio.wait_for(ws.recv(), 10)]
            for m in messages:
                await ws.send(m)
                got.append(await asyncio.wait_for(ws.recv(), 10))
            return got

    return asyncio.run(run())
