"""The interactive client on a pseudo-terminal, as a person sees it: pexpect types,
pyte renders the screen."""
import os
import shutil
import termios
import time

import pexpect
import pyte
import pytest

from conftest import WSBRIDGE, assert_no_processes_left, children_of, mapped_files, role_of, wait_for


class Terminal:
    """wsbridge on a pty, with the screen rendered by pyte."""

    def __init__(self, url, *args, home, program=WSBRIDGE):
        self.screen = pyte.Screen(80, 24)
        self.stream = pyte.ByteStream(self.screen)
        env = {"TERM": "xterm", "HOME": home, "PATH": os.environ["PATH"], "LANG": "C.UTF-8"}
        self.child = pexpect.spawn(program, [*args, url], dimensions=(24, 80), env=env)

    def pump(self):
        try:
            self.stream.feed(self.child.read_nonblocking(65536, timeout=0.05))
        except pexpect.TIMEOUT:
            pass
        except pexpect.EOF:
            return False
        return True

    def lines(self):
        return [l.rstrip() for l in self.screen.display]

    def wait_screen(self, predicate, what, timeout=10):
        deadline = time.monotonic() + timeout
        while not predicate(self.lines()):
            if not self.pump() and not predicate(self.lines()):
                pytest.fail(f"wsbridge ended before the screen showed {what}:\n" + "\n".join(self.lines()))
            if time.monotonic() > deadline:
                pytest.fail(f"timed out waiting for the screen to show {what}:\n" + "\n".join(self.lines()))

    def wait_text(self, text, timeout=10):
        self.wait_screen(lambda ls: any(text in l for l in ls), repr(text), timeout)

    def wait_prompt(self):
        """Waits for the empty prompt with the line editor owning the terminal (canonical
        mode off): libedit draws the prompt just before it switches, and a Ctrl+D typed
        in between is the line discipline's end-of-file, not a key."""
        self.wait_screen(lambda ls: ls[self.screen.cursor.y] == ">" and self.screen.cursor.x == 2
                         and not termios.tcgetattr(self.child.child_fd)[3] & termios.ICANON, "the prompt")

    def cursor_line(self):
        return self.lines()[self.screen.cursor.y]

    def type(self, keys):
        self.child.send(keys)

    def wait_exit(self, timeout=10):
        deadline = time.monotonic() + timeout
        while self.pump():
            if time.monotonic() > deadline:
                pytest.fail("wsbridge did not exit")
        self.child.close()
        return self.child.exitstatus


@pytest.fixture
def home(tmp_path):
    return str(tmp_path)


def test_message_arriving_mid_line_appears_above_and_the_half_line_survives(servers, home):
    server = servers("python", "echo-delayed", 0.3)
    t = Terminal(server.url, home=home)
    t.wait_text("Connected to")
    t.type("first message\r")
    t.type("half a li")
    t.type("\x1b[D\x1b[D")  # the cursor moves two places left, inside the half line
    t.wait_text("< first message")
    # The half-typed line is intact on the prompt, below the message, cursor where it was.
    t.wait_screen(lambda ls: "> half a li" in ls, "the half line redrawn")
    assert t.cursor_line() == "> half a li"
    assert t.screen.cursor.x == len("> half a ")
    assert t.lines().index("< first message") < t.lines().index("> half a li")
    t.type("ne\x1b[F\r")  # "ne" typed inside the half line, then End and Enter
    t.wait_text("< half a neli")
    t.child.sendcontrol("d")
    assert t.wait_exit() == 0


def test_history_recalls_a_previous_line_and_survives_the_session(servers, home):
    server = servers("python", "echo")
    t = Terminal(server.url, home=home)
    t.wait_text("Connected to")
    t.type("remember me\r")
    t.wait_text("< remember me")
    t.type("\x1b[A")  # up arrow
    t.wait_screen(lambda ls: ls[t.screen.cursor.y] == "> remember me", "the recalled line")
    t.type("\x15")  # Ctrl+U clears it again
    t.wait_prompt()
    t.child.sendcontrol("d")
    assert t.wait_exit() == 0
    # A new session finds it in the history file.
    t2 = Terminal(server.url, home=home)
    t2.wait_text("Connected to")
    t2.type("\x1b[A\r")
    t2.wait_screen(lambda ls: ls.count("< remember me") == 1, "the line from the last session echoed")
    t2.child.sendcontrol("d")
    assert t2.wait_exit() == 0


def test_no_history_option_keeps_nothing(servers, home):
    server = servers("python", "echo")
    t = Terminal(server.url, "--no-history", home=home)
    t.wait_text("Connected to")
    t.type("secret\r")
    t.wait_text("< secret")
    t.child.sendcontrol("d")
    assert t.wait_exit() == 0
    assert not os.path.exists(os.path.join(home, ".local/state/wsbridge/history"))


def test_escape_sequences_from_the_server_are_shown_escaped(servers, home):
    # Clear screen, set the title, move the cursor, CSI as C1, a bidi override.
    server = servers("python", "greet", r"\x1b[2J\x1b]0;pwned\x07\x1b[H\x9b31m\u202eevil")
    t = Terminal(server.url, "--no-color", home=home)
    t.wait_text("Connected to")
    t.wait_text(r"< \x1b[2J\x1b]0;pwned\x07\x1b[H\u009b31m\u202eevil")
    assert t.screen.title == ""  # the title was not changed
    assert "Connected to" in t.lines()[1]  # nothing was cleared


def test_server_close_while_typing_is_shown_at_once_and_ends_the_session(servers, home):
    server = servers("python", "close-later", 1.0, 1011)
    t = Terminal(server.url, "--no-color", home=home)
    t.wait_text("Connected to")
    t.type("not finished")
    t.wait_text('Connection closed by server: 1011 (internal server error) "later".')
    status = t.wait_exit()
    assert status == 5  # a close code other than 1000/1001
    # The half line was never sent, and says so; no prompt is left to type into.
    lines = [l for l in t.lines() if l]
    assert lines[-2:] == ['Connection closed by server: 1011 (internal server error) "later".',
                          "> not finished (not sent: the connection closed)"]
    assert "GOT not finished" not in server.stdout_lines()
    assert_no_processes_left(server.url)


def test_commands_ping_binary_close_and_help(servers, home):
    server = servers("python", "echo")
    t = Terminal(server.url, "--no-color", home=home)
    t.wait_text("Type /help for commands.")
    t.type("/help\r")
    t.wait_text("/ping [data]")
    t.type("/ping hello\r")
    t.wait_screen(lambda ls: any(l.startswith('pong "hello" in ') and l.endswith(" ms") for l in ls), "the pong")
    t.type("/binary 00ff10\r")
    t.wait_text("< (binary, 3 bytes) 00ff10")
    t.type("//slash\r")
    t.wait_text("< /slash")
    t.type("/frobnicate\r")
    t.wait_text("wsbridge: unknown command /frobnicate")
    t.type("/close 999\r")
    t.wait_text("/close: the code must be")
    t.type("/close 4001 done\r")
    t.wait_text('Connection closed: 4001 (application-defined) "done".')
    assert t.wait_exit() == 0
    server.expect("CLOSED 4001")


def test_ctrl_d_closes_cleanly_with_1000(servers, home):
    server = servers("python", "echo")
    t = Terminal(server.url, home=home)
    t.wait_text("Connected to")
    t.wait_prompt()
    t.child.sendcontrol("d")
    t.wait_text("Connection closed: 1000 (normal closure).")
    assert t.wait_exit() == 0
    server.expect("CLOSED 1000")
    # The prompt gave way to the status line: no "> ^DClosing ..." on one line.
    assert [l for l in t.lines() if l][-2:] == ["Closing ...", "Connection closed: 1000 (normal closure)."]
    assert_no_processes_left(server.url)


def test_only_the_terminal_process_loads_the_line_editor(servers, home):
    # libedit is linked into wsbridge-term.so alone, which ioproc loads on a terminal.
    server = servers("python", "echo")
    t = Terminal(server.url, home=home)
    t.wait_text("Connected to")
    kids = wait_for(lambda: len(children_of(t.child.pid)) == 2 and children_of(t.child.pid), what="two children")
    for pid in [t.child.pid, *kids]:
        files = mapped_files(pid)
        in_ioproc = role_of(pid) == "ioproc"
        assert any(f.startswith("libedit.so") for f in files) == in_ioproc, role_of(pid)
        assert ("wsbridge-term.so" in files) == in_ioproc, role_of(pid)
    t.child.sendcontrol("d")
    assert t.wait_exit() == 0


def test_a_missing_line_editor_module_is_one_clear_error(servers, home, tmp_path):
    server = servers("python", "echo")
    alone = tmp_path / "wsbridge"
    shutil.copy(WSBRIDGE, alone)
    t = Terminal(server.url, home=home, program=str(alone))
    assert t.wait_exit() == 1
    text = "".join(t.lines())  # one line, wrapped at 80 columns
    assert text.startswith("wsbridge: cannot find the line editor module wsbridge-term.so beside the program, in ")
    assert text.count("wsbridge:") == 1, t.lines()


def test_a_server_s_one_connection_on_the_terminal(home):
    # wsbridge --listen on a terminal: the interactive client's screen, for the one
    # client that connects.
    import asyncio
    import re
    import threading

    import websockets

    t = Terminal("127.0.0.1:0", "--listen", home=home)
    t.wait_text("listening on ws://127.0.0.1:")
    port = int(re.search(r"ws://127\.0\.0\.1:(\d+)/", "\n".join(t.lines())).group(1))
    got = []

    async def client():
        async with websockets.connect(f"ws://127.0.0.1:{port}/") as ws:
            await ws.send("hi from the client")
            got.append(await asyncio.wait_for(ws.recv(), 20))

    thread = threading.Thread(target=lambda: asyncio.run(client()))
    thread.start()
    t.wait_text("Connected to client 127.0.0.1:")
    # The client connected to us: we accept it, we do not connect to it.
    assert any(l.startswith("Accepting client 127.0.0.1:") for l in t.lines()), t.lines()
    assert not any("Connecting to client" in l for l in t.lines()), t.lines()
    t.wait_text("hi from the client")
    t.wait_prompt()
    t.type("hello from the terminal\r")
    thread.join(timeout=20)
    assert got == ["hello from the terminal"]
    t.wait_text("closed by client")
    assert t.wait_exit() == 0


def test_ctrl_c_leaves_the_half_typed_line_in_sight_and_closes(servers, home):
    server = servers("python", "echo")
    t = Terminal(server.url, "--no-color", home=home)
    t.wait_text("Connected to")
    t.wait_prompt()
    t.type("half typed")
    t.wait_screen(lambda ls: ls[t.screen.cursor.y] == "> half typed", "the typed text")
    t.child.sendcontrol("c")
    t.wait_text("Connection closed: 1000 (normal closure).")
    assert t.wait_exit() == 130
    lines = [l for l in t.lines() if l]
    assert lines[-3:] == ["> half typed^C", "Interrupted: closing (Ctrl+C again leaves at once)",
                          "Connection closed: 1000 (normal closure)."]
    assert "GOT half typed" not in server.stdout_lines()


def test_a_message_arriving_while_a_wrapped_line_is_typed_keeps_the_line_whole(servers, home):
    server = servers("python", "echo-delayed", 0.5)
    t = Terminal(server.url, "--no-color", home=home)
    t.wait_text("Connected to")
    t.wait_prompt()
    t.type("ping\r")
    long_line = "x" * 100  # two rows at 80 columns
    t.type(long_line)
    t.wait_text("< ping")
    t.wait_screen(lambda ls: "> " + long_line[:78] in ls and long_line[78:] in ls, "the wrapped line redrawn")
    lines = [l for l in t.lines() if l]
    assert lines[-3:] == ["< ping", "> " + long_line[:78], long_line[78:]]
    t.child.sendcontrol("c")
    assert t.wait_exit() == 130


def test_timestamps_last_and_a_short_extensions_line(servers, home):
    import re
    server = servers("python", "echo", "--deflate")  # answers with window-bits parameters
    t = Terminal(server.url, "--no-color", "--timestamps", home=home)
    t.wait_text("Connected to")
    connected = next(l for l in t.lines() if "Connected to" in l)
    assert re.match(r"\d\d:\d\d:\d\d\.\d\d\d Connected to ws://127\.0\.0\.1:\d+/ "
                    r"\(extensions permessage-deflate\)\.$", connected), connected
    t.wait_text("Type /help for commands.")
    t.wait_prompt()  # keys typed before the editor owns the terminal are discarded
    payload = bytes(range(40))
    t.type("/binary " + payload.hex() + "\r")
    # 32 bytes shown (the line wraps), then "...".
    t.wait_screen(lambda ls: re.search(r"\d\d:\d\d:\d\d\.\d\d\d < \(binary, 40 bytes\) " + payload[:32].hex() + r"\.\.\.",
                                       "".join(ls)), "the stamped binary message, cut short")
    t.type("/last\r")
    t.wait_text("Last message (binary, 40 bytes):")
    t.wait_text("00000020  20 21 22 23 24 25 26 27" + " " * 27 + "| !\"#$%&'|")
    assert "00000000  00 01 02 03 04 05 06 07  08 09 0a 0b 0c 0d 0e 0f  |................|" in t.lines()
    t.child.sendcontrol("d")
    assert t.wait_exit() == 0


def test_log_keeps_a_transcript_and_the_screen(servers, home, tmp_path):
    import re
    server = servers("python", "echo")
    log = tmp_path / "session.log"
    t = Terminal(server.url, "--no-color", "--log", str(log), home=home)
    t.wait_text("Connected to")
    t.wait_prompt()
    t.type("hello\r")
    t.wait_text("< hello")
    t.type("/binary 00ff\r")
    t.wait_text("< (binary, 2 bytes) 00ff")
    t.child.sendcontrol("d")
    assert t.wait_exit() == 0
    entries = log.read_text().splitlines()
    stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z "
    assert all(re.match(stamp, e) for e in entries), entries
    assert [e[25:] for e in entries if e[25] in "<>"] == [
        "> hello", "< hello", "> (binary, 2 bytes) 00ff", "< (binary, 2 bytes) 00ff"]
    assert any(e[25:].startswith("# connected") for e in entries)
    assert entries[-1][25:] == "# Connection closed: 1000 (normal closure)"
    assert os.stat(log).st_mode & 0o777 == 0o600
    # A second session appends.
    t = Terminal(server.url, "--log", str(log), home=home)
    t.wait_text("Connected to")
    t.wait_prompt()
    t.child.sendcontrol("d")
    assert t.wait_exit() == 0
    assert len(log.read_text().splitlines()) > len(entries)


def test_reconnect_on_the_terminal(servers, home):
    server = servers("python", "echo")
    t = Terminal(server.url, "--no-color", "--reconnect", "--reconnect-delay", "0.05", home=home)
    t.wait_text("Connected to")
    server.expect("OPEN")
    t.wait_prompt()
    t.type("/reconnect\r")
    t.wait_text("wsbridge: reconnect: reconnecting now (/reconnect)")
    t.wait_text("Reconnected to " + server.url)
    server.expect("OPEN")  # a second connection
    t.type("after\r")
    t.wait_text("< after")
    t.child.sendcontrol("d")
    assert t.wait_exit() == 0
