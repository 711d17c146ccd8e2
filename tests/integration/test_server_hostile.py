"""Server mode against clients that break the rules or push the limits: raw sockets
that pipeline frames with the request, forge IPC-shaped payloads, send malformed or
half requests, and programs that misbehave."""
import os
import socket
import struct
import subprocess
import threading
import time
import uuid

import pytest

from conftest import EXIT_OK, WSBRIDGE, _processes, wait_for
from test_server import UPGRADE, listen  # noqa: F401 (the fixture)


def client_frame(opcode, payload, fin=True):
    """One frame as a client sends it: masked (RFC 6455 §5.3)."""
    mask = os.urandom(4)
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack(">H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack(">Q", n)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def ipc_frame(kind, payload):
    """What wsbridge's IPC codec would write: u32 length | u8 type | payload."""
    return struct.pack(">IB", len(payload), kind) + payload


# A text payload whose tail is two IPC frames: a forged `notice` (type 9) and a forged
# `text` (type 1). Read as frames by ioproc, it would print the line and inject a message.
FORGED = (b"x" * 37 + ipc_frame(9, b"connection closed by client: 1000 (FORGED by remote client)") +
          ipc_frame(1, b"INJECTED-TEXT"))


class RawClient:
    """A WebSocket client on a plain socket, for bytes no library would send."""

    def __init__(self, port, timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("the server closed the connection")
        self.buf += chunk

    def read_head(self):
        """The server's HTTP answer head (bytes after it stay buffered)."""
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        return head.decode("latin-1")

    def read_frame(self):
        """(opcode, payload) of the next server frame (servers do not mask)."""
        while len(self.buf) < 2:
            self._fill()
        n, at = self.buf[1] & 0x7f, 2
        if n == 126:
            while len(self.buf) < 4:
                self._fill()
            n, at = struct.unpack(">H", self.buf[2:4])[0], 4
        elif n == 127:
            while len(self.buf) < 10:
                self._fill()
            n, at = struct.unpack(">Q", self.buf[2:10])[0], 10
        while len(self.buf) < at + n:
            self._fill()
        opcode, payload = self.buf[0] & 0x0f, self.buf[at:at + n]
        self.buf = self.buf[at + n:]
        return opcode, payload

    def read_until_eof(self):
        try:
            while True:
                self._fill()
        except (EOFError, ConnectionResetError):
            pass
        return self.buf

    def close(self):
        self.sock.close()


def close_payload(code, reason=b""):
    return struct.pack(">H", code) + reason


# ---- a client's bytes never become internal frames -------------------------------

@pytest.mark.parametrize("how", ["with-request", "several-with-request", "before-the-101"])
def test_frames_pipelined_with_the_request_are_echoed_byte_for_byte_by_the_program(listen, how):
    server = listen("--exec", "sh", "-c", "cat")
    c = RawClient(server.port)
    messages = [FORGED] if how != "several-with-request" else [FORGED, b"second", FORGED + b"third"]
    frames = b"".join(client_frame(1, m) for m in messages)
    if how == "before-the-101":
        c.send(UPGRADE)
        c.send(frames)  # without waiting for the answer
    else:
        c.send(UPGRADE + frames)  # one send(): one TCP segment on loopback
    assert c.read_head().startswith("HTTP/1.1 101")
    got = [c.read_frame() for _ in messages]
    assert got == [(1, m) for m in messages]
    c.send(client_frame(8, close_payload(1000)))
    assert c.read_frame() == (8, close_payload(1000))
    c.close()
    wait_for(lambda: not server.processes(), 10, "the connection's processes to end")
    log = "\n".join(server.stderr_lines())
    assert "FORGED" not in log and "INJECTED" not in log and "protocol error" not in log, log


def test_a_frame_pipelined_with_the_request_reaches_stdout_as_sent_without_exec(listen):
    server = listen()  # stdin is empty: all input is sent (none), the client's message goes to stdout
    c = RawClient(server.port)
    c.send(UPGRADE + client_frame(1, FORGED) + client_frame(8, close_payload(1000)))
    assert c.read_head().startswith("HTTP/1.1 101")
    assert c.read_frame()[0] == 8
    c.close()
    out, _ = server.proc.communicate(timeout=30)
    assert out == FORGED + b"\n"
    log = "\n".join(server.stderr_lines())
    assert "FORGED" not in log and "INJECTED" not in log, log
    assert server.proc.returncode == EXIT_OK, log


def test_twenty_eager_clients_each_get_their_first_message_back(listen):
    server = listen("--exec", "sh", "-c", "cat")
    for i in range(20):
        c = RawClient(server.port)
        c.send(UPGRADE + client_frame(1, b"first %d" % i))
        assert c.read_head().startswith("HTTP/1.1 101")
        assert c.read_frame() == (1, b"first %d" % i)
        c.close()


# ---- the program's environment (CGI rules) -----------------------------------------

def test_repeated_headers_are_joined_and_underscored_names_dropped(listen):
    script = 'echo "$HTTP_COOKIE|$HTTP_X_MULTI|$HTTP_X_UNDER"; cat'
    server = listen("--exec", "sh", "-c", script)
    request = UPGRADE.replace(b"\r\n\r\n", b"\r\nCookie: a=1\r\nX-Multi: one\r\nX_Under: forged\r\nCookie: b=2\r\n"
                                           b"X-Under: real\r\nX-Multi: two\r\n\r\n")
    c = RawClient(server.port)
    c.send(request)
    assert c.read_head().startswith("HTTP/1.1 101")
    assert c.read_frame() == (1, b"a=1; b=2|one, two|real")
    c.close()


# ---- malformed requests are answered -----------------------------------------------

def answer_to(port, request):
    """The status line the server answers `request` with ('' if none): the request is
    sent from another thread, since the server may answer before it has read it all."""
    c = RawClient(port)

    def push():
        try:
            c.sock.sendall(request)
        except OSError:
            pass  # the server answered and closed before reading it all

    sender = threading.Thread(target=push, daemon=True)
    sender.start()
    data = c.read_until_eof()
    sender.join(timeout=10)
    c.close()
    return data.split(b"\r\n", 1)[0].decode("latin-1"), data


LONG = b"x" * (1 << 20)


@pytest.mark.parametrize("name, head, status", [
    ("1 MB of headers", UPGRADE.replace(b"\r\n\r\n", b"\r\nX-Big: " + LONG + b"\r\n\r\n"), 431),
    ("10,000 headers", UPGRADE.replace(b"\r\n\r\n", b"\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(10000)) +
                                       b"\r\n"), 431),
    ("100 KB query", UPGRADE.replace(b"GET /raw", b"GET /raw?" + b"q" * 100_000), 431),
    ("a name with =", UPGRADE.replace(b"\r\n\r\n", b"\r\nX=Y: 1\r\n\r\n"), 400),
    ("a name with a space", UPGRADE.replace(b"\r\n\r\n", b"\r\nX Y: 1\r\n\r\n"), 400),
    ("a non-ASCII name", UPGRADE.replace(b"\r\n\r\n", b"\r\nX-\xc3\xa9: 1\r\n\r\n"), 400),
    ("a value with ESC", UPGRADE.replace(b"\r\n\r\n", b"\r\nX-Y: a\x1b[31mb\r\n\r\n"), 400),
    ("a value with DEL", UPGRADE.replace(b"\r\n\r\n", b"\r\nX-Y: a\x7fb\r\n\r\n"), 400),
], ids=lambda v: v if isinstance(v, str) else "")
def test_a_malformed_request_is_answered_with_a_status(listen, name, head, status):
    server = listen("--exec", "sh", "-c", "cat")
    line, data = answer_to(server.port, head)
    assert line.startswith(f"HTTP/1.1 {status} "), (name, data[:200])
    assert b"\r\nConnection: close\r\n" in data


# ---- the program misbehaves --------------------------------------------------------

def test_invalid_utf8_from_the_program_closes_with_1007_and_is_logged(listen):
    server = listen("--exec", "sh", "-c", r'printf "ok\n\377\376bad\nafter\n"; sleep 1')
    c = RawClient(server.port)
    c.send(UPGRADE)
    assert c.read_head().startswith("HTTP/1.1 101")
    assert c.read_frame() == (1, b"ok")
    opcode, payload = c.read_frame()
    assert opcode == 8
    assert struct.unpack(">H", payload[:2])[0] == 1007, payload
    assert b"UTF-8" in payload[2:]
    c.close()
    wait_for(lambda: any("UTF-8" in line and "127.0.0.1:" in line for line in server.stderr_lines()), 10,
             "the refusal on the connection's log line")


def test_a_program_s_stderr_reaches_the_log_escaped(listen):
    # A program may pass a client's bytes on to its stderr (`cat >&2`).
    server = listen("--exec", "sh", "-c", "cat >&2")
    c = RawClient(server.port)
    c.send(UPGRADE + client_frame(1, b"\x1b]0;title\x07\x1b[2Jhi") + client_frame(8, close_payload(1000)))
    assert c.read_head().startswith("HTTP/1.1 101")
    c.read_until_eof()
    c.close()
    line = wait_for(lambda: next((x for x in server.stderr_lines() if "hi" in x), None), 10, "the program's line")
    assert "\x1b" not in line and "\\x1b[2Jhi" in line, repr(line)


def sleep_pids(seconds):
    """`sleep SECONDS` processes (their argv exactly: the script that started them holds
    the same words)."""
    return [pid for pid, cmd in _processes("cmdline", "rb") if cmd == b"sleep\0" + seconds.encode() + b"\0"]


def test_the_program_s_children_end_with_the_connection(listen):
    marker = "%d.%d" % (3000 + uuid.uuid4().int % 1000, uuid.uuid4().int % 1000)  # a unique sleep
    server = listen("--exec", "sh", "-c", f"sleep {marker} & cat")
    c = RawClient(server.port)
    c.send(UPGRADE + client_frame(1, b"hello"))
    assert c.read_head().startswith("HTTP/1.1 101")
    assert c.read_frame() == (1, b"hello")
    assert sleep_pids(marker)
    c.send(client_frame(8, close_payload(1000)))
    assert c.read_frame()[0] == 8
    c.close()
    wait_for(lambda: not sleep_pids(marker), 15, "the program's child to be ended")


# ---- close codes ---------------------------------------------------------------------

@pytest.mark.parametrize("code", [5000, 65535])
def test_a_client_close_code_not_valid_on_the_wire_is_answered_with_1002(listen, code):
    server = listen("--exec", "sh", "-c", "cat")
    c = RawClient(server.port)
    c.send(UPGRADE + client_frame(8, close_payload(code)))
    assert c.read_head().startswith("HTTP/1.1 101")
    assert c.read_frame() == (8, close_payload(1002))
    c.close()


# ---- half-open handshakes cannot starve real clients ---------------------------------

class HalfOpenFlood:
    """Keeps `count` sockets open, each having sent half an upgrade request; a socket the
    server closes is opened again at once, until stop(). Bounded: it ends with the test."""

    def __init__(self, port, count):
        self.port, self.count = port, count
        self.stopping = threading.Event()
        self.opened = 0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _open(self):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        s.sendall(UPGRADE[:40])  # half a request line and headers, never finished
        s.setblocking(False)
        self.opened += 1
        return s

    def _run(self):
        import selectors
        sel = selectors.DefaultSelector()
        for _ in range(self.count):
            sel.register(self._open(), selectors.EVENT_READ)
        while not self.stopping.is_set():
            for key, _ in sel.select(timeout=0.1):
                sel.unregister(key.fileobj)
                key.fileobj.close()  # dropped (or answered): take its place again
                if not self.stopping.is_set():
                    try:
                        sel.register(self._open(), selectors.EVENT_READ)
                    except OSError:
                        pass
        for key in list(sel.get_map().values()):
            key.fileobj.close()

    def stop(self):
        self.stopping.set()
        self.thread.join(timeout=10)


def test_real_clients_are_served_while_half_open_handshakes_flood_the_server(listen):
    server = listen("--exec", "sh", "-c", "cat")
    flood = HalfOpenFlood(server.port, 200)
    try:
        wait_for(lambda: flood.opened >= 200, 60, "200 half-open sockets")
        served = 0
        for i in range(20):
            started = time.monotonic()
            try:
                c = RawClient(server.port, timeout=5)
                c.send(UPGRADE + client_frame(1, b"real %d" % i))
                ok = c.read_head().startswith("HTTP/1.1 101") and c.read_frame() == (1, b"real %d" % i)
                c.close()
            except (OSError, EOFError):
                ok = False
            if ok and time.monotonic() - started < 1.0:
                served += 1
        assert served >= 19, f"{served} of 20 real clients served within 1 s"
        # The 200 are held by the listener, a descriptor each: none has a process.
        assert len(server.processes()) < 10, server.processes()
    finally:
        flood.stop()
