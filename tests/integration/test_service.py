"""Running as a service: systemd's socket activation (--listen systemd, the socket
passed as systemd passes it: descriptor 3, LISTEN_FDS and LISTEN_PID), programs run as
another user (--user as root), one access-log line per connection (--access-log), a
failed program always logged with its connection, and the example units the package
ships."""
import asyncio
import os
import socket
import subprocess

import pytest
import websockets

from conftest import EXIT_CONNECT, EXIT_USAGE, WSBRIDGE, greeting_and_echoes, run_wsbridge, wait_for
from test_server import listen  # noqa: F401 (the fixture)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def socket_activated(args, family=socket.AF_INET, count="1", pid_matches=True):
    """wsbridge started as systemd starts a service of a .socket unit: the listening
    socket at descriptor 3, LISTEN_FDS and LISTEN_PID (sd_listen_fds(3))."""
    sock = socket.socket(family, socket.SOCK_STREAM)
    if family == socket.AF_INET:
        sock.bind(("127.0.0.1", 0))
    else:
        sock.bind(f"/tmp/wsbridge-test-{os.getpid()}-{id(sock)}.sock")
        os.unlink(sock.getsockname())  # the bound socket listens on; its name is not needed
    sock.listen(16)
    fd = sock.fileno()

    def as_systemd_does():
        os.dup2(fd, 3)  # without close-on-exec
        os.environ["LISTEN_FDS"] = count
        os.environ["LISTEN_PID"] = str(os.getpid() if pid_matches else 1)
        os.environ["LISTEN_FDNAMES"] = "web"

    proc = subprocess.Popen([WSBRIDGE, "--listen", "systemd", *args], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, pass_fds=(3,) if fd != 3 else (),
                            preexec_fn=as_systemd_does)
    return proc, sock


def test_socket_activation_serves_on_systemd_s_socket_and_hides_its_variables():
    proc, sock = socket_activated(["--exec", "sh", "-c", 'echo "[$LISTEN_FDS$LISTEN_PID$LISTEN_FDNAMES]"; exec cat'])
    try:
        first = proc.stderr.readline().decode()
        port = sock.getsockname()[1]
        assert f"listening on ws://127.0.0.1:{port}/ (systemd's socket)" in first
        sock.close()  # systemd keeps its copy; ours is not needed for wsbridge to serve
        assert greeting_and_echoes(f"ws://127.0.0.1:{port}/") == ["[]", "hello"]  # no LISTEN_* for the program
    finally:
        proc.terminate()
        assert proc.wait(timeout=30) == 128 + 15


@pytest.mark.parametrize("case", ["no variables", "another process's", "a Unix socket"])
def test_socket_activation_refuses_what_is_not_its_socket(case):
    if case == "no variables":
        r = run_wsbridge(["--listen", "systemd", "--exec", "cat"], timeout=10)
        assert r.returncode == EXIT_CONNECT
        assert b"systemd passed no socket" in r.stderr and len(r.stderr.splitlines()) == 1
        return
    proc, sock = socket_activated(["--exec", "cat"], family=socket.AF_UNIX if case == "a Unix socket" else socket.AF_INET,
                                  pid_matches=case != "another process's")
    _, err = proc.communicate(timeout=10)
    sock.close()
    assert proc.returncode == EXIT_CONNECT
    assert (b"not a listening TCP socket" if case == "a Unix socket" else b"systemd passed no socket") in err


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can run programs as another user")
def test_programs_run_as_the_user_given_when_started_as_root(listen):
    srv = listen("--user", "nobody:nogroup", "--exec", "sh", "-c", 'echo "$(id -u) $(id -g) $(id -G)"; exec cat')
    assert greeting_and_echoes(srv.url + "/")[0] == "65534 65534 65534"  # no supplementary group of root's


def test_user_with_listen_needs_a_known_user_and_a_program():
    for args, why in ((["--user", "no-such-user", "--exec", "cat"], b"no user 'no-such-user'"),
                      (["--user", "nobody"], b"give --exec")):
        r = run_wsbridge(["--listen", "0", *args], timeout=10)
        assert r.returncode == EXIT_USAGE and why in r.stderr, r.stderr


def test_access_log_without_v_and_failed_programs_always_logged(listen):
    srv = listen("--access-log", "-q", "--exec", "sh", "-c", "read line; echo \"$line\"; exit 3")

    async def run():
        async with websockets.connect(srv.url + "/x?token=secret", open_timeout=10) as ws:
            await ws.send("once")
            assert await asyncio.wait_for(ws.recv(), 10) == "once"
            await asyncio.wait_for(ws.wait_closed(), 10)
            return ws.close_code

    assert asyncio.run(run()) == 1011
    wait_for(lambda: any('access: "GET /x?token=***" 101' in line and "close 1011" in line
                         for line in srv.stderr_lines()), what="the access line")
    wait_for(lambda: any("the program exited with status 3" in line for line in srv.stderr_lines()),
             what="the failure line")
    assert not any("handshake: <" in line for line in srv.stderr_lines())  # not -v's headers


def test_the_example_units_start_wsbridge_the_way_this_test_does():
    socket_unit = open(os.path.join(ROOT, "docs", "examples", "wsbridge@.socket")).read()
    service = open(os.path.join(ROOT, "docs", "examples", "wsbridge@.service")).read()
    assert "ListenStream=%i" in socket_unit and "Accept=no" in socket_unit
    exec_start = next(line for line in service.splitlines() if line.startswith("ExecStart="))
    assert exec_start.split("=", 1)[1].split()[:3] == ["/usr/bin/wsbridge", "--listen", "systemd"]
    assert "DynamicUser=yes" in service
