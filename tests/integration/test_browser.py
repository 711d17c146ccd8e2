"""A real browser against wsbridge --listen: Debian's Chromium, headless, driven through
the DevTools protocol (tests/peers/browser.js). The page comes from --static-dir on
the WebSocket's own port; messages go through --length-prefixed --typed --exec cat and
must come back byte for byte; close codes, a reload, Origin checks with the page's
real origin, and the dev console are each seen from the page."""
import json
import os
import shutil
import signal
import subprocess

import pytest

from conftest import PEERS, free_port, wait_for
from test_server import listen  # noqa: F401 (the fixture)

pytestmark = pytest.mark.skipif(not shutil.which("chromium"), reason="Debian's chromium (./scripts/setup) is needed")

PAGE = """<!DOCTYPE html><meta charset="utf-8"><title>wsbridge test page</title><script>
"use strict";
window.socketUrl = "ws://" + location.host + "/echo";
// Sends each message once open, collects as many answers, closes with 1000.
window.echo = (messages) => new Promise((resolve) => {
  const ws = new WebSocket(window.socketUrl);
  ws.binaryType = "arraybuffer";
  const got = [];
  ws.onopen = () => { for (const m of messages) ws.send("binary" in m ? new Uint8Array(m.binary) : m.text); };
  ws.onmessage = (e) => {
    got.push(typeof e.data === "string" ? {text: e.data} : {binary: Array.from(new Uint8Array(e.data))});
    if (got.length === messages.length) ws.close(1000);
  };
  ws.onclose = (e) => resolve({got, code: e.code});
});
// Opens, sends `first` if given, and keeps the close for later (window.socketClosed).
window.connect = (first) => new Promise((resolve) => {
  const ws = new WebSocket(window.socketUrl);
  window.socketClosed = new Promise((done) => { ws.onclose = (e) => done({code: e.code, reason: e.reason}); });
  ws.onopen = () => { if (first !== undefined) ws.send(first); resolve("open"); };
  ws.onerror = () => resolve("error");
});
</script>"""


class Browser:
    def __init__(self):
        self.proc = subprocess.Popen(["node", os.path.join(PEERS, "browser.js")], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        assert json.loads(self.proc.stdout.readline()) == {"ready": True}

    def command(self, **cmd):
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        answer = json.loads(self.proc.stdout.readline())
        assert "error" not in answer, answer["error"]
        return answer

    def open(self, url):
        return self.command(open=url)["tab"]

    def eval(self, tab, expression):
        return self.command(eval=expression, tab=tab).get("value")

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def browser():
    b = Browser()
    yield b
    b.close()


@pytest.fixture
def site(tmp_path):
    (tmp_path / "index.html").write_text(PAGE)
    return tmp_path


ECHO = ["--length-prefixed", "--typed", "--exec", "sh", "-c", "exec cat"]


def test_text_and_binary_echo_byte_for_byte_and_survive_a_reload(browser, listen, site):
    srv = listen("--static-dir", str(site), *ECHO)
    tab = browser.open(f"http://127.0.0.1:{srv.port}/")
    messages = [{"text": "héllo, wörld ✓"}, {"text": "two\nlines\r\n"}, {"binary": list(range(256))},
                {"binary": [0]}, {"text": "x" * 70000}]
    result = browser.eval(tab, f"echo({json.dumps(messages)})")
    assert result["got"] == messages
    assert result["code"] == 1000
    browser.command(reload=tab)
    assert browser.eval(tab, f"echo({json.dumps(messages[:3])})")["got"] == messages[:3]


@pytest.mark.parametrize("program, code", [("read line; echo \"$line\"", 1000), ("read line; exit 3", 1011)])
def test_the_program_s_end_reaches_the_page_as_a_close_code(browser, listen, site, program, code):
    srv = listen("--static-dir", str(site), "--exec", "sh", "-c", program)
    tab = browser.open(f"http://127.0.0.1:{srv.port}/")
    assert browser.eval(tab, "connect('go')") == "open"
    assert browser.eval(tab, "window.socketClosed")["code"] == code


def test_a_server_shutting_down_closes_the_page_s_socket_with_1001(browser, listen, site):
    srv = listen("--static-dir", str(site), *ECHO)
    tab = browser.open(f"http://127.0.0.1:{srv.port}/")
    assert browser.eval(tab, "connect()") == "open"
    srv.proc.send_signal(signal.SIGTERM)
    assert browser.eval(tab, "window.socketClosed")["code"] == 1001


def test_origin_allow_admits_the_page_s_real_origin_and_refuses_others(browser, listen, site):
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    srv = listen("--static-dir", str(site), "--origin-allow", origin, *ECHO, address=f"127.0.0.1:{port}")
    tab = browser.open(origin + "/")
    assert browser.eval(tab, 'echo([{"text": "ok"}])')["got"] == [{"text": "ok"}]
    srv.stop()
    port2 = free_port()
    srv2 = listen("--static-dir", str(site), "--origin-allow", "http://example.com", *ECHO,
                  address=f"127.0.0.1:{port2}")
    tab2 = browser.open(f"http://127.0.0.1:{port2}/")
    assert browser.eval(tab2, "connect()") == "error"
    wait_for(lambda: any(f"refused Origin 'http://127.0.0.1:{port2}'" in line for line in srv2.stderr_lines()),
             what="the refusal in the log")


def test_the_dev_console_sends_and_shows_messages(browser, listen):
    srv = listen("--dev-console", *ECHO)
    tab = browser.open(f"http://127.0.0.1:{srv.port}/")
    log = "Array.from(document.querySelectorAll('#log div'), d => d.textContent).join('\\n')"
    browser.eval(tab, "document.getElementById('connect').click()")
    wait_for(lambda: browser.eval(tab, "document.getElementById('state').textContent") == "open", what="open")
    browser.eval(tab, "document.getElementById('message').value = 'hello console'; "
                      "document.getElementById('send-text').click()")
    wait_for(lambda: "\u2190 text, 13 bytes: hello console" in browser.eval(tab, log), what="the echo in the log")
    browser.eval(tab, "document.getElementById('message').value = '00 ff 7f'; "
                      "document.getElementById('send-binary').click()")
    wait_for(lambda: "\u2190 binary, 3 bytes: 00 ff 7f" in browser.eval(tab, log), what="the binary echo")
    browser.eval(tab, "document.getElementById('code').value = '4001'; document.getElementById('reason').value = 'bye'; "
                      "document.getElementById('close').click()")
    # Beast answers with the code alone (a reason is optional, RFC 6455 §5.5.1).
    wait_for(lambda: "closed: code 4001" in browser.eval(tab, log), what="the close in the log")
