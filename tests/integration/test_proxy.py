"""Proxies (#5): HTTP CONNECT and SOCKS5 run by the test, from --proxy or from the usual
environment variables; refusals are one line with exit status 3."""
import os

import pytest

from conftest import EXIT_CONNECT, EXIT_OK, EXIT_USAGE, WSBRIDGE, assert_no_processes_left
import subprocess

from test_tls import make_cert

LINES = b"".join(b"proxied line %d\n" % i for i in range(500))
CLEAN_ENV = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}


def run(args, input_bytes=b"", env=None):
    return subprocess.run([WSBRIDGE, *args], input=input_bytes, capture_output=True, timeout=60,
                          env={**CLEAN_ENV, **(env or {})})


@pytest.mark.parametrize("scheme,event", [("http", "CONNECT echo.test:{port}"),
                                          ("socks5h", "SOCKS name echo.test:{port}"),
                                          ("socks5", "SOCKS ipv4 127.0.0.1:{port}")])
def test_tunnel_through_proxy_carries_every_line(servers, scheme, event):
    echo = servers("python", "echo")
    proxy = servers("proxy", "http" if scheme == "http" else "socks5")
    # echo.test resolves only at the proxy (which sends every tunnel to 127.0.0.1); for
    # socks5:// wsbridge resolves the name itself, so it is given as localhost.
    host = "localhost" if scheme == "socks5" else "echo.test"
    r = run(["--linger", "2", "--proxy", f"{scheme}://127.0.0.1:{proxy.port}", f"ws://{host}:{echo.port}/"], LINES)
    assert r.returncode == EXIT_OK, r.stderr
    assert r.stdout == LINES
    assert proxy.expect(event.split()[0]) == event.format(port=echo.port)
    assert_no_processes_left(f"{scheme}://127.0.0.1:{proxy.port}")


def test_wss_through_a_connect_proxy(servers, tmp_path):
    # TLS runs inside the tunnel, in the TLS module, with the name the proxy resolves.
    cert, key = make_cert(tmp_path, "DNS:echo.test")
    echo = servers("python", "echo", "--tls", cert, key)
    proxy = servers("proxy", "http")
    r = run(["--linger", "2", "--cacert", cert, "--proxy", f"http://127.0.0.1:{proxy.port}",
             f"wss://echo.test:{echo.port}/"], LINES)
    assert r.returncode == EXIT_OK, r.stderr
    assert r.stdout == LINES
    assert proxy.expect("CONNECT") == f"CONNECT echo.test:{echo.port}"


@pytest.mark.parametrize("kind", ["http", "socks5"])
def test_proxy_credentials(servers, kind):
    echo = servers("python", "echo")
    proxy = servers("proxy", kind, "--auth", "bob:pw")
    scheme = "http" if kind == "http" else "socks5h"
    r = run(["--proxy", f"{scheme}://bob:pw@127.0.0.1:{proxy.port}", f"ws://echo.test:{echo.port}/"], b"auth\n")
    assert r.returncode == EXIT_OK, r.stderr
    assert r.stdout == b"auth\n"
    r = run(["--proxy", f"{scheme}://bob:wrong@127.0.0.1:{proxy.port}", f"ws://echo.test:{echo.port}/"], b"x\n")
    assert r.returncode == EXIT_CONNECT
    expected = {"http": f"wsbridge: proxy: CONNECT echo.test:{echo.port}: the proxy answered HTTP 407 "
                        "Proxy Authentication Required",
                "socks5": "wsbridge: proxy: the SOCKS5 proxy refused the user name and password"}[kind]
    assert r.stderr.decode().splitlines() == [expected]


@pytest.mark.parametrize("kind,expected", [
    ("http", "wsbridge: proxy: CONNECT echo.test:9: the proxy answered HTTP 403 Forbidden"),
    ("socks5", "wsbridge: proxy: SOCKS5 CONNECT echo.test:9: connection not allowed by ruleset")])
def test_refused_tunnel_is_one_line(servers, kind, expected):
    proxy = servers("proxy", kind, "--refuse")
    scheme = "http" if kind == "http" else "socks5h"
    r = run(["--proxy", f"{scheme}://127.0.0.1:{proxy.port}", "ws://echo.test:9/"], b"x\n")
    assert r.returncode == EXIT_CONNECT
    assert r.stderr.decode().splitlines() == [expected]


def test_environment_proxy_and_no_proxy(servers):
    echo = servers("python", "echo")
    proxy = servers("proxy", "http")
    url = f"ws://echo.test:{echo.port}/"
    r = run([url], b"via env\n", env={"http_proxy": f"http://127.0.0.1:{proxy.port}"})
    assert r.returncode == EXIT_OK, r.stderr
    assert r.stdout == b"via env\n"
    assert proxy.expect("CONNECT") == f"CONNECT echo.test:{echo.port}"
    # all_proxy as the fallback.
    r = run([url], b"via all\n", env={"all_proxy": f"socks5h://127.0.0.1:{servers('proxy', 'socks5').port}"})
    assert r.returncode == EXIT_OK, r.stderr
    # no_proxy: a direct connection, so echo.test must resolve here, and it does not.
    r = run([url], b"x\n", env={"http_proxy": f"http://127.0.0.1:{proxy.port}", "no_proxy": "localhost,.test"})
    assert r.returncode == EXIT_CONNECT
    assert r.stderr.startswith(b"wsbridge: resolve: echo.test: ")
    # --proxy '' turns an environment proxy off, like no_proxy.
    r = run(["--proxy", "", url], b"x\n", env={"http_proxy": f"http://127.0.0.1:{proxy.port}"})
    assert r.returncode == EXIT_CONNECT
    # Loopback never goes through an environment proxy (a dead one here).
    r = run([echo.url], b"direct\n", env={"http_proxy": "http://127.0.0.1:9"})
    assert r.returncode == EXIT_OK, r.stderr
    assert r.stdout == b"direct\n"


def test_bad_proxy_url_is_a_usage_error():
    r = run(["--proxy", "ftp://127.0.0.1:1", "ws://127.0.0.1:1/"])
    assert r.returncode == EXIT_USAGE
    assert r.stderr == b"wsbridge: --proxy: proxy URL 'ftp://127.0.0.1:1': scheme ftp is not supported (http, socks5, socks5h)\n"
