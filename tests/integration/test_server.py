"""Server mode: wsbridge --listen, with --exec (a program per connection) and
without (one connection bridged to stdin/stdout). Real clients: python3-websockets,
node's ws, and raw sockets that break the rules."""
import asyncio
import os
import queue
import signal
import socket
import subprocess
import threading
import uuid

import pytest
import websockets

from conftest import EXIT_OK, PEERS, WSBRIDGE, _processes, wait_for

EXIT_SIGTERM = 128 + signal.SIGTERM


class Listener:
    """wsbridge --listen 127.0.0.1:0 ...; the port comes from its first stderr line.
    Every process of it carries `tag` in its command line (the forks share argv), so
    that the test can tell when all of them are gone."""

    def __init__(self, args, stdin=subprocess.DEVNULL, address="127.0.0.1:0"):
        self.tag = "tag-" + uuid.uuid4().hex[:12]
        argv = [WSBRIDGE, "--listen", address, *args]
        if "--exec" in args:
            argv.append(self.tag)  # sh -c '...' TAG: the tag is the script's $0
        else:
            argv[1:1] = ["--close-reason", self.tag]
        self.proc = subprocess.Popen(argv, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        first = self.proc.stderr.readline().decode()
        if "listening on ws" not in first:
            self.proc.kill()
            raise RuntimeError(f"wsbridge did not listen: {first!r} {self.proc.stderr.read()!r}")
        if address.startswith("unix:"):
            self.port, self.url = None, None
        else:
            self.port = int(first.split("://127.0.0.1:")[1].split("/")[0])
            self.url = f"ws://127.0.0.1:{self.port}"
        self.errors = queue.Queue()
        self.seen = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stderr:
            self.errors.put(line.decode(errors="replace").rstrip("\n"))

    def stderr_lines(self):
        """Every line wsbridge has written to stderr so far (after the first)."""
        while not self.errors.empty():
            self.seen.append(self.errors.get())
        return self.seen

    def processes(self, spares=False):
        """PIDs of every process of this server but the listener (connections, programs),
        and with `spares` the network processes forked ahead, waiting for a connection,
        and the process they are forked from."""
        from conftest import process_name
        return [pid for pid, cmd in _processes("cmdline", "rb")
                if self.tag.encode() in cmd and pid != self.proc.pid
                and (spares or process_name(pid) not in ("wsbridge-spare", "wsbridge-pool"))]

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout=30)


@pytest.fixture
def listen():
    started = []

    def start(*args, **kw):
        lst = Listener(list(args), **kw)
        started.append(lst)
        return lst

    yield start
    for lst in started:
        if lst.proc.poll() is None:
            lst.proc.kill()
            lst.proc.wait()


def exchange(url, messages, subprotocols=None, headers=None, origin=None):
    """Connects with python3-websockets, sends each message and reads one answer per
    message; returns (answers, close code, chosen subprotocol)."""

    async def run():
        async with websockets.connect(url, subprotocols=subprotocols, extra_headers=headers or {},
                                      origin=origin, open_timeout=10, close_timeout=10) as ws:
            answers = []
            for m in messages:
                await ws.send(m)
                answers.append(await asyncio.wait_for(ws.recv(), 10))
            await ws.close()
            return answers, ws.close_code, ws.subprotocol

    return asyncio.run(run())


def receive_all(url, timeout=20):
    """Connects and reads until the server closes; returns (messages, close code)."""

    async def run():
        async with websockets.connect(url, open_timeout=10) as ws:
            got = []
            try:
                while True:
                    got.append(await asyncio.wait_for(ws.recv(), timeout))
            except websockets.ConnectionClosed:
                pass
            return got, ws.close_code

    return asyncio.run(run())


def receive_all_after_close(url):
    """Connects, reads one message, closes; returns the messages and the close code."""

    async def run():
        async with websockets.connect(url, open_timeout=10, close_timeout=10) as ws:
            got = [await asyncio.wait_for(ws.recv(), 10)]
        return got, ws.close_code

    return asyncio.run(run())


def raw_request(port, request, read_until=b"\r\n\r\n", timeout=10):
    """Sends bytes on a plain socket and returns what comes back up to `read_until`
    (or to EOF)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(request)
        data = b""
        while read_until not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        return data


UPGRADE = (b"GET /raw HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")


def test_each_message_goes_through_the_program_and_back(listen):
    server = listen("--exec", "sh", "-c", "cat")
    answers, code, _ = exchange(server.url + "/echo", ["hello", "wörld", ""])
    assert answers == ["hello", "wörld", ""]
    assert code == 1000
    assert server.stop() == EXIT_SIGTERM
    wait_for(lambda: not server.processes(spares=True), 10, "the server's processes to be gone")


def test_a_node_ws_client_is_served(listen):
    server = listen("--exec", "sh", "-c", "cat")
    r = subprocess.run(["node", os.path.join(PEERS, "node_client.js"), server.url + "/", "one", "two"],
                       capture_output=True, text=True, timeout=30)
    assert r.stdout.splitlines() == ["MSG one", "MSG two", "CLOSE 1000"], r.stderr


def test_the_program_gets_websocketd_s_environment(listen):
    script = ('echo "$REMOTE_ADDR|$SERVER_NAME|$PATH_INFO|$QUERY_STRING|$REQUEST_URI|$HTTP_X_TOKEN|'
              '$WSBRIDGE_SUBPROTOCOL|${HTTP_PROXY-unset}|$SERVER_SOFTWARE"; cat')
    server = listen("--subprotocol", "chat", "--exec", "sh", "-c", script)
    answers, code, chosen = exchange(server.url + "/app/x?name=a%20b&n=1", ["ping", "pong"], subprotocols=["other", "chat"],
                                     headers={"X-Token": "t1", "Proxy": "http://evil.example/"})
    env = answers[0].split("|")
    assert env[:8] == ["127.0.0.1", "127.0.0.1", "/app/x", "name=a%20b&n=1", "/app/x?name=a%20b&n=1", "t1", "chat",
                       "unset"]
    assert env[8].startswith("wsbridge/")
    assert answers[1] == "ping" and chosen == "chat" and code == 1000


def test_every_connection_gets_its_own_program(listen):
    server = listen("--exec", "sh", "-c", 'echo "$$ $REMOTE_PORT"; cat')

    async def two_at_once():
        async with websockets.connect(server.url) as a, websockets.connect(server.url) as b:
            return await a.recv(), await b.recv()

    first, second = asyncio.run(two_at_once())
    assert first.split()[0] != second.split()[0]  # two programs
    assert first.split()[1] != second.split()[1]  # two clients


def test_a_program_that_ends_closes_with_1000_after_all_its_output(listen):
    server = listen("--exec", "sh", "-c", "seq 1 20000")
    got, code = receive_all(server.url)
    assert got == [str(i) for i in range(1, 20001)]
    assert code == 1000


def test_a_program_that_fails_closes_with_1011(listen):
    server = listen("--exec", "sh", "-c", "echo last words; exit 3")
    got, code = receive_all(server.url)
    assert got == ["last words"]
    assert code == 1011


def test_websocketd_example_scripts_run_unchanged(listen, tmp_path):
    # websocketd's count.sh and greeter.sh examples, as published (without the sleep).
    count = tmp_path / "count.sh"
    count.write_text("#!/bin/bash\nfor ((COUNT = 1; COUNT <= 10; COUNT++)); do\n  echo $COUNT\ndone\n")
    greeter = tmp_path / "greeter.sh"
    greeter.write_text("#!/bin/bash\nwhile read LINE\ndo\n  echo \"Hello $LINE!\"\ndone\n")
    for f in (count, greeter):
        f.chmod(0o755)
    server = listen("--exec", "sh", "-c", f"exec {count}")
    got, code = receive_all(server.url)
    assert got == [str(i) for i in range(1, 11)] and code == 1000
    server = listen("--exec", "sh", "-c", f"exec {greeter}")
    answers, code, _ = exchange(server.url, ["Alice", "Bob"])
    assert answers == ["Hello Alice!", "Hello Bob!"] and code == 1000


def test_sigterm_closes_every_connection_with_1001_and_leaves_nothing(listen):
    server = listen("--exec", "sh", "-c", "cat")
    codes = queue.Queue()

    async def client():
        async with websockets.connect(server.url) as ws:
            await ws.send("hi")
            assert await ws.recv() == "hi"
            codes.put("open")
            try:
                await asyncio.wait_for(ws.recv(), 30)
            except websockets.ConnectionClosed:
                pass
            codes.put(ws.close_code)

    threads = [threading.Thread(target=lambda: asyncio.run(client())) for _ in range(3)]
    for t in threads:
        t.start()
    for _ in threads:
        assert codes.get(timeout=20) == "open"
    assert server.stop(signal.SIGTERM) == EXIT_SIGTERM
    assert sorted(codes.get(timeout=20) for _ in threads) == [1001, 1001, 1001]
    wait_for(lambda: not server.processes(spares=True), 10, "the server's processes to be gone")


def test_sigterm_during_upgrades_gives_1001_to_every_client_that_read_a_101(listen):
    # A client may read its 101 before its netproc's board says open; the signal then
    # finds the connection upgrading, and that client is still owed a Close.
    server = listen("--exec", "sh", "-c", "exec cat")
    socks = [socket.create_connection(("127.0.0.1", server.port), timeout=20) for _ in range(12)]
    for s in socks:
        s.sendall(UPGRADE)
    first = socks[0].recv(1)  # the first 101 on its way: the rest are mid-upgrade
    assert first == b"H"
    server.proc.send_signal(signal.SIGTERM)
    answered = 0
    for i, s in enumerate(socks):
        data = first if i == 0 else b""
        try:
            while chunk := s.recv(4096):
                data += chunk
        except ConnectionResetError:
            pass
        s.close()
        if not data.startswith(b"HTTP/1.1 101"):
            assert data == b"", data  # never answered: dropped before its 101
            continue
        answered += 1
        frame = data.split(b"\r\n\r\n", 1)[1]
        assert frame[:1] == b"\x88" and int.from_bytes(frame[2:4], "big") == 1001, (i, frame)
    assert answered >= 1
    assert server.proc.wait(timeout=30) == EXIT_SIGTERM


def test_a_killed_listener_leaves_no_process_behind(listen):
    server = listen("--exec", "sh", "-c", "cat")

    async def open_two():
        a = await websockets.connect(server.url)
        b = await websockets.connect(server.url)
        for ws in (a, b):
            await ws.send("x")
            await ws.recv()
        return a, b

    loop = asyncio.new_event_loop()
    loop.run_until_complete(open_two())
    # Two connections: each a netproc and a program, both the listener's children.
    wait_for(lambda: len(server.processes()) >= 4, 10, "both connections' processes")
    server.proc.kill()
    server.proc.wait()
    wait_for(lambda: not server.processes(spares=True), 10, "every process of the killed server to be gone")
    loop.close()


def test_each_connection_is_one_network_process_beside_its_program(listen):
    from conftest import process_name
    server = listen("--exec", "sh", "-c", "cat")
    # Spares wait ahead of any connection, forked by the pool process, but the listener's
    # children (it reaps them).
    wait_for(lambda: len([p for p in server.processes(spares=True) if process_name(p) == "wsbridge-spare"]) >= 1,
             10, "a spare network process")
    ahead = {process_name(p): _parent(p) for p in server.processes(spares=True)}
    assert ahead == {"wsbridge-spare": server.proc.pid, "wsbridge-pool": server.proc.pid}, ahead

    async def two():
        a = await websockets.connect(server.url)
        b = await websockets.connect(server.url)
        for ws in (a, b):
            await ws.send("x")
            assert await ws.recv() == "x"
        names = sorted(process_name(p) for p in server.processes())
        parents = {_parent(p) for p in server.processes()}
        await a.close()
        await b.close()
        return names, parents

    names, parents = asyncio.run(two())
    # No connection supervisor and no ioproc: a netproc and the program, both the listener's.
    assert names.count("wsbridge-net") == 2 and len(names) == 4, names
    assert not [n for n in names if n.startswith("wsbridge") and n != "wsbridge-net"], names
    assert parents == {server.proc.pid}, parents


def test_connections_go_on_when_the_spares_factory_is_killed(listen):
    from conftest import process_name
    server = listen("--exec", "sh", "-c", "cat")
    pool = wait_for(lambda: [p for p in server.processes(spares=True) if process_name(p) == "wsbridge-pool"], 10,
                    "the process the spares are forked from")
    os.kill(pool[0], signal.SIGKILL)
    # More connections than the spares forked ahead: the listener forks the rest itself.
    for i in range(6):
        assert exchange(server.url, [f"m{i}"])[0] == [f"m{i}"]
    wait_for(lambda: not server.processes(), 10, "the connections' processes to be gone")
    assert server.stop() == EXIT_SIGTERM


def _parent(pid):
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def masked(opcode, payload, key=b"\x01\x02\x03\x04"):
    """A client frame (FIN set, masked as RFC 6455 §5.3 requires); payloads under 126 bytes."""
    assert len(payload) < 126
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def close_code_after(port, frame):
    """Opens a connection with a raw upgrade, sends `frame`, returns the code of the
    server's Close."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(UPGRADE)
        data = b""
        while b"\r\n\r\n" not in data:
            data += s.recv(4096)
        assert data.startswith(b"HTTP/1.1 101"), data
        s.sendall(frame)
        data = data.split(b"\r\n\r\n", 1)[1]
        while len(data) < 4:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    assert data[0] == 0x88, data
    return int.from_bytes(data[2:4], "big")


def test_an_unmasked_client_frame_is_refused_with_1002(listen):
    server = listen("--exec", "sh", "-c", "cat")
    assert close_code_after(server.port, b"\x81\x02hi") == 1002  # RFC 6455 §5.1: a client masks


def test_invalid_utf8_and_oversize_messages_close_with_1007_and_1009(listen):
    server = listen("--max-size", "10", "--no-compress", "--exec", "sh", "-c", "cat")
    assert close_code_after(server.port, masked(0x1, b"\xc3\x28")) == 1007  # RFC 6455 §8.1
    assert close_code_after(server.port, masked(0x2, b"x" * 20)) == 1009


def test_a_bad_upgrade_request_is_answered_400_or_426(listen):
    server = listen("--exec", "sh", "-c", "cat")
    no_key = UPGRADE.replace(b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", b"")
    assert raw_request(server.port, no_key).startswith(b"HTTP/1.1 400")
    old = raw_request(server.port, UPGRADE.replace(b"Version: 13", b"Version: 8"))
    assert old.startswith(b"HTTP/1.1 426") and b"Sec-WebSocket-Version: 13" in old


def test_a_client_that_sends_half_a_request_is_dropped(listen):
    server = listen("--connect-timeout", "1", "--exec", "sh", "-c", "cat")
    with socket.create_connection(("127.0.0.1", server.port), timeout=20) as s:
        s.sendall(UPGRADE[:40])
        answer = b""
        while chunk := s.recv(4096):  # ends when the server closes, not by our timeout
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    assert not server.processes()  # it never had any: its request never came


def test_origin_allow_null_admits_file_pages_only_when_listed(listen):
    # A page opened from file:// (or a sandboxed frame) sends "Origin: null".
    null_origin = UPGRADE.replace(b"\r\n\r\n", b"\r\nOrigin: null\r\n\r\n")
    server = listen("--origin-allow", "https://good.example, null", "--exec", "sh", "-c", "cat")
    assert raw_request(server.port, null_origin).startswith(b"HTTP/1.1 101")
    other = listen("--origin-allow", "https://good.example", "--exec", "sh", "-c", "cat")
    assert raw_request(other.port, null_origin).startswith(b"HTTP/1.1 403")


def test_origin_allow_refuses_other_origins_with_403(listen):
    server = listen("--origin-allow", "https://good.example", "--exec", "sh", "-c", "cat")
    bad = raw_request(server.port, UPGRADE.replace(b"\r\n\r\n", b"\r\nOrigin: https://evil.example\r\n\r\n"))
    assert bad.startswith(b"HTTP/1.1 403")
    answers, code, _ = exchange(server.url, ["ok"], origin="https://good.example")
    assert answers == ["ok"] and code == 1000
    answers, code, _ = exchange(server.url, ["no origin: not a browser"])
    assert answers == ["no origin: not a browser"]
    same = listen("--same-origin", "-v", "--exec", "sh", "-c", "cat")
    host = f"127.0.0.1:{same.port}".encode()
    bad = raw_request(same.port, UPGRADE.replace(b"Host: 127.0.0.1", b"Host: " + host)
                      .replace(b"\r\n\r\n", b"\r\nOrigin: http://127.0.0.1:1\r\n\r\n"))
    assert bad.startswith(b"HTTP/1.1 403")
    answers, code, _ = exchange(same.url, ["same"], origin=f"http://127.0.0.1:{same.port}")
    assert answers == ["same"] and code == 1000
    # -v: one access-log line per connection, the refused one included.
    wait_for(lambda: [l for l in same.stderr_lines() if ': access: "GET /raw" 403 ' in l], 10, "the 403's log line")
    wait_for(lambda: [l for l in same.stderr_lines() if ': access: "GET /" 101 ' in l and
                      l.endswith("received 1 sent 1 close 1000 by client")], 10, "the 101's log line")


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # the refused client's cleanup
def test_over_max_connections_gets_503(listen):
    server = listen("--max-connections", "1", "--exec", "sh", "-c", "cat")

    async def second_while_first_open():
        async with websockets.connect(server.url) as first:
            await first.send("a")
            assert await first.recv() == "a"
            with pytest.raises(websockets.InvalidStatusCode) as refused:
                await websockets.connect(server.url, open_timeout=10)
            return refused.value.status_code

    assert asyncio.run(second_while_first_open()) == 503


def test_without_exec_one_connection_is_bridged_to_stdin_and_stdout(listen):
    server = listen(stdin=subprocess.PIPE)
    server.proc.stdin.write(b"from stdin\n")
    server.proc.stdin.flush()

    async def talk():
        async with websockets.connect(server.url) as ws:
            first = await ws.recv()
            await ws.send("from the client")
            # Busy: a second client is refused while the first is served.
            with pytest.raises(websockets.InvalidStatusCode) as refused:
                await websockets.connect(server.url, open_timeout=10)
            server.proc.stdin.close()  # end of input: wsbridge closes (1000)
            try:
                await asyncio.wait_for(ws.recv(), 20)
            except websockets.ConnectionClosed:
                pass
            return first, refused.value.status_code, ws.close_code

    first, busy, code = asyncio.run(talk())
    assert (first, busy, code) == ("from stdin", 503, 1000)
    assert server.proc.wait(timeout=20) == EXIT_OK
    assert server.proc.stdout.read() == b"from the client\n"


def test_listen_errors_are_one_line(listen):
    cases = [
        (["--listen", "99999"], "the port must be a number"),
        (["--listen", "::1:80"], "IPv6 address goes in brackets"),
        (["--listen", "0", "ws://127.0.0.1/"], "--listen takes no URL"),
        (["--listen", "0", "--cacert", "x.pem"], "--cacert is a client option"),
        (["--listen", "0", "--max-connections", "2"], "needs --exec"),
    ]
    for args, words in cases:
        r = subprocess.run([WSBRIDGE, *args], capture_output=True, timeout=10)
        assert r.returncode == 2, (args, r.stderr)
        lines = r.stderr.decode().splitlines()
        assert len(lines) == 1 and words in lines[0], (args, lines)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = subprocess.run([WSBRIDGE, "--listen", str(port)], capture_output=True, timeout=10)
    assert r.returncode == 3 and b"Address already in use" in r.stderr


def test_a_thousand_idle_connections_come_and_go(listen):
    # Connections that never send a request are held by the listener, a descriptor each
    # and no process, while real clients are served; then all close, and the server goes
    # on serving with nothing left over.
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
    try:
        server = listen("--max-connections", "32", "--connect-timeout", "30", "--exec", "sh", "-c", "cat")
        idle = [socket.create_connection(("127.0.0.1", server.port), timeout=10) for _ in range(1000)]
        answers, code, _ = exchange(server.url, ["served while 1000 wait"])
        assert answers == ["served while 1000 wait"] and code == 1000
        wait_for(lambda: not server.processes(), 10, "the served connection's processes to be gone")
        for s in idle:
            s.setblocking(False)
            with pytest.raises(BlockingIOError):  # still open, unanswered
                s.recv(64)
            s.close()
        answers, code, _ = exchange(server.url, ["still serving"])
        assert answers == ["still serving"] and code == 1000
        wait_for(lambda: not server.processes(), 10, "nothing left over")
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_wss_with_tls_cert_serves_python_and_wsbridge_clients(listen, tmp_path):
    import ssl

    from test_tls import make_cert
    cert, key = make_cert(tmp_path, "DNS:localhost")
    server = listen("--tls-cert", cert, "--tls-key", key, "--exec", "sh", "-c", 'echo "HTTPS=$HTTPS"; cat')
    context = ssl.create_default_context(cafile=cert)

    async def python_client():
        async with websockets.connect(f"wss://localhost:{server.port}/", ssl=context) as ws:
            first = await ws.recv()
            await ws.send("over tls")
            return first, await ws.recv()

    assert asyncio.run(python_client()) == ("HTTPS=on", "over tls")
    # wsbridge on both ends: the client checks the server's certificate.
    lines = b"".join(b"line %d\n" % i for i in range(1000))
    r = subprocess.run([WSBRIDGE, "--cacert", cert, f"wss://localhost:{server.port}/"], input=lines,
                       capture_output=True, timeout=60)
    assert r.returncode == EXIT_OK, r.stderr
    assert r.stdout == b"HTTPS=on\n" + lines
    # A plain-text client gets no WebSocket from a TLS port.
    assert not raw_request(server.port, UPGRADE).startswith(b"HTTP/1.1 101")


def test_a_bad_tls_certificate_is_reported_before_listening(tmp_path):
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate\n")
    r = subprocess.run([WSBRIDGE, "--listen", "0", "--tls-cert", str(bad), "--exec", "cat"], capture_output=True,
                       timeout=10)
    assert r.returncode == 2
    assert r.stderr.decode().startswith(f"wsbridge: tls: cannot load the certificate from {bad}")
    assert len(r.stderr.splitlines()) == 1


def test_ping_interval_drops_a_client_that_stopped_answering(listen):
    server = listen("--ping-interval", "0.2", "--ping-timeout", "0.3", "-v", "--exec", "sh", "-c", "cat")
    with socket.create_connection(("127.0.0.1", server.port), timeout=20) as s:
        s.sendall(UPGRADE)
        data = b""
        while True:  # the answer, then a ping the client never answers, then the end
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    head, frames = data.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 101")
    assert frames[:1] == b"\x89"  # a ping (RFC 6455 §5.5.2), unmasked from a server
    wait_for(lambda: any("no answer from the client" in line for line in server.stderr_lines()), 10,
             "the keepalive's report")


def test_the_program_s_stderr_lines_carry_the_connection(listen):
    server = listen("--exec", "sh", "-c", 'printf "first\\nsecond" >&2; echo done')
    got, code = receive_all(server.url)
    assert got == ["done"] and code == 1000

    program_lines = lambda: [l for l in server.stderr_lines() if l.endswith(("first", "second"))]  # noqa: E731
    ours = wait_for(lambda: len(program_lines()) == 2 and program_lines(), 10, "the program's two stderr lines")
    assert [l.rsplit(": ", 1)[1] for l in ours] == ["first", "second"]
    assert all(l.startswith("127.0.0.1:") for l in ours), ours


def test_a_program_that_ignores_its_input_s_end_and_sigterm_is_killed_with_its_group(listen):
    # EOF when the connection ends, SIGTERM after the grace, SIGKILL after another.
    server = listen("--exec", "sh", "-c", "trap '' TERM; echo ready; while :; do sleep 0.2; done")
    got, _ = receive_all_after_close(server.url)
    assert got == ["ready"]
    said = "the program did not exit after its input ended; it was stopped with a signal"
    wait_for(lambda: any(said in l for l in server.stderr_lines()), 20, "the program to be stopped")
    wait_for(lambda: not server.processes(), 10, "the connection's processes and its program to be gone")


def test_v_says_when_a_program_seems_to_hold_its_output_in_a_buffer(listen):
    # python on a pipe buffers stdout: its answer sits in its buffer.
    buffering = "import sys\nfor line in sys.stdin:\n    print('answer to ' + line.strip())\n"
    server = listen("-v", "--exec", "env", "-u", "PYTHONUNBUFFERED", "/usr/bin/python3", "-c", buffering)

    async def one():
        async with websockets.connect(server.url) as ws:
            await ws.send("tick")
            said = "program: it has read its input but written nothing for 3 s; if it holds its output in a buffer"
            await asyncio.to_thread(wait_for, lambda: any(said in l for l in server.stderr_lines()), 20, "the hint")

    asyncio.run(one())
    hint = [l for l in server.stderr_lines() if "written nothing" in l]
    assert len(hint) == 1 and hint[0].startswith("wsbridge: 127.0.0.1:"), hint


def test_with_stderr_a_file_the_connections_lines_reach_it(tmp_path):
    # The network processes may not write files (RLIMIT_FSIZE 0): their lines reach a
    # log file through the listener.
    log = tmp_path / "server.log"
    with open(log, "wb") as err:
        server = subprocess.Popen([WSBRIDGE, "-v", "--listen", "127.0.0.1:0", "--exec", "sh", "-c",
                                   "echo to-stderr >&2; printf 'esc \\033[2J\\n' >&2; cat"],
                                  stdout=subprocess.DEVNULL, stderr=err)
    try:
        port = wait_for(lambda: "listening on" in log.read_text() and
                        int(log.read_text().split("127.0.0.1:")[1].split("/")[0]), 10, "the server to listen")
        assert exchange(f"ws://127.0.0.1:{port}/", ["hi"])[0] == ["hi"]
        wait_for(lambda: "connection closed by client: 1000" in log.read_text(), 10, "the close in the log")
        text = log.read_text()
        assert ": to-stderr\n" in text and ": esc \\x1b[2J\n" in text, text
        assert ": handshake: open;" in text, text
        assert "\x1b" not in text
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_a_program_flooding_its_stderr_does_not_hold_up_other_connections(listen):
    # Its lines reach the listener's stderr through the listener, which must go on
    # serving the others meanwhile.
    server = listen("--exec", "sh", "-c", 'if [ "$QUERY_STRING" = noisy ]; then '
                    'while :; do echo noise noise noise noise noise noise >&2; done & fi; exec cat')

    async def both():
        async with websockets.connect(server.url + "?noisy") as noisy:
            await noisy.send("a")
            assert await noisy.recv() == "a"
            wait_for(lambda: sum("noise" in l for l in server.stderr_lines()) > 1000, 20, "the noise")
            for i in range(5):
                got, code, _ = await asyncio.to_thread(exchange, server.url, [f"m{i}"])
                assert got == [f"m{i}"] and code == 1000

    asyncio.run(both())
    assert server.stop() == EXIT_SIGTERM
    wait_for(lambda: not server.processes(spares=True), 10, "every process, the noise's loop included, to be gone")


def test_listen_on_a_unix_socket(listen, tmp_path):
    path = tmp_path / "ws.sock"
    server = listen("--exec", "sh", "-c", 'echo "[$REMOTE_ADDR] $PATH_INFO"; cat', address=f"unix:{path}")

    async def talk():
        async with websockets.unix_connect(str(path), "ws://localhost/over/unix") as ws:
            first = await ws.recv()
            await ws.send("through the socket file")
            return first, await ws.recv()

    assert asyncio.run(talk()) == ("[] /over/unix", "through the socket file")
    assert server.stop() == EXIT_SIGTERM
    assert not path.exists()  # the listener removes the socket it made
    path.write_text("someone else's file")
    r = subprocess.run([WSBRIDGE, "--listen", f"unix:{path}"], capture_output=True, timeout=10)
    assert r.returncode == 3 and b"already exists" in r.stderr
    assert path.read_text() == "someone else's file"


def test_show_ping_pong_on_both_ends(listen):
    # wsbridge's server pings (--ping-interval) and wsbridge's client answers: -P shows
    # each side's view.
    server = listen("-P", "--ping-interval", "0.1", "--exec", "sh", "-c", "cat")
    r = subprocess.run([WSBRIDGE, "-P", "-n", "--timeout", "0.5", f"{server.url}/"], stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=30)
    assert r.returncode == EXIT_OK, r.stderr
    assert b"wsbridge: ping: received ping (answered) \"wsbridge keepalive\"" in r.stderr
    wait_for(lambda: any(l.endswith("ping: sent keepalive ping") for l in server.stderr_lines()), 10, "the ping")
    wait_for(lambda: any(l.endswith('pong: received pong "wsbridge keepalive"') for l in server.stderr_lines()), 10,
             "the pong")


def test_a_crashed_connection_is_reported_with_its_address_and_the_server_goes_on(listen):
    from conftest import process_name
    server = listen("--exec", "sh", "-c", "cat")

    async def crash_one():
        async with websockets.connect(server.url) as ws:
            await ws.send("x")
            await ws.recv()
            netprocs = [p for p in server.processes() if process_name(p) == "wsbridge-net"]
            assert len(netprocs) == 1
            os.kill(netprocs[0], signal.SIGKILL)
            try:
                await asyncio.wait_for(ws.recv(), 20)
            except websockets.ConnectionClosed:
                pass

    asyncio.run(crash_one())
    wait_for(lambda: [l for l in server.stderr_lines()
                      if l.startswith("wsbridge: 127.0.0.1:") and l.endswith("network process killed by signal 9 (Killed)")],
             10, "the crash report")
    answers, code, _ = exchange(server.url, ["still here"])  # one connection's crash touches no other
    assert answers == ["still here"] and code == 1000
