"""permessage-deflate is offered by default and works (under the sandbox) with both
servers; --no-compress stops offering it."""
import os
import subprocess

import pytest

from conftest import EXIT_OK, WSBRIDGE, run_wsbridge

LINES = b"".join(b"compressible line %d %s\n" % (i, b"abc" * 20) for i in range(20_000))


def start(servers, kind, monkeypatch):
    if kind == "node":
        monkeypatch.setenv("WS_DEFLATE", "1")
        return servers("node", "echo")
    return servers("python", "echo", "--deflate")


@pytest.mark.parametrize("kind", ["python", "node"])
def test_compressed_session_carries_every_line(servers, kind, monkeypatch):
    server = start(servers, kind, monkeypatch)
    r = run_wsbridge(["-v", "--linger", "2", server.url], LINES)  # 2 s: see test_pipe_mode
    assert r.returncode == EXIT_OK, r.stderr
    assert r.stdout == LINES
    assert "; extensions: permessage-deflate" in r.stderr.decode()


def test_no_compress_does_not_offer_it(servers, monkeypatch):
    server = start(servers, "python", monkeypatch)
    r = run_wsbridge(["-v", "--no-compress", server.url], b"plain\n")
    assert r.returncode == EXIT_OK, r.stderr
    assert r.stdout == b"plain\n"
    assert "; extensions: none" in r.stderr.decode()
