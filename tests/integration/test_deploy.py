"""docs/deploy.md, as written: Debian's nginx and haproxy started on loopback with that
file's configuration blocks (only the ports replaced), in front of two wsbridge
backends. Clients connect from 127.0.0.2, so the address the program sees tells the
proxy's (127.0.0.1) from the client's. Also --trusted-proxy and --proxy-protocol on
their own, with the headers a client could forge."""
import asyncio
import os
import re
import shutil
import socket
import struct
import subprocess

import pytest
import websockets

from conftest import free_port, greeting_and_echoes, wait_for
from test_server import listen  # noqa: F401 (the fixture)

DEPLOY = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "docs", "deploy.md")
CLIENT_ADDRESS = "127.0.0.2"


def block(language):
    """The fenced block of `language` in docs/deploy.md."""
    text = open(DEPLOY).read()
    found = re.search(r"```" + language + r"\n(.*?)```", text, re.S)
    assert found, f"no {language} block in docs/deploy.md"
    return found.group(1)


def talk(port, origin=None, extra=None, messages=("ping",), source=CLIENT_ADDRESS):
    """Connects from `source` (with a browser's Origin if given); returns the program's
    first line, then the echo of each message."""
    sock = socket.socket()
    sock.bind((source, 0))
    sock.connect(("127.0.0.1", port))
    return greeting_and_echoes(f"ws://127.0.0.1:{port}/app", messages, sock=sock, origin=origin, headers=extra)


# Each backend says which it is and who it thinks the client is, then echoes.
def backend_program(name):
    return ["--exec", "sh", "-c", f'echo "{name} $REMOTE_ADDR"; exec cat']


@pytest.fixture
def proxy_process():
    started = []

    def start(argv, ready_port):
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        started.append(p)

        def listening():
            assert p.poll() is None, p.stdout.read()
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", ready_port)) == 0

        wait_for(listening, what=f"{argv[0]} to listen")
        return p

    yield start
    for p in started:
        p.kill()
        p.wait()


@pytest.mark.skipif(not shutil.which("nginx"), reason="Debian's nginx (./scripts/setup) is needed")
def test_behind_nginx_as_docs_deploy_md_configures_it(listen, proxy_process, tmp_path):
    ports = [free_port(), free_port()]
    for name, port in zip(("one", "two"), ports):
        listen("--trusted-proxy", "127.0.0.1", "--same-origin", *backend_program(name), address=f"127.0.0.1:{port}")
    front = free_port()
    config = block("nginx").replace("127.0.0.1:9001", f"127.0.0.1:{ports[0]}") \
                           .replace("127.0.0.1:9002", f"127.0.0.1:{ports[1]}") \
                           .replace("listen 8080;", f"listen 127.0.0.1:{front};")
    for d in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (tmp_path / d).mkdir()
    (tmp_path / "nginx.conf").write_text(
        f"daemon off;\nworker_processes 1;\npid {tmp_path}/nginx.pid;\nerror_log stderr warn;\n"
        f"events {{ worker_connections 64; }}\n"
        f"http {{\naccess_log off;\nclient_body_temp_path {tmp_path}/body;\nproxy_temp_path {tmp_path}/proxy;\n"
        f"fastcgi_temp_path {tmp_path}/fastcgi;\nuwsgi_temp_path {tmp_path}/uwsgi;\nscgi_temp_path {tmp_path}/scgi;\n"
        f"{config}\n}}\n")
    proxy_process(["nginx", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")], front)
    origin = f"http://127.0.0.1:{front}"  # what a browser on the proxy's page sends
    served = set()
    for _ in range(4):
        first, echo = talk(front, origin=origin)
        name, address = first.split()
        assert address == CLIENT_ADDRESS  # not nginx's 127.0.0.1
        assert echo == "ping"
        served.add(name)
    assert served == {"one", "two"}
    # --same-origin still refuses another site's page, behind the proxy too.
    with pytest.raises(websockets.InvalidStatusCode) as refused:
        talk(front, origin="http://evil.example")
    assert refused.value.status_code == 403


@pytest.mark.skipif(not shutil.which("haproxy"), reason="Debian's haproxy (./scripts/setup) is needed")
def test_behind_haproxy_as_docs_deploy_md_configures_it(listen, proxy_process, tmp_path):
    ports = [free_port(), free_port()]
    for name, port in zip(("one", "two"), ports):
        listen("--proxy-protocol", *backend_program(name), address=f"127.0.0.1:{port}")
    front = free_port()
    config = block("haproxy").replace("127.0.0.1:9001", f"127.0.0.1:{ports[0]}") \
                             .replace("127.0.0.1:9002", f"127.0.0.1:{ports[1]}") \
                             .replace("bind :8080", f"bind 127.0.0.1:{front}")
    (tmp_path / "haproxy.cfg").write_text("global\n    maxconn 64\n\n" + config)
    proxy_process(["haproxy", "-db", "-f", str(tmp_path / "haproxy.cfg")], front)
    served = set()
    for _ in range(4):
        first, echo = talk(front)
        name, address = first.split()
        assert (address, echo) == (CLIENT_ADDRESS, "ping")
        served.add(name)
    assert served == {"one", "two"}


def test_forwarding_headers_count_only_from_a_trusted_proxy(listen):
    srv = listen("--trusted-proxy", "127.0.0.1", *backend_program("x"))
    forged = {"X-Forwarded-For": "203.0.113.9"}
    # From 127.0.0.2 (not trusted): the header is the client's own claim, ignored.
    assert talk(srv.port, extra=forged)[0] == "x 127.0.0.2"
    # From 127.0.0.1 (trusted): the right-most address that is not itself trusted.
    assert talk(srv.port, extra={"X-Forwarded-For": "198.51.100.1, 203.0.113.9, 127.0.0.1"},
                source="127.0.0.1")[0] == "x 203.0.113.9"
    assert talk(srv.port, extra={"Forwarded": 'for=192.0.2.60;proto=http, for="[2001:db8::7]:4711"'},
                source="127.0.0.1")[0] == "x 2001:db8::7"


def test_same_origin_behind_a_trusted_proxy_compares_the_forwarded_host(listen):
    srv = listen("--trusted-proxy", "127.0.0.1", "--same-origin", *backend_program("x"))
    # nginx's common `proxy_set_header Host $host` loses the port; X-Forwarded-Host has it.
    headers = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Host": "chat.example:8443"}
    assert talk(srv.port, origin="https://chat.example:8443", extra=headers, source="127.0.0.1")[0] == "x 203.0.113.9"
    with pytest.raises(websockets.InvalidStatusCode):
        talk(srv.port, origin="https://evil.example", extra=headers, source="127.0.0.1")
    wait_for(lambda: any("refused Origin 'https://evil.example' (--same-origin: not the Host 'chat.example:8443' "
                         "the proxy forwarded)" in line for line in srv.stderr_lines()), what="the refusal's line")


def proxied(port, header, source=CLIENT_ADDRESS):
    """A WebSocket connection whose first bytes are `header`; returns the program's first line."""

    async def run():
        sock = socket.socket()
        sock.bind((source, 0))
        sock.connect(("127.0.0.1", port))
        sock.sendall(header)
        async with websockets.connect(f"ws://127.0.0.1:{port}/", sock=sock, open_timeout=10) as ws:
            return await asyncio.wait_for(ws.recv(), 10)

    return asyncio.run(run())


def v2_header(src, sport, dst="127.0.0.1", dport=80):
    body = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!HH", sport, dport)
    return b"\r\n\r\n\x00\r\nQUIT\n" + bytes([0x21, 0x11]) + struct.pack("!H", len(body)) + body


def test_proxy_protocol_names_the_client_and_a_connection_without_it_is_closed(listen):
    srv = listen("--proxy-protocol", "--exec", "sh", "-c", 'echo "$REMOTE_ADDR $REMOTE_PORT"; exec cat')
    assert proxied(srv.port, b"PROXY TCP4 198.51.100.4 127.0.0.1 40001 80\r\n") == "198.51.100.4 40001"
    assert proxied(srv.port, v2_header("203.0.113.5", 40002)) == "203.0.113.5 40002"
    assert proxied(srv.port, b"PROXY UNKNOWN\r\n").startswith("127.0.0.2 ")  # the connection's own peer
    for bad in (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"PROXY TCP4 not-an-address 1.2.3.4 1 2\r\n\r\n"):
        with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
            s.sendall(bad)
            try:
                assert s.recv(100) == b""  # closed, nothing answered
            except ConnectionResetError:
                pass  # closed with the request unread: a reset, nothing answered either
    wait_for(lambda: any("PROXY protocol: no PROXY protocol header (--proxy-protocol)" in line
                         for line in srv.stderr_lines()), what="the refusal's line")

