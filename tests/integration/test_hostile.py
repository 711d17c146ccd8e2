"""Hostile servers and faults: the client against servers that break the rules."""
import os
import signal
import socket
import subprocess
import tempfile
import threading

import pytest

from conftest import (EXIT_ABNORMAL, EXIT_HANDSHAKE, EXIT_INPUT_REFUSED, EXIT_OK, EXIT_UNDELIVERED, EXIT_USAGE,
                      WSBRIDGE, assert_no_processes_left, children_of, role_of, run_wsbridge, status_kib, wait_for)

EXIT_INCOMPLETE = 10


def rss_kib(pid):
    return status_kib(pid, "VmRSS")


def test_a_redirect_to_a_local_unix_socket_is_refused(servers):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "docker.sock")
        local = socket.socket(socket.AF_UNIX)
        local.bind(path)
        local.listen(4)
        local.setblocking(False)
        server = servers("hostile", "http", "302", f"ws+unix://{path}:/v1/containers/json")
        r = run_wsbridge(["-H", "X-Token: secret", server.url], b"x\n")
        assert r.returncode == EXIT_HANDSHAKE, r.stderr
        assert b"refusing to follow a redirect to a ws+unix:// URL" in r.stderr, r.stderr
        with pytest.raises(BlockingIOError):  # nothing ever connected to the local socket
            local.accept()
        local.close()
    assert_no_processes_left(server.url)


@pytest.mark.parametrize("answer, args", [("x-unknown-ext", []),
                                          ("permessage-deflate", ["--no-compress"])])
def test_an_extension_that_was_not_offered_fails_the_handshake(servers, answer, args):
    server = servers("hostile", "extension", answer)
    r = run_wsbridge([*args, server.url], b"x\n")
    assert r.returncode == EXIT_HANDSHAKE, r.stderr
    lines = r.stderr.decode().splitlines()
    assert len(lines) == 1 and f"extension '{answer}', which was not offered" in lines[0], r.stderr


def test_a_ping_flood_from_a_server_that_never_reads_keeps_netproc_memory_bounded(servers):
    server = servers("hostile", "ping-flood", "2000000")  # 254 MB of pings if all were taken
    p = subprocess.Popen([WSBRIDGE, "-n", server.url], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        server.expect("OPEN")
        net = wait_for(lambda: [c for c in children_of(p.pid) if role_of(c) == "netproc"], what="netproc")[0]
        stalled = server.expect("STALLED", timeout=60)  # "SENT ALL" would mean it read without bound
        sent = int(stalled.split()[1])
        assert sent < 64 << 20, stalled
        assert rss_kib(net) < 64 * 1024, f"netproc holds {rss_kib(net)} KiB"  # ASan builds take more
        assert p.poll() is None  # alive and well, just not reading
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=10)
    assert p.returncode == 128 + signal.SIGTERM
    assert_no_processes_left(server.url)


def test_header_values_with_control_characters_are_refused():
    r = run_wsbridge(["-H", "X-A: \x1b]0;title\x07", "ws://127.0.0.1:9/"])
    assert r.returncode == EXIT_USAGE
    assert b"must not contain control characters" in r.stderr


def test_verbose_masks_cookies_and_tokens(servers):
    server = servers("python", "echo")
    r = run_wsbridge(["-v", "-H", "Cookie: session=s3cret", "-H", "X-Auth-Token: t0ken",
                      "-H", "Proxy-Authorization: Basic cDpx", server.url], b"")
    assert r.returncode == EXIT_OK, r.stderr
    assert b"s3cret" not in r.stderr and b"t0ken" not in r.stderr and b"cDpx" not in r.stderr, r.stderr
    assert b"> Cookie: ***" in r.stderr and b"> Proxy-Authorization: Basic ***" in r.stderr


def test_a_slow_but_live_sink_gets_every_line_before_the_close_times_out(servers):
    # 1 MB/s with a close timeout of 1 s: netproc's last batch waits for room in a send
    # buffer of megabytes, which a steadily reading sink frees only every few seconds.
    # Its acknowledgements are the progress, not our writes (exit 5 when they were).
    server = servers("hostile", "slow-sink", "1000000")
    lines = b"".join(b"%d\n" % i for i in range(500_000))  # 3.4 MB
    r = run_wsbridge(["--linger", "0", "--close-timeout", "1", server.url], lines, timeout=120)
    assert r.returncode == EXIT_OK, r.stderr
    assert server.expect("RECEIVED") == "RECEIVED 500000"


def test_a_server_that_never_answers_close_is_still_given_up_on(servers):
    server = servers("hostile", "no-close-reply")
    r = run_wsbridge(["--linger", "0", "--close-timeout", "1", server.url], b"x" * 1000 + b"\n", timeout=60)
    assert r.returncode == EXIT_ABNORMAL, r.stderr
    assert b"did not answer our Close" in r.stderr, r.stderr


@pytest.mark.parametrize("run", range(2))
def test_max_messages_with_input_still_flowing_exits_0(servers, run):
    server = servers("python", "echo")
    r = run_wsbridge(["-1", server.url], b"".join(b"%d\n" % i for i in range(100_000)))
    assert r.returncode == EXIT_OK, r.stderr
    assert r.stdout == b"0\n"
    assert b"internal protocol error" not in r.stderr


def test_a_vanished_stdout_reader_gives_141(servers):
    server = servers("python", "echo")
    shell = f"seq 1 1000000 | '{WSBRIDGE}' {server.url} | head -1; exit ${{PIPESTATUS[1]}}"
    r = subprocess.run(["bash", "-c", shell], capture_output=True, timeout=60)
    assert r.stdout == b"1\n"
    assert r.returncode == 141, r.stderr
    assert_no_processes_left(server.url)


def test_a_server_closing_before_any_input_is_read_is_exit_6(servers):
    server = servers("python", "flood", "0")  # opens, then closes 1000 at once
    p = subprocess.Popen([WSBRIDGE, server.url], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    p.wait(timeout=30)  # with stdin still open: the producer has not said its first line
    err = p.stderr.read()
    p.stdin.close()
    assert p.returncode == EXIT_UNDELIVERED, err
    assert b"(input was not read to its end)" in err


def test_one_message_waits_for_a_late_answer(servers):
    server = servers("python", "echo-delayed", "1.0")
    r = run_wsbridge(["-1", server.url], b'{"op":"status"}\n')
    assert r.returncode == EXIT_OK, r.stderr
    assert r.stdout == b'{"op":"status"}\n'


def test_no_close_receives_until_the_server_closes(servers):
    server = servers("python", "ticker", "3", "0.7")  # spaced wider than the linger
    r = run_wsbridge(["-n", server.url], b"")
    assert r.returncode == EXIT_OK, r.stderr
    assert r.stdout == b"tick 0\ntick 1\ntick 2\n"


def test_max_messages_not_reached_is_exit_10(servers):
    server = servers("python", "flood", "2")
    r = run_wsbridge(["--max-messages", "3", server.url], b"")
    assert r.returncode == EXIT_INCOMPLETE, r.stderr
    assert r.stdout == b"msg 0\nmsg 1\n"
    assert b"2 of 3 messages arrived before the server closed" in r.stderr


def test_timeout_ends_a_wait_for_messages(servers):
    server = servers("python", "sink")
    r = run_wsbridge(["-1", "--timeout", "0.5", server.url], b"question\n", timeout=30)
    assert r.returncode == EXIT_INCOMPLETE, r.stderr
    assert b"0 of 1 messages arrived before --timeout (0.5s)" in r.stderr


def test_a_line_just_over_64_MiB_is_refused_with_exit_9(servers):
    server = servers("python", "sink")
    r = run_wsbridge([server.url], b"short\n" + b"a" * ((64 << 20) + 1) + b"\n", timeout=120)
    assert r.returncode == EXIT_INPUT_REFUSED, r.stderr
    assert b"line 2 is longer than 67108864 bytes" in r.stderr
    assert server.expect("RECEIVED") == "RECEIVED 1"


def test_a_close_without_status_code_is_a_normal_close(servers):
    server = servers("hostile", "frames", "8800")
    r = run_wsbridge(["-n", server.url], b"")
    assert r.returncode == EXIT_OK, r.stderr
    assert r.stderr == b"wsbridge: connection closed by server (no status code)\n"


@pytest.mark.parametrize("frame, what", [("880103", "1-byte payload"),
                                         ("880203ed", "code 1005 inside a frame"),
                                         ("880403e8c328", "reason not UTF-8")])
def test_an_invalid_close_is_named_as_a_protocol_violation(servers, frame, what):
    server = servers("hostile", "frames", frame)
    r = run_wsbridge(["-n", server.url], b"")
    assert r.returncode == EXIT_ABNORMAL, r.stderr
    assert b"the server broke the WebSocket protocol" in r.stderr, (what, r.stderr)
    assert b"closed with 1002 (protocol error)" in r.stderr, r.stderr
    assert b"reset by peer" not in r.stderr


def test_raw_input_that_can_never_be_utf8_says_so(servers):
    server = servers("python", "sink")
    r = run_wsbridge(["--raw", server.url], b"ok\xf5\x97")
    assert r.returncode == EXIT_INPUT_REFUSED, r.stderr
    assert b"not valid UTF-8 (at byte 3" in r.stderr, r.stderr


def test_netproc_refuses_a_frame_out_of_place(servers):
    """The dispatch table at work: a data frame after input_end is fatal (a test hook in
    ioproc sends one), never quietly sent."""
    server = servers("python", "sink")
    r = subprocess.run([WSBRIDGE, server.url], input=b"x\n", capture_output=True, timeout=30,
                       env={**os.environ, "WSBRIDGE_TEST_IOPROC_PROBE": "data-after-end"})
    assert r.returncode == 1, r.stderr
    assert (b"wsbridge: network process: internal protocol error unexpected text frame from the I/O process "
            b"(input ended)") in r.stderr, r.stderr
    # Never the frame after the end (the line before it may or may not have gone out
    # before netproc stopped).
    assert server.expect("RECEIVED") in ("RECEIVED 0", "RECEIVED 1")
    assert_no_processes_left(server.url)
