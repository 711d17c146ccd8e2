"""Pipe framing (#8): exact message boundaries and binary data in every framing mode."""
import base64
import struct
import subprocess

import pytest

from conftest import (EXIT_INPUT_REFUSED, EXIT_OK, EXIT_USAGE, WSBRIDGE, assert_no_processes_left, run_wsbridge)

ALL_BYTES = bytes(range(256))
# Payloads that break naive framing: NUL, newlines, CR, invalid UTF-8, empty.
TRICKY = [ALL_BYTES, b"", b"\n", b"a\r\nb", b"\0\0", b"\xff\xfe", b"x" * 70000]


def length_prefixed(messages):
    return b"".join(struct.pack(">I", len(m)) + m for m in messages)


@pytest.mark.parametrize("kind", ["python", "node"])
def test_length_prefixed_binary_round_trip_is_exact(servers, kind):
    server = servers(kind, "echo")
    data = length_prefixed(TRICKY)
    r = run_wsbridge(["--length-prefixed", "--binary", server.url], data)
    assert r.returncode == EXIT_OK, r.stderr
    assert r.stdout == data
    assert r.stderr == b""
    assert_no_processes_left(server.url)


@pytest.mark.parametrize("kind", ["python", "node"])
def test_base64_lines_round_trip_every_byte_value(servers, kind):
    server = servers(kind, "echo")
    data = b"".join(base64.b64encode(m) + b"\n" for m in TRICKY)
    r = run_wsbridge(["--base64", server.url], data)
    assert r.returncode == EXIT_OK, r.stderr
    assert r.stdout == data


def test_null_framing_keeps_newlines_inside_messages(servers):
    server = servers("node", "echo")
    messages = [bytes(range(1, 256)), b"line one\nline two\n", b"\r\n", b"last"]
    data = b"\0".join(messages) + b"\0"
    r = run_wsbridge(["-0", "--binary", server.url], data)
    assert r.returncode == EXIT_OK, r.stderr
    assert r.stdout == data


def test_null_framing_text_messages(servers):
    server = servers("python", "echo")
    data = "first\nstill first\0second \u00e9\0".encode()
    r = run_wsbridge(["--null", server.url], data)
    assert r.returncode == EXIT_OK, r.stderr
    assert r.stdout == data


def test_raw_framing_passes_a_byte_stream_through(servers):
    server = servers("python", "echo")
    data = ALL_BYTES * 64
    r = run_wsbridge(["--raw", "--binary", server.url], data)
    assert r.returncode == EXIT_OK, r.stderr
    assert r.stdout == data


def test_invalid_utf8_is_refused_by_line_and_byte_never_sent(servers):
    server = servers("python", "sink")
    r = run_wsbridge([server.url], b"fine\nbad \xc3\x28 here\nnever sent\n")
    assert r.returncode == EXIT_INPUT_REFUSED, r.stderr
    assert r.stderr == (b"wsbridge: stdin: line 2 is not valid UTF-8 (at byte 5); "
                        b"--binary sends bytes as they are\n")
    # What came before the bad line was delivered; nothing after it was.
    assert server.expect("RECEIVED") == "RECEIVED 1"
    assert_no_processes_left(server.url)


def test_invalid_utf8_goes_as_binary_when_asked(servers):
    server = servers("python", "echo")
    r = run_wsbridge(["--binary", server.url], b"bad \xc3\x28 here\n")
    assert r.returncode == EXIT_OK, r.stderr
    assert r.stdout == b"bad \xc3\x28 here\n"


def test_truncated_length_prefixed_input_is_refused(servers):
    server = servers("python", "sink")
    r = run_wsbridge(["--length-prefixed", server.url], length_prefixed([b"whole"]) + b"\0\0\0\x09part")
    assert r.returncode == EXIT_INPUT_REFUSED, r.stderr
    assert b"input ended inside message 2" in r.stderr
    assert server.expect("RECEIVED") == "RECEIVED 1"


def test_multiline_message_is_one_warning_or_escaped_on_request(servers):
    server = servers("python", "greet", "two\\nlines")
    r = run_wsbridge([server.url], b"")
    assert r.returncode == EXIT_OK, r.stderr
    assert r.stdout == b"two\nlines\n"
    assert r.stderr.count(b"contains line breaks") == 1
    r = run_wsbridge(["--escape-newlines", server.url], b"back\\slash\n")
    assert r.returncode == EXIT_OK, r.stderr
    assert r.stdout == b"two\\nlines\nback\\\\slash\n"
    assert r.stderr == b""


@pytest.mark.parametrize("args,expected", [(["-1"], ["msg 0"]), (["--max-messages", "3"], ["msg 0", "msg 1", "msg 2"])])
def test_max_messages_closes_after_n(servers, args, expected):
    server = servers("node", "flood", 1000)
    r = run_wsbridge([*args, server.url], b"")
    assert r.returncode == EXIT_OK, r.stderr
    assert r.stdout.decode().splitlines() == expected
    assert_no_processes_left(server.url)


@pytest.mark.parametrize("args", [["--raw", "--base64"], ["--null", "--length-prefixed"],
                                  ["--binary", "--base64"], ["-0", "--escape-newlines"],
                                  ["--max-messages", "0"], ["--exec"]])
def test_contradictory_framing_options_are_usage_errors(args):
    r = run_wsbridge(["ws://127.0.0.1:1/", *args])
    assert r.returncode == EXIT_USAGE
    assert len(r.stderr.splitlines()) == 1 and r.stderr.startswith(b"wsbridge: "), r.stderr


@pytest.mark.parametrize("framing", [["--length-prefixed", "--typed"],
                                     ["--text-prefix", "T:", "--binary-prefix", "B:"],
                                     ["-0", "--text-prefix", "t", "--binary-prefix", "b"]])
def test_typed_framing_makes_an_exact_echo_client(servers, framing):
    # A relaying program (cat) answers text with text and binary with binary, byte
    # for byte: empty messages, invalid UTF-8 binary, line breaks, 16 MiB of each.
    server = servers("python", "typed-echo", *(["lines"] if framing[0] == "--text-prefix" else []))
    r = subprocess.run([WSBRIDGE, *framing, server.url, "--exec", "cat"], capture_output=True, timeout=120)
    assert r.returncode == EXIT_OK, r.stderr
    assert server.expect("TYPED") == "TYPED OK"


def test_typed_framing_both_directions_from_a_pipe(servers):
    server = servers("python", "echo")
    record = lambda payload, binary: struct.pack(">I", len(payload) | (0x80000000 if binary else 0)) + payload
    sent = record(b"text", False) + record(b"\xff\x00bin", True) + record(b"", True) + record(b"", False)
    r = run_wsbridge(["--length-prefixed", "--typed", server.url], sent)
    assert r.returncode == EXIT_OK, r.stderr
    assert r.stdout == sent
    # Lines: an unprefixed line is of the default type; binary is base64 after its prefix.
    r = run_wsbridge(["--text-prefix", "t:", "--binary-prefix", "b:", server.url], b"t:hi\nb:AP8Q\nplain\nb:\n")
    assert r.returncode == EXIT_OK, r.stderr
    assert r.stdout == b"t:hi\nb:AP8Q\nt:plain\nb:\n"
    r = run_wsbridge(["--text-prefix", "t:", "--binary-prefix", "b:", server.url], b"b:not base64!\n")
    assert r.returncode == 9 and b"line 1 is not valid base64" in r.stderr
    for bad in [["--typed", server.url], ["--raw", "--text-prefix", "t", server.url],
                ["--length-prefixed", "--typed", "--base64", server.url],
                ["--text-prefix", "x", "--binary-prefix", "x", server.url]]:
        r = run_wsbridge(bad)
        assert r.returncode == EXIT_USAGE, bad
