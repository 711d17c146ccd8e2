"""The command line as users of wscat, websocat and curl type it."""
import subprocess

import pytest

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


def visible_options():
    """Every option name --help lists ("-H", "--header", ...)."""
    out = subprocess.run([WSBRIDGE, "--help"], capture_output=True, text=True, check=True).stdout
    names = set()
    for line in out.splitlines():
        if line.startswith("  -"):
            for word in line.split("  ")[1].replace(",", " ").split():
                if word.startswith("-"):
                    names.add(word.split("[=")[0])  # "--reconnect[=N]"
    return out, names


def test_help_is_grouped_in_80_columns_with_placeholders():
    out, names = visible_options()
    for group in ["General:", "Connection:", "TLS (wss://):", "Handshake:", "Framing (pipes and programs):",
                  "Messages and closing:", "Program:", "Terminal:", "Server mode:", "Exit status:"]:
        assert f"\n{group}\n" in out, group
    assert max(len(l) for l in out.splitlines()) <= 80
    assert "  -H, --header NAME:VALUE " in out and "  --connect-to HOST1:PORT1:HOST2:PORT2\n" in out
    assert {"-H", "--header", "-x", "--resolve", "--listen", "--exec", "-1", "--log"} <= names
    # Other tools' spellings work but stay out of the list.
    assert "--max-redirs" not in names and "--man-page" not in names


def test_man_page_and_completions_come_from_the_same_options():
    _, names = visible_options()
    man = subprocess.run([WSBRIDGE, "--man-page"], capture_output=True, text=True, check=True).stdout
    assert man.startswith('.\\"') and ".SH OPTIONS" in man and ".SH \"EXIT STATUS\"" in man
    bash = subprocess.run([WSBRIDGE, "--completion", "bash"], capture_output=True, text=True, check=True).stdout
    zsh = subprocess.run([WSBRIDGE, "--completion", "zsh"], capture_output=True, text=True, check=True).stdout
    for name in names:
        assert "\\fB" + name.replace("-", "\\-") + "\\fR" in man, name
        assert f" {name} " in bash or f"'{name} " in bash or f" {name}'" in bash, name
        assert name in zsh, name
    assert zsh.startswith("#compdef wsbridge\n")
    r = subprocess.run([WSBRIDGE, "--completion", "fish"], capture_output=True, text=True)
    assert r.returncode == EXIT_USAGE and r.stderr == "wsbridge: --completion: expected bash or zsh\n"


def complete(words, tmp_path):
    """What the bash completion offers for the command line `words` (the last is being typed)."""
    script = subprocess.run([WSBRIDGE, "--completion", "bash"], capture_output=True, text=True, check=True).stdout
    (tmp_path / "wsbridge.bash").write_text(script)
    quoted = " ".join("'" + w + "'" for w in ["wsbridge", *words])
    probe = (f"source {tmp_path}/wsbridge.bash; COMP_WORDS=({quoted}); COMP_CWORD={len(words)}; "
             "_wsbridge; printf '%s\\n' \"${COMPREPLY[@]}\"")
    r = subprocess.run(["bash", "--norc", "-c", probe], capture_output=True, text=True, cwd=tmp_path, timeout=30)
    assert r.returncode == 0, r.stderr
    return [l for l in r.stdout.splitlines() if l]


def test_bash_completion_completes_options_files_and_the_program(tmp_path):
    assert sorted(complete(["--connect-t"], tmp_path)) == ["--connect-timeout", "--connect-to"]
    (tmp_path / "ca.pem").write_text("")
    assert "ca.pem" in complete(["--cacert", "c"], tmp_path)
    assert complete(["-H", "X"], tmp_path) == []  # a header: nothing to guess
    assert "python3" in complete(["ws://h/", "--exec", "python"], tmp_path)


def test_connect_to_and_resolve_reach_a_virtual_host_by_another_address(servers):
    server = servers("python", "echo", "--show-headers")
    port = server.port
    r = run_wsbridge(["--connect-to", f"chat.example:80:127.0.0.1:{port}", "-x", "hi", "ws://chat.example/"])
    assert r.returncode == EXIT_OK, r.stderr
    assert r.stdout == b"hi\n"
    assert server.expect("HEADER") == "HEADER Host: chat.example"
    r = run_wsbridge(["--resolve", f"chat.example:{port}:127.0.0.1", "-v", "-x", "hi", f"ws://chat.example:{port}/"])
    assert r.returncode == EXIT_OK, r.stderr
    assert f"connected to 127.0.0.1 port {port}".encode() in r.stderr
    assert server.expect("HEADER") == f"HEADER Host: chat.example:{port}"
    # A rule for another host leaves the URL alone (and .invalid never resolves).
    r = run_wsbridge(["--connect-to", f"other.example::127.0.0.1:{port}", "-x", "hi", "ws://chat.invalid/"])
    assert r.returncode == 3 and b"chat.invalid" in r.stderr
    for bad in [["--connect-to", "a:b"], ["--resolve", "chat.example:80"], ["--connect-to", "a:99999:b:1"]]:
        r = run_wsbridge([*bad, "ws://chat.example/"])
        assert r.returncode == EXIT_USAGE and b"expected" in r.stderr, bad


def test_log_is_for_a_terminal_session(servers, tmp_path):
    server = servers("python", "echo")
    r = run_wsbridge(["--log", str(tmp_path / "t.log"), server.url], b"x\n")
    assert r.returncode == 1
    assert r.stderr == (b"wsbridge: --log records a terminal session (stdin and stdout a terminal); "
                        b"in a pipe, tee records what passes\n")
    assert not (tmp_path / "t.log").exists()


def test_zsh_completion_parses_and_registers(tmp_path):
    script = subprocess.run([WSBRIDGE, "--completion", "zsh"], capture_output=True, text=True, check=True).stdout
    (tmp_path / "_wsbridge").write_text(script)
    probe = (f"zsh -n {tmp_path}/_wsbridge && fpath=({tmp_path} $fpath); autoload -U compinit; "
             "compinit -u -D; print -r -- $_comps[wsbridge]")
    r = subprocess.run(["zsh", "-f", "-c", probe], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "_wsbridge"


@pytest.mark.parametrize("args, ours", [
    (["--port=8080", "--exec", "cat"], "--listen PORT"),
    (["--address", "0.0.0.0", "--listen", "1"], "--listen ADDR:PORT"),
    (["--ssl", "--listen", "1"], "--tls-cert FILE"),
    (["--sslcert", "c.pem", "--listen", "1"], "--tls-cert"),
    (["--sslkey", "k.pem", "--listen", "1"], "--tls-key"),
    (["--maxforks", "5", "--listen", "1"], "--max-connections"),
    (["--loglevel", "debug", "--listen", "1"], "-v"),
    (["--passenv", "HOME", "--listen", "1"], "inherits wsbridge's whole environment"),
    (["--listen", "9300", "./count.sh"], "put --exec before the program"),
    (["-sS", "ws://127.0.0.1:9/"], "-q here"),
    (["--max-time", "2", "ws://127.0.0.1:9/"], "--timeout SECONDS"),
    (["-m", "2", "ws://127.0.0.1:9/"], "--timeout SECONDS"),
    (["-t", "ws://127.0.0.1:9/"], "--binary for binary"),
    (["-b", "ws://127.0.0.1:9/"], "--binary"),
    (["-E", "ws://127.0.0.1:9/"], "end of input"),
    (["--oneshot", "ws://127.0.0.1:9/"], "-1"),
    (["ws-l:127.0.0.1:1234"], "--listen ADDR"),
    (["ws://127.0.0.1:9/", "cmd:cat"], "--exec sh -c COMMAND"),
    (["-o", "http://a.example", "ws://127.0.0.1:9/"], "--origin"),
    (["--slash", "ws://127.0.0.1:9/"], "commands start with /"),
], ids=lambda v: " ".join(v) if isinstance(v, list) else None)
def test_other_tools_spellings_name_ours(args, ours):
    r = run_wsbridge(args)
    assert r.returncode == EXIT_USAGE, r.stderr
    lines = r.stderr.decode().splitlines()
    assert len(lines) == 1 and ours in lines[0], lines
    assert "did you mean" not in lines[0]  # never a guess at an option that does something else


def test_wscat_connect_without_a_scheme_and_no_check_work(servers):
    server = servers("python", "echo")
    r = run_wsbridge(["--no-check", "-c", f"127.0.0.1:{server.port}"], b"hi\n")
    assert r.returncode == EXIT_OK, r.stderr
    assert r.stdout == b"hi\n"


def test_options_that_do_nothing_here_are_said_once_each(servers):
    server = servers("python", "echo")
    r = run_wsbridge(["--timestamps", "--cacert", "ca.pem", "--max-connections", "3", server.url], b"hi\n")
    assert r.returncode == EXIT_OK, r.stderr  # said, not refused
    assert r.stdout == b"hi\n"
    assert r.stderr.decode().splitlines() == [
        "wsbridge: warning: --timestamps is for the interactive client (stdin and stdout a terminal); ignored here",
        "wsbridge: warning: --cacert applies to wss:// only; ignored unless a redirect leads there",
        "wsbridge: warning: --max-connections is a server option (with --listen); ignored",
    ]
    quiet = run_wsbridge([server.url], b"hi\n")
    assert quiet.stderr == b""  # nothing to warn about, nothing said


def test_every_listing_of_exit_codes_matches_the_code():
    # Written once (bridge/protocol/exit_codes.hpp); each place that lists them is
    # checked against it: the guide's table, --help, the man page, the tests' constants.
    import os
    import re
    import conftest
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with open(os.path.join(root, "bridge", "protocol", "exit_codes.hpp")) as f:
        codes = {int(n) for n in re.findall(r"^\s+exit_\w+ = (\d+),", f.read(), re.M)}
    assert codes == set(range(0, 11)) | {141}
    with open(os.path.join(root, "docs", "guide.md")) as f:
        guide = f.read()
    table = guide[guide.index("## Exit codes"):]
    assert {int(n) for n in re.findall(r"^\| (\d+) \|", table, re.M)} == codes
    assert "| 128+N |" in table
    help_text = subprocess.run([WSBRIDGE, "--help"], capture_output=True, text=True, check=True).stdout
    man = subprocess.run([WSBRIDGE, "--man-page"], capture_output=True, text=True, check=True).stdout
    for listing in (help_text[help_text.index("Exit status:"):], man[man.index('.SH "EXIT STATUS"'):]):
        listed = {int(n) for n in re.findall(r"(?:^|[\s,])(\d+) (?=[a-z\\-])", listing.split("\n\n")[0])}
        assert codes <= listed, sorted(codes - listed)
        assert "128+N" in listing
    constants = {v for k, v in vars(conftest).items() if k.startswith("EXIT_") and isinstance(v, int)}
    assert constants <= codes


def test_short_help_is_one_screen_and_the_manual_teaches_by_example():
    short = subprocess.run([WSBRIDGE, "-h"], capture_output=True, text=True, check=True).stdout.splitlines()
    assert len(short) <= 24 and all(len(line) <= 80 for line in short), short
    assert "wsbridge --help" in short[-1] and "man wsbridge" in short[-1]
    full, names = visible_options()
    assert len(full.splitlines()) > 100  # --help is the whole list
    man = subprocess.run([WSBRIDGE, "--man-page"], capture_output=True, text=True, check=True).stdout
    for section in ("EXAMPLES", "COMMANDS", "ENVIRONMENT", "FILES", "SEE ALSO"):
        assert f'.SH "{section}"' in man, section
    examples = man[man.index('.SH "EXAMPLES"'):man.index('.SH "COMMANDS"')]
    commands = [line for line in examples.splitlines() if line.startswith(("wsbridge ", "tail ", "echo "))]
    assert len(commands) >= 9
    for command in commands:  # every option an example uses is one wsbridge has
        words = command.replace("\\-", "-").split("wsbridge ", 1)[1].split()
        for word in words:
            if word.startswith("-") and word != "-":
                assert word.split("=")[0] in names, (word, command)
            if word == "--exec":
                break  # the program's own arguments follow
