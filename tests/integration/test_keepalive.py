"""--ping-interval/--ping-timeout: a dead peer is detected and reported with its own exit
status; a live one keeps the connection through idle periods longer than the interval."""
import select
import subprocess
import time

from conftest import EXIT_OK, WSBRIDGE, assert_no_processes_left

EXIT_PEER_DEAD = 8


def test_server_that_stops_answering_pings_is_declared_dead(servers):
    server = servers("hostile", "no-close-reply")  # handshakes, then never reads
    p = subprocess.Popen([WSBRIDGE, "--ping-interval", "0.2", server.url], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    start = time.monotonic()
    err = p.stderr.read()  # stdin stays open (no end of input, no Close): keepalive ends it
    assert p.wait(timeout=10) == EXIT_PEER_DEAD, err
    assert b"wsbridge: keepalive: no answer from the server for 0.2s after a ping (--ping-timeout)" in err
    assert time.monotonic() - start < 5
    assert_no_processes_left(server.url)


def test_live_server_keeps_the_connection_through_idle_time(servers):
    server = servers("python", "echo")
    p = subprocess.Popen([WSBRIDGE, "--ping-interval", "0.25", server.url], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdin.write(b"before\n")
    p.stdin.flush()
    assert p.stdout.readline() == b"before\n"
    # Idle for several intervals: keepalive pings go out and are answered (within the
    # 0.5 s a loaded machine may need); nothing else happens.
    assert not select.select([p.stdout], [], [], 1.5)[0]
    assert p.poll() is None
    p.stdin.write(b"after\n")
    p.stdin.close()
    assert p.stdout.read() == b"after\n"
    assert p.wait(timeout=10) == EXIT_OK, p.stderr.read()


def test_ping_timeout_is_separate_from_the_interval(servers):
    server = servers("hostile", "no-close-reply")
    p = subprocess.Popen([WSBRIDGE, "--ping-interval", "0.1", "--ping-timeout", "1.5", server.url],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    start = time.monotonic()
    err = p.stderr.read()
    elapsed = time.monotonic() - start
    assert p.wait(timeout=15) == EXIT_PEER_DEAD, err
    assert b"no answer from the server for 1.5s after a ping" in err
    # Not declared dead before the ping had its 1.5 s (a lower bound: load only delays).
    assert elapsed >= 1.5
    assert_no_processes_left(server.url)


def test_pings_are_one_interval_apart_on_a_quiet_connection(servers):
    # --ping-interval 1: a ping after each second of quiet, the pong of the last one
    # included; 4.5 s of a quiet connection hold 4 of them (a late one or two on a
    # loaded machine), never one every other interval.
    server = servers("python", "echo")
    r = subprocess.run([WSBRIDGE, "--ping-interval", "1", "-P", "-n", "--timeout", "4.5", server.url],
                       input=b"", capture_output=True, timeout=30)
    assert r.returncode == EXIT_OK, r.stderr
    pings = r.stderr.count(b"sent keepalive ping")
    assert 3 <= pings <= 5, r.stderr
