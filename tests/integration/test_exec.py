"""--exec (#8): a program on the other end instead of stdin/stdout."""
import os
import signal
import subprocess
import threading
import time

import pytest

from conftest import (EXIT_OK, PYTHON, WSBRIDGE, _processes, assert_no_processes_left, process_name, run_wsbridge, wait_for)

ANSWERER = "import sys\nfor line in sys.stdin:\n    print('answer to ' + line.strip(), flush=True)\n"


def program_pids(marker):
    """PIDs of processes whose command line contains `marker` (a wrapped program)."""
    return [pid for pid, cmdline in _processes("cmdline", "rb") if marker.encode() in cmdline
            # wsbridge's own processes carry the program in their argv too
            and not process_name(pid).startswith("wsbridge") and b"pytest" not in cmdline]


def test_wrapped_program_answers_each_message_and_ends_when_the_server_closes(servers):
    server = servers("python", "ask", 3)
    r = run_wsbridge([server.url, "--exec", PYTHON, "-c", ANSWERER])
    assert r.returncode == EXIT_OK, r.stderr
    assert r.stdout == b""  # the program's stdout went to the server, not ours
    assert r.stderr == b'wsbridge: connection closed by server: 1000 (normal closure) "thanks"\n'
    assert server.stdout_lines() == [f"ANSWER answer to question {i}" for i in range(3)]
    assert_no_processes_left(server.url)


def test_program_gets_url_and_subprotocol_and_its_stderr_is_ours(servers):
    server = servers("python", "ask", "1", "--subprotocols", "chat.v2")
    script = ("import os, sys\nsys.stdin.readline()\n"
              "print(os.environ['WSBRIDGE_URL'], os.environ['WSBRIDGE_SUBPROTOCOL'], flush=True)\n"
              "sys.stderr.write('diagnostic\\n')\n")  # one write: wsbridge's own line may follow at once
    r = run_wsbridge(["--subprotocol", "chat.v2", server.url, "--exec", PYTHON, "-c", script])
    assert r.returncode == EXIT_OK, r.stderr
    assert b"diagnostic\n" in r.stderr
    assert server.stdout_lines() == [f"ANSWER {server.url} chat.v2"]


def test_program_exiting_first_closes_the_connection_with_its_status(servers):
    server = servers("python", "sink")
    r = run_wsbridge([server.url, "--exec", "sh", "-c", "printf 'one\\ntwo\\n'; exit 4"])
    assert r.returncode == 4, r.stderr
    assert server.expect("RECEIVED") == "RECEIVED 2"
    assert_no_processes_left(server.url)


def test_program_that_cannot_be_run_is_127_and_one_line(servers):
    server = servers("python", "sink")
    r = run_wsbridge([server.url, "--exec", "/nonexistent/program"])
    assert r.returncode == 127
    assert r.stderr == b"wsbridge: exec /nonexistent/program: No such file or directory\n"
    assert_no_processes_left(server.url)


def test_program_ignoring_the_end_of_its_input_is_terminated(servers):
    server = servers("python", "close-later", "0", "1000")
    marker = "987.125"
    start = time.monotonic()
    r = run_wsbridge([server.url, "--exec", "sleep", marker], timeout=30)
    assert r.returncode == EXIT_OK, r.stderr
    assert b"the program did not exit after its input ended; it was stopped with a signal" in r.stderr
    # SIGTERM comes after the 2 s grace; a generous bound that only catches a hang.
    assert time.monotonic() - start < 20
    assert not program_pids(marker)
    assert_no_processes_left(server.url)


@pytest.mark.parametrize("target", ["group", "supervisor"])
def test_ctrl_c_reaches_the_wrapped_program_and_leaves_nothing(servers, target):
    server = servers("python", "echo")
    marker = "986.25" if target == "group" else "985.5"
    p = subprocess.Popen([WSBRIDGE, server.url, "--exec", "sh", "-c", f"echo ready >&2; exec sleep {marker}"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         start_new_session=True)
    try:
        assert p.stderr.readline() == b"ready\n"
        wait_for(lambda: program_pids(marker), what="the program to run")
        if target == "group":  # what a terminal's Ctrl+C does
            os.killpg(p.pid, signal.SIGINT)
        else:                  # `kill -INT` aimed at wsbridge alone: it passes it on
            os.kill(p.pid, signal.SIGINT)
        assert p.wait(timeout=20) == 128 + signal.SIGINT
        # The program ended on the interrupt itself, not on the SIGTERM that follows
        # the end of its input 2 s later.
        assert b"did not exit after its input ended" not in p.stderr.read()
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
    assert server.expect("CLOSED") == "CLOSED 1000"
    assert not program_pids(marker)
    assert_no_processes_left(server.url)


def test_verbose_says_when_a_program_holds_its_output_in_a_buffer(servers):
    # python on a pipe buffers stdout: its answer to the one tick sits in its buffer.
    server = servers("python", "greet", "hello")  # then echoes what the program sends (nothing)
    buffering = "import sys\nfor line in sys.stdin:\n    print('answer to ' + line.strip())\n"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    proc = subprocess.Popen([WSBRIDGE, "-v", server.url, "--exec", PYTHON, "-c", buffering],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = threading.Timer(30, proc.kill)  # the loop below ends at the latest then
    deadline.start()
    try:
        hint = None
        for line in proc.stderr:
            if "written nothing" in line:
                hint = line.strip()
                break
        assert hint == ("wsbridge: program: it has read its input but written nothing for 3 s; if it holds its "
                        "output in a buffer, try stdbuf -oL CMD, or PYTHONUNBUFFERED=1 for python")
    finally:
        deadline.cancel()
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
