"""The command line as users of wscat, websocat and curl type it (#19)."""
import subprocess

from conftest import EXIT_OK, EXIT_USAGE, WSBRIDGE, run_wsbridge


def test_close_code_and_reason_at_the_end_of_input(servers):
    server = servers("python", "echo")
    r = run_wsbridge(["--close-code", "4001", "--close-reason", "done here", server.url], b"x\n")
    assert r.returncode == EXIT_OK, r.stderr
    assert server.expect("CLOSED") == "CLOSED 4001"


def test_a_close_code_that_cannot_be_sent_is_a_usage_error():
    r = run_wsbridge(["--close-code", "1006", "ws://127.0.0.1:9/"])
    assert r.returncode == EXIT_USAGE
    assert b"1006 cannot be sent" in r.stderr


def test_quiet_says_nothing_about_a_normal_close(servers):
    server = servers("python", "flood", "2")  # two messages, then Close 1000 "flood done"
    loud = run_wsbridge([server.url], b"")
    assert loud.stderr == b'wsbridge: connection closed by server: 1000 (normal closure) "flood done"\n'
    quiet = run_wsbridge(["-q", server.url], b"")
    assert quiet.returncode == EXIT_OK
    assert quiet.stdout == b"msg 0\nmsg 1\n"
    assert quiet.stderr == b""


def test_wscat_spellings_work(servers):
    server = servers("python", "echo", "--subprotocols", "chat", "--show-headers")
    r = run_wsbridge(["-s", "chat", "-c", server.url], b"hi\n")
    assert r.returncode == EXIT_OK, r.stderr
    assert r.stdout == b"hi\n"
    assert server.expect("SUBPROTOCOL") == "SUBPROTOCOL chat"


def test_wscat_s_execute_and_wait(servers):
    # wscat -x: the messages instead of stdin (which is not read), then the usual close;
    # -w: keep receiving that long.
    echo = servers("python", "echo")
    r = subprocess.run([WSBRIDGE, "-x", "first", "-x", "second message", echo.url], input=b"not read\n",
                       capture_output=True, timeout=30)
    assert r.returncode == EXIT_OK, r.stderr
    assert r.stdout == b"first\nsecond message\n"
    ticker = servers("python", "ticker", 1000, 0.05)
    r = subprocess.run([WSBRIDGE, "-x", "start", "-w", "0.5", ticker.url], capture_output=True, timeout=30)
    assert r.returncode == EXIT_OK, r.stderr
    assert len(r.stdout.splitlines()) >= 2  # ticks kept arriving during the wait
    r = subprocess.run([WSBRIDGE, "-x", "two\nlines", echo.url], capture_output=True, timeout=30)
    assert r.returncode == EXIT_USAGE and b"line break" in r.stderr
    r = subprocess.run([WSBRIDGE, "-w", "1", echo.url], capture_output=True, timeout=30)
    assert r.returncode == EXIT_USAGE and r.stderr == b"wsbridge: -w/--wait goes with -x/--execute\n"
