"""The network process is sandboxed once connected; the I/O process never gets
the network. Normal traffic under the sandbox is covered by every other test (it is
on by default); these check the sandbox itself, with the test-build probes."""
import os
import socket
import subprocess

import pytest

from conftest import (EXIT_OK, EXIT_PROCESS_DIED, WSBRIDGE, assert_no_processes_left,
                      children_of, role_of, run_wsbridge, wait_for)


def status_fields(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.split()
    return fields


def running_children(server, *args):
    p = subprocess.Popen([WSBRIDGE, *args, server.url], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    p.stdin.write(b"hello\n")
    p.stdin.flush()
    assert p.stdout.readline() == b"hello\n"  # open, and a message went both ways
    kids = {role_of(c): c for c in children_of(p.pid)}
    return p, kids


def test_running_network_process_is_under_seccomp_with_no_new_privileges(servers):
    server = servers("python", "echo")
    p, kids = running_children(server)
    net = status_fields(kids["netproc"])
    assert net["Seccomp"] == ["2"] and net["NoNewPrivs"] == ["1"]
    if os.geteuid() == 0:
        # root was dropped before connecting, for user and group 65534, no groups
        assert net["Uid"] == ["65534"] * 4 and net["Gid"] == ["65534"] * 4 and net["Groups"] == []
    io = status_fields(kids["ioproc"])
    assert io["Seccomp"] == ["2"] and io["NoNewPrivs"] == ["1"]
    p.stdin.close()
    assert p.wait(timeout=10) == EXIT_OK


def test_no_sandbox_option_turns_it_off(servers):
    server = servers("python", "echo")
    p, kids = running_children(server, "--no-sandbox")
    assert status_fields(kids["netproc"])["Seccomp"] == ["0"]
    assert status_fields(kids["ioproc"])["Seccomp"] == ["0"]
    p.stdin.close()
    assert p.wait(timeout=10) == EXIT_OK


def test_verbose_says_what_was_applied(servers):
    server = servers("node", "echo")
    r = run_wsbridge(["-v", server.url], b"x\n")
    assert r.returncode == EXIT_OK, r.stderr
    err = r.stderr.decode()
    assert "wsbridge: sandbox: network process: " in err and "seccomp filter" in err
    assert "wsbridge: sandbox: I/O process: no new privileges, seccomp filter" in err


@pytest.mark.parametrize("probe", ["open", "socket"])
def test_network_process_cannot_open_files_or_sockets(servers, probe):
    server = servers("node", "echo")
    r = subprocess.run([WSBRIDGE, server.url], input=b"still works\n", capture_output=True, timeout=30,
                       env={**os.environ, "WSBRIDGE_TEST_NETPROC_PROBE": probe})
    assert f"wsbridge: sandbox probe: {probe}: Permission denied" in r.stderr.decode()
    # Refused politely: the connection goes on.
    assert r.returncode == EXIT_OK and r.stdout == b"still works\n"


def test_network_process_that_tries_exec_is_stopped_and_reported(servers):
    server = servers("node", "echo")
    r = subprocess.run([WSBRIDGE, server.url], input=b"x\n", capture_output=True, timeout=30,
                       env={**os.environ, "WSBRIDGE_TEST_NETPROC_PROBE": "exec"})
    assert r.returncode == EXIT_PROCESS_DIED
    assert "wsbridge: network process stopped by its sandbox (system call execve)" in r.stderr.decode()
    assert_no_processes_left(server.url)


def test_an_abort_in_the_network_process_is_reported_as_one(servers):
    """abort() (what a failed allocation at the 1 GiB limit ends in) must not be
    mistaken for a system call the sandbox trapped (its tgkill)."""
    server = servers("node", "echo")
    r = subprocess.run([WSBRIDGE, server.url], input=b"x\n", capture_output=True, timeout=30,
                       env={**os.environ, "WSBRIDGE_TEST_NETPROC_PROBE": "abort"})
    assert r.returncode == EXIT_PROCESS_DIED
    err = r.stderr.decode()
    assert "wsbridge: network process aborted (out of memory, or an internal check failed)" in err, err
    assert "stopped by its sandbox" not in err
    assert_no_processes_left(server.url)


def test_an_abort_in_a_server_s_network_process_is_reported_with_its_client():
    """A server's network processes are forked by its pool process, but are the
    listener's children: it still sees how one ended."""
    server = subprocess.Popen([WSBRIDGE, "--listen", "127.0.0.1:0", "--exec", "cat"], stderr=subprocess.PIPE,
                              env={**os.environ, "WSBRIDGE_TEST_NETPROC_PROBE": "abort"})
    try:
        port = int(server.stderr.readline().decode().split("127.0.0.1:")[1].split("/")[0])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
            try:
                assert s.recv(4096) == b""  # it aborted before answering
            except ConnectionResetError:
                pass  # the same, with the request unread
        line = server.stderr.readline().decode()
        assert "network process aborted (out of memory, or an internal check failed)" in line, line
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_terminal_process_cannot_open_a_socket(servers):
    server = servers("node", "echo")
    r = subprocess.run([WSBRIDGE, server.url], input=b"x\n", capture_output=True, timeout=30,
                       env={**os.environ, "WSBRIDGE_TEST_IOPROC_PROBE": "socket"})
    assert "wsbridge: sandbox probe: I/O process socket: Permission denied" in r.stderr.decode()
    assert r.returncode == EXIT_OK
