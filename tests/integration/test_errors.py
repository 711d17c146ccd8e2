"""Bad input and failed connections: one clear line on stderr and a documented status."""
import time

import pytest

from conftest import (EXIT_CONNECT, EXIT_HANDSHAKE, EXIT_OK, EXIT_USAGE, free_port,
                      run_wsbridge)
from test_tls import make_cert


def one_line(stderr):
    lines = stderr.decode().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_refused_connection_names_the_step_and_exits_3():
    port = free_port()
    r = run_wsbridge([f"ws://127.0.0.1:{port}/"])
    assert r.returncode == EXIT_CONNECT
    assert one_line(r.stderr) == f"wsbridge: connect: 127.0.0.1:{port}: Connection refused"


def test_unknown_host_names_the_resolve_step_and_exits_3():
    r = run_wsbridge(["ws://no-such-host.invalid/"])
    assert r.returncode == EXIT_CONNECT
    assert one_line(r.stderr).startswith("wsbridge: resolve: no-such-host.invalid: ")


def test_http_403_is_a_rejected_handshake(servers):
    server = servers("hostile", "http", 403)
    r = run_wsbridge([server.url])
    assert r.returncode == EXIT_HANDSHAKE
    assert one_line(r.stderr) == "wsbridge: handshake: server answered HTTP 403 Forbidden"


def test_http_302_shows_its_location(servers):
    server = servers("hostile", "http", 302, "http://example.test/elsewhere")
    r = run_wsbridge(["--max-redirects", "0", server.url])
    assert r.returncode == EXIT_HANDSHAKE
    assert one_line(r.stderr) == ("wsbridge: handshake: server answered HTTP 302 Found "
                                  "(Location: http://example.test/elsewhere)")


def test_location_from_the_server_is_escaped(servers):
    # A C1 control (CSI, U+009B) and a bidi override (U+202E) pass HTTP's parser as
    # obs-text; neither may reach the terminal.
    server = servers("hostile", "http", 302, "http://x/\u009b2J\u202etxt.exe")
    for args in (["--max-redirects", "0"], []):  # shown, or refused when following it
        r = run_wsbridge([*args, server.url])
        assert r.returncode == EXIT_HANDSHAKE
        line = one_line(r.stderr)
        assert "\u009b" not in line and "\u202e" not in line
        assert "(Location: http://x/\\u009b2J\\u202etxt.exe)" in line


def test_garbage_instead_of_http_is_a_failed_handshake(servers):
    server = servers("hostile", "garbage")
    r = run_wsbridge([server.url])
    assert r.returncode == EXIT_HANDSHAKE
    assert one_line(r.stderr).startswith("wsbridge: handshake: the server's answer is not valid HTTP")


def test_an_http_url_on_the_command_line_means_ws(servers):
    server = servers("python", "echo")
    r = run_wsbridge([server.url.replace("ws://", "http://")], b"hello\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"hello\n"


@pytest.mark.parametrize("url, expected", [
    ("localhost:8080/chat", "did you mean ws://localhost:8080/chat?"),
    ("ftp://127.0.0.1/", "scheme must be ws or wss"),
    ("ws://h/a b", "it contains a space (write %20)"),
    ("ws://", "no host"),
    ("ws://127.0.0.1:99999/", "invalid URL"),
    ("ws://127.0.0.1/#frag", "cannot have a #fragment"),
    ("ws:/127.0.0.1/", "did you mean ws://127.0.0.1/?"),
    ("wss:example.com", "did you mean wss://example.com?"),
    ("ws://[::1:8080/", "an IPv6 address needs both brackets, as in ws://[::1]:8080/"),
])
def test_malformed_url_is_a_usage_error(url, expected):
    r = run_wsbridge([url])
    assert r.returncode == EXIT_USAGE
    line = one_line(r.stderr)
    assert line.startswith("wsbridge: ") and expected in line, line


def test_unknown_option_and_missing_url_are_usage_errors():
    r = run_wsbridge(["--frobnicate", "ws://127.0.0.1/"])
    assert r.returncode == EXIT_USAGE and "frobnicate" in one_line(r.stderr)
    r = run_wsbridge([])
    assert r.returncode == EXIT_USAGE and "missing URL" in one_line(r.stderr)


def test_help_and_version_follow_the_conventions():
    r = run_wsbridge(["--help"])
    assert r.returncode == EXIT_OK and r.stderr == b""
    assert r.stdout.startswith(b"usage: wsbridge") and b"--close-timeout" in r.stdout
    r = run_wsbridge(["--version"])
    assert r.returncode == EXIT_OK and r.stdout.startswith(b"wsbridge ")


def test_connect_timeout_bounds_a_syn_that_is_never_answered(servers):
    server = servers("hostile", "backlog-full")  # the listener's queue is full: SYNs are dropped
    start = time.monotonic()
    r = run_wsbridge(["--connect-timeout", "1", server.url], b"x\n", timeout=30)
    assert r.returncode == EXIT_CONNECT
    assert one_line(r.stderr) == f"wsbridge: connect: 127.0.0.1:{server.port}: timed out after 1s"
    assert 1 <= time.monotonic() - start < 20  # not before the timeout; and not trapped


@pytest.mark.parametrize("status", [302, 403])
def test_refusal_without_body_length_on_a_socket_held_open_fails_at_once(servers, status):
    # No Content-Length: the body would run until the server closes, which it never
    # does; the head is enough, so wsbridge does not wait for the 30 s timeout.
    server = servers("hostile", "http-hang", status, "http://elsewhere.test/")
    start = time.monotonic()
    r = run_wsbridge(["--max-redirects", "0", server.url], b"x\n", timeout=60)
    assert r.returncode == EXIT_HANDSHAKE
    assert one_line(r.stderr).startswith(f"wsbridge: handshake: server answered HTTP {status}")
    assert time.monotonic() - start < 20  # generous: only "not trapped until the timeout"


@pytest.mark.parametrize("status,headers,hint", [
    (401, ['WWW-Authenticate: Basic realm="api"'],
     '; it asks for credentials (WWW-Authenticate: Basic realm="api"); try -u USER:PASSWORD, or -H '
     "'Authorization: ...' for a token"),
    (200, [], "; not a WebSocket endpoint? (it answered as a web page does)"),
    (426, ["Sec-WebSocket-Version: 8"], "; it speaks WebSocket version 8, wsbridge 13 (RFC 6455)"),
    (503, ["Retry-After: 30"], "; it says to retry after 30 s"),
])
def test_a_refusal_says_what_to_try_next(servers, status, headers, hint):
    server = servers("hostile", "http-headers", status, *headers)
    r = run_wsbridge([server.url], b"x\n")
    assert r.returncode == EXIT_HANDSHAKE
    line = one_line(r.stderr)
    assert line.startswith(f"wsbridge: handshake: server answered HTTP {status}") and line.endswith(hint), line


@pytest.mark.parametrize("content_type,body,said", [
    ("text/plain", "token expired\r\n  please log in again\n", ': "token expired please log in again"'),
    ("text/html; charset=utf-8", "<html><head><title>403\n Forbidden</title></head><body><h1>No</h1></body></html>",
     ': "403 Forbidden"'),
    ("application/json", '{"error": "\u001b[2Jquota"}', ': "{"error": "\\x1b[2Jquota"}"'),
    ("text/plain", "x" * 5000, ': "' + "x" * 200 + '..."'),
    ("image/png", "\x89PNG", ""),
])
def test_a_refusal_shows_what_the_body_says(servers, content_type, body, said):
    server = servers("hostile", "http-body", 403, content_type, body)
    r = run_wsbridge([server.url], b"x\n")
    assert r.returncode == EXIT_HANDSHAKE
    assert one_line(r.stderr) == "wsbridge: handshake: server answered HTTP 403 Forbidden" + said, r.stderr


def test_ws_to_a_tls_port_says_so(servers, tmp_path):
    alert = servers("hostile", "tls-alert")
    r = run_wsbridge([alert.url], b"x\n")
    assert r.returncode == EXIT_HANDSHAKE
    assert one_line(r.stderr) == "wsbridge: handshake: the server speaks TLS: use wss://"
    # An OpenSSL server (python's ssl) closes without a byte of answer.
    cert, key = make_cert(tmp_path, "DNS:localhost")
    tls = servers("python", "echo", "--tls", cert, key)
    r = run_wsbridge([tls.url], b"x\n")
    assert r.returncode == EXIT_HANDSHAKE
    assert one_line(r.stderr) == ("wsbridge: handshake: the server closed the connection without answering the "
                                  "upgrade request (if it speaks TLS, use wss://)")


def test_wss_to_a_plain_port_says_so(servers):
    echo = servers("python", "echo")
    r = run_wsbridge([f"wss://127.0.0.1:{echo.port}/"], b"x\n")
    assert r.returncode == EXIT_CONNECT
    assert one_line(r.stderr).endswith("(the server does not speak TLS on this port: ws:// instead of wss://?)")
