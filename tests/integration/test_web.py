"""Server mode for browsers: what a request that is not a WebSocket upgrade gets.
--static-dir serves files (opened by the supervisor beneath the directory, passed to
the sandboxed netproc), --dev-console a page to try the server, and otherwise 426
saying what this endpoint is. Real clients: http.client for the pages, and
python3-websockets on the same port."""
import http.client
import os
import socket

import pytest

from conftest import EXIT_USAGE, WSBRIDGE, run_wsbridge
from test_server import exchange, listen  # noqa: F401 (the fixture)


def get(port, path, method="GET", headers=None):
    """One request; returns (status, headers as a dict with lower-case names, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request(method, path, headers=headers or {})
    r = conn.getresponse()
    body = r.read()
    conn.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, body


def raw_get(port, target):
    """A request whose target is sent exactly as given (http.client would quote it)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return int(data.split(b" ", 2)[1]), data


@pytest.fixture
def site(tmp_path):
    root = tmp_path / "site"
    (root / "sub").mkdir(parents=True)
    (root / "index.html").write_text("<!DOCTYPE html><title>home</title>")
    (root / "app.js").write_text("console.log(1)")
    (root / "sub" / "index.html").write_text("<p>sub</p>")
    (root / "sub" / "data.json").write_text('{"a": 1}')
    (root / ".env").write_text("SECRET=1")
    (root / ".git").mkdir()
    (root / ".git" / "config").write_text("[core]")
    (tmp_path / "outside.txt").write_text("outside")
    os.symlink(tmp_path / "outside.txt", root / "link-out")
    os.symlink("app.js", root / "link-in")  # relative: RESOLVE_BENEATH follows no absolute link
    os.mkfifo(root / "fifo")
    return root


def test_a_plain_get_without_a_page_gets_426_saying_what_this_is(listen):
    srv = listen("--exec", "sh", "-c", "cat")
    status, headers, body = get(srv.port, "/")
    assert status == 426
    assert headers["upgrade"].lower() == "websocket"
    assert b"WebSocket endpoint" in body and b"ws://" in body
    assert get(srv.port, "/", method="POST")[0] == 405
    assert get(srv.port, "/", method="HEAD")[2] == b""


def test_files_are_served_with_their_type_length_and_date(listen, site):
    srv = listen("--static-dir", str(site), "--exec", "sh", "-c", "cat")
    status, headers, body = get(srv.port, "/")
    assert (status, body) == (200, b"<!DOCTYPE html><title>home</title>")
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert headers["content-length"] == str(len(body))
    status, headers, body = get(srv.port, "/sub/data.json?cache=1")
    assert (status, headers["content-type"], body) == (200, "application/json", b'{"a": 1}')
    assert get(srv.port, "/app.js")[1]["content-type"] == "text/javascript; charset=utf-8"
    assert get(srv.port, "/sub/")[2] == b"<p>sub</p>"
    assert get(srv.port, "/link-in")[2] == b"console.log(1)"  # a symlink that stays inside
    # HEAD: the same headers, no body; If-Modified-Since with the date given: 304.
    status, head_headers, body = get(srv.port, "/app.js", method="HEAD")
    assert (status, body, head_headers["content-length"]) == (200, b"", "14")
    status, _, body = get(srv.port, "/app.js", headers={"If-Modified-Since": head_headers["last-modified"]})
    assert (status, body) == (304, b"")
    assert get(srv.port, "/app.js", headers={"If-Modified-Since": "Mon, 01 Jan 1990 00:00:00 GMT"})[0] == 200


def test_a_directory_named_without_its_slash_is_redirected(listen, site):
    srv = listen("--static-dir", str(site), "--exec", "sh", "-c", "cat")
    status, headers, _ = get(srv.port, "/sub")
    assert (status, headers["location"]) == (301, "/sub/")


@pytest.mark.parametrize("target", ["/../outside.txt", "/%2e%2e/outside.txt", "/sub/%2E%2E/%2e%2e/outside.txt",
                                    "/link-out", "/.env", "/.git/config", "/sub/..%2f..%2foutside.txt",
                                    "/fifo", "/app.js%00.html", "/nothing-here", "/sub\\..\\..\\outside.txt"])
def test_nothing_outside_the_directory_nor_a_dotfile_is_served(listen, site, target):
    srv = listen("--static-dir", str(site), "--exec", "sh", "-c", "cat")
    status, data = raw_get(srv.port, target)
    assert status in (404, 400), data
    assert b"outside" not in data.split(b"\r\n\r\n", 1)[1] and b"SECRET" not in data and b"[core]" not in data


def test_a_large_file_arrives_whole(listen, site):
    blob = os.urandom(1 << 20) * 12  # 12 MiB, in many socket batches
    (site / "big.bin").write_bytes(blob)
    srv = listen("--static-dir", str(site), "--exec", "sh", "-c", "cat")
    status, headers, body = get(srv.port, "/big.bin")
    assert (status, headers["content-type"], len(body)) == (200, "application/octet-stream", len(blob))
    assert body == blob


def test_websocket_connections_work_beside_the_pages(listen, site):
    srv = listen("--static-dir", str(site), "--exec", "sh", "-c", "cat")
    assert get(srv.port, "/")[0] == 200
    answers, code, _ = exchange(srv.url + "/", ["one", "two"])
    assert answers == ["one", "two"] and code == 1000


def test_the_dev_console_is_one_self_contained_page_at_the_root(listen, site):
    srv = listen("--dev-console", "--exec", "sh", "-c", "cat")
    status, headers, body = get(srv.port, "/")
    assert status == 200 and headers["content-type"] == "text/html; charset=utf-8"
    page = body.decode()
    assert "new WebSocket(" in page and "Send binary (hex)" in page and "Copy log" in page
    assert " src=" not in page and "http://" not in page and "https://" not in page  # nothing fetched from elsewhere
    assert "default-src 'none'" in headers["content-security-policy"]
    assert get(srv.port, "/other")[0] == 404
    # A static index wins; a directory without one still shows the console.
    srv2 = listen("--static-dir", str(site), "--dev-console", "--exec", "sh", "-c", "cat")
    assert get(srv2.port, "/")[2].startswith(b"<!DOCTYPE html><title>home</title>")
    os.remove(site / "index.html")
    assert b"wsbridge dev console" in get(srv2.port, "/")[2]


def test_websocketd_spellings_of_the_page_options_work(listen, site):
    srv = listen("--staticdir", str(site), "--devconsole", "--exec", "sh", "-c", "cat")
    assert get(srv.port, "/app.js")[2] == b"console.log(1)"


def test_a_static_dir_that_is_not_a_directory_is_a_usage_error(tmp_path):
    (tmp_path / "file").write_text("x")
    for path, why in ((tmp_path / "file", b"not a directory"), (tmp_path / "missing", b"No such file")):
        r = run_wsbridge(["--listen", "0", "--static-dir", str(path), "--exec", "cat"], timeout=10)
        assert r.returncode == EXIT_USAGE, r.stderr
        assert why in r.stderr and len(r.stderr.splitlines()) == 1
