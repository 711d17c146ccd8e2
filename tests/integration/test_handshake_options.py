"""-H, --subprotocol and --origin reach the server; the negotiated subprotocol is
reported; bad values are usage errors."""
import pytest

from conftest import EXIT_HANDSHAKE, EXIT_OK, EXIT_USAGE, run_wsbridge


def test_headers_origin_and_subprotocol_reach_the_server(servers):
    server = servers("python", "echo", "--show-headers", "--subprotocols", "chat,other")
    r = run_wsbridge(["-v", "-H", "X-Token: abc 123", "-H", "X-Second:two", "--origin", "https://app.test",
                      "--subprotocol", "superchat", "--subprotocol", "chat", server.url], b"hi\n")
    assert r.returncode == EXIT_OK, r.stderr
    assert r.stdout == b"hi\n"
    lines = server.stdout_lines()
    assert "HEADER X-Token: abc 123" in lines
    assert "HEADER X-Second: two" in lines
    assert "HEADER Origin: https://app.test" in lines
    # The one both sides know (python-websockets breaks ties between several at random).
    assert "SUBPROTOCOL chat" in lines
    assert "wsbridge: handshake: open; subprotocol: chat;" in r.stderr.decode()


def test_server_without_subprotocols_leaves_none_chosen(servers):
    server = servers("python", "echo")
    r = run_wsbridge(["-v", "--subprotocol", "chat", server.url], b"hi\n")
    assert r.returncode == EXIT_OK, r.stderr
    assert "subprotocol: none;" in r.stderr.decode()


@pytest.mark.parametrize("args, expected", [
    (["-H", "no colon here"], "expected 'Name: value'"),
    (["-H", "Bad Name: x"], "expected 'Name: value'"),
    (["-H", "Host: evil.test"], "set by wsbridge itself"),
    (["-H", "Sec-WebSocket-Key: x"], "set by wsbridge itself"),
    (["--subprotocol", "two words"], "not a valid protocol name"),
])
def test_bad_handshake_options_are_usage_errors(args, expected):
    r = run_wsbridge([*args, "ws://127.0.0.1:9/"])
    assert r.returncode == EXIT_USAGE
    assert expected in r.stderr.decode()


def test_basic_auth_from_user_option_or_url(servers):
    server = servers("python", "echo", "--show-headers")
    r = run_wsbridge(["--user", "alice:s3cret", server.url], b"")
    assert r.returncode == EXIT_OK, r.stderr
    assert server.expect("HEADER Authorization:") == "HEADER Authorization: Basic YWxpY2U6czNjcmV0"
    # From the URL, percent-decoded ("b%40b" is "b@b"); the password is never shown.
    url = server.url.replace("ws://", "ws://b%40b:pa%3Ass@")
    r = run_wsbridge(["-v", url], b"")
    assert r.returncode == EXIT_OK, r.stderr
    assert server.expect("HEADER Authorization:") == "HEADER Authorization: Basic YkBiOnBhOnNz"
    assert b"pa%3Ass" not in r.stderr and b"pa:ss" not in r.stderr


def test_a_subprotocol_that_was_not_offered_fails_the_handshake(servers):
    server = servers("hostile", "subprotocol", "evil")
    r = run_wsbridge(["--subprotocol", "chat", server.url], b"x\n")
    assert r.returncode == EXIT_HANDSHAKE
    assert r.stderr == b"wsbridge: handshake: the server chose subprotocol 'evil', which was not offered\n"


def test_unix_domain_socket_by_url_and_by_option(servers, tmp_path):
    path = str(tmp_path / "ws.sock")
    server = servers("python", "echo", "--show-headers", "--unix", path)
    lines = b"".join(b"over a unix socket %d\n" % i for i in range(200))
    r = run_wsbridge(["--linger", "2", f"ws+unix://{path}:/chat?room=1"], lines)
    assert r.returncode == EXIT_OK, r.stderr
    assert r.stdout == lines
    r = run_wsbridge(["--unix", path, "ws://app.internal/chat"], b"by option\n")
    assert r.returncode == EXIT_OK, r.stderr
    assert r.stdout == b"by option\n"
    r = run_wsbridge([f"ws+unix://{tmp_path}/missing.sock"], b"x\n")
    assert r.returncode == 3
    assert r.stderr == f"wsbridge: connect: {tmp_path}/missing.sock: No such file or directory\n".encode()


def test_ipv6_loopback_literal(servers):
    import socket
    import subprocess
    from conftest import PEERS, PYTHON
    # A small python-websockets echo on [::1]; skipped where the machine has no IPv6.
    probe = socket.socket(socket.AF_INET6)
    try:
        probe.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback here")
    finally:
        probe.close()
    code = ("import asyncio, websockets\n"
            "async def echo(ws, path=None):\n    async for m in ws: await ws.send(m)\n"
            "async def main():\n"
            "    async with websockets.serve(echo, '::1', 0) as s:\n"
            "        print('PORT', s.sockets[0].getsockname()[1], flush=True)\n"
            "        await asyncio.Future()\n"
            "asyncio.run(main())\n")
    p = subprocess.Popen([PYTHON, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        port = int(p.stdout.readline().split()[1])
        r = run_wsbridge([f"ws://[::1]:{port}/"], b"six\n")
        assert r.returncode == EXIT_OK, r.stderr
        assert r.stdout == b"six\n"
    finally:
        p.kill()
        p.wait()


def test_verbose_shows_request_response_and_close_frames(servers):
    server = servers("node", "echo")
    r = run_wsbridge(["-v", "--subprotocol", "chat", "--user", "u:secret", server.url], b"x\n")
    assert r.returncode == EXIT_OK, r.stderr
    err = r.stderr.decode()
    for line in ["wsbridge: handshake: > GET / HTTP/1.1", "wsbridge: handshake: > Sec-WebSocket-Protocol: chat",
                 "wsbridge: handshake: > Authorization: Basic ***",
                 "wsbridge: handshake: < HTTP/1.1 101 Switching Protocols",
                 "wsbridge: handshake: < Sec-WebSocket-Protocol: chat",
                 "wsbridge: handshake: open; subprotocol: chat; extensions: none",
                 "wsbridge: close: sent Close 1000", "wsbridge: close: received Close 1000"]:
        assert line in err, err
    assert "secret" not in err and "dTpzZWNyZXQ" not in err
