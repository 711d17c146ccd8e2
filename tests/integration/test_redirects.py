"""Redirects (#5): followed up to --max-redirects, never from wss:// to ws://, without
credentials once the origin changes, and without losing input queued meanwhile."""
import pytest

from conftest import EXIT_HANDSHAKE, EXIT_OK, assert_no_processes_left, run_wsbridge
from test_tls import make_cert

LINES = b"".join(b"redirected line %d\n" % i for i in range(1000))


def test_a_redirect_chain_is_followed_and_no_input_is_lost(servers):
    echo = servers("python", "echo")
    # http:// in a Location means ws:// (servers often write it so).
    second = servers("hostile", "http", "307", echo.url.replace("ws://", "http://") + "final")
    first = servers("python", "redirect", "302", second.url + "next")
    r = run_wsbridge(["--linger", "2", "-v", first.url], LINES)
    assert r.returncode == EXIT_OK, r.stderr
    assert r.stdout == LINES
    assert r.stderr.count(b"wsbridge: redirect: HTTP ") == 2, r.stderr
    assert first.expect("REDIRECTED") and second.expect("ANSWERED")
    assert_no_processes_left(first.url)


def test_relative_location_loop_stops_at_max_redirects(servers):
    loop = servers("hostile", "http", "302", "/again")
    r = run_wsbridge(["--max-redirects", "3", loop.url], b"x\n")
    assert r.returncode == EXIT_HANDSHAKE
    assert r.stderr == (b"wsbridge: handshake: server answered HTTP 302 (Location: /again): "
                        b"too many redirects (3; see --max-redirects)\n")
    assert_no_processes_left(loop.url)


def test_max_redirects_0_shows_status_and_location(servers):
    server = servers("hostile", "http", "301", "ws://example.test/")
    r = run_wsbridge(["--max-redirects", "0", server.url], b"x\n")
    assert r.returncode == EXIT_HANDSHAKE
    assert r.stderr == (b"wsbridge: handshake: server answered HTTP 301 Moved Permanently "
                        b"(Location: ws://example.test/)\n")


def test_wss_to_ws_downgrade_is_refused(servers, tmp_path):
    cert, key = make_cert(tmp_path, "DNS:localhost")
    echo = servers("python", "echo")
    server = servers("python", "redirect", "302", echo.url, "--tls", cert, key)
    r = run_wsbridge(["--cacert", cert, f"wss://localhost:{server.port}/"], b"x\n")
    assert r.returncode == EXIT_HANDSHAKE
    assert b"refusing to follow a redirect from wss:// to ws://" in r.stderr
    assert len(r.stderr.splitlines()) == 1


def test_a_ws_redirect_to_wss_is_followed(servers, tmp_path):
    # The first network process has no TLS; the one the supervisor starts for the new
    # target loads the TLS module.
    cert, key = make_cert(tmp_path, "DNS:localhost")
    echo = servers("python", "echo", "--tls", cert, key)
    redirector = servers("hostile", "http", "302", f"wss://localhost:{echo.port}/")
    r = run_wsbridge(["--linger", "2", "--cacert", cert, redirector.url], LINES)
    assert r.returncode == EXIT_OK, r.stderr
    assert r.stdout == LINES
    assert_no_processes_left(redirector.url)


def test_credentials_stay_behind_when_the_origin_changes(servers):
    target = servers("python", "echo", "--show-headers")
    redirector = servers("hostile", "http", "302", target.url)
    r = run_wsbridge(["-H", "Authorization: Bearer secret", "-H", "Cookie: session=1", "-H", "X-Kept: yes",
                      "--user", "alice:pw", redirector.url], b"")
    assert r.returncode == EXIT_OK, r.stderr
    lines = target.stdout_lines()
    assert "HEADER X-Kept: yes" in lines
    assert not [line for line in lines if "Authorization" in line or "Cookie" in line], lines


def test_a_location_longer_than_the_board_is_refused_in_one_short_line(servers):
    # netproc hands the supervisor the Location as sent; the supervisor decides.
    server = servers("hostile", "http", "302", "/" + "a" * 5000)
    r = run_wsbridge([server.url], b"x\n")
    assert r.returncode == EXIT_HANDSHAKE
    assert len(r.stderr.splitlines()) == 1, r.stderr
    assert r.stderr.endswith(b"...): the URL is too long to follow\n"), r.stderr
    assert len(r.stderr) < 400
    assert_no_processes_left(server.url)
