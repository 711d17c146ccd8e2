"""The client against servers that misbehave, and inputs that cannot be sent: close
codes that no Close frame may carry, window sizes RFC 7692 forbids, an upgrade that
never ends, a server that never answers Close, a slow sink, refused input with -1."""
import time

import pytest

from conftest import (EXIT_ABNORMAL, EXIT_HANDSHAKE, EXIT_INPUT_REFUSED, EXIT_OK, EXIT_USAGE, assert_no_processes_left,
                      run_wsbridge)


@pytest.mark.parametrize("code", [5000, 65535])
def test_a_close_code_not_valid_on_the_wire_fails_the_connection_with_1002(servers, code):
    server = servers("hostile", "frames", "8802%04x" % code)
    r = run_wsbridge(["-n", server.url], b"")
    assert r.returncode == EXIT_ABNORMAL, r.stderr
    assert b"sent Close code %d, which is not valid on the wire" % code in r.stderr, r.stderr
    assert server.expect("CLOSE") == "CLOSE 1002"  # never the code echoed back


def test_a_forbidden_deflate_window_size_fails_the_handshake_naming_it(servers):
    server = servers("hostile", "extension", "permessage-deflate; server_max_window_bits=7")
    r = run_wsbridge([server.url], b"x\n")
    assert r.returncode == EXIT_HANDSHAKE, r.stderr
    assert b"server_max_window_bits=7 is not allowed" in r.stderr, r.stderr


def test_a_percent_encoded_control_character_in_the_host_is_a_usage_error():
    r = run_wsbridge(["ws://%00evil.example:1/"], b"x\n")
    assert r.returncode == EXIT_USAGE, r.stderr
    assert b"the host contains a percent-encoded control character" in r.stderr, r.stderr


def test_verbose_output_masks_secret_query_values(servers):
    server = servers("python", "echo")
    r = run_wsbridge(["-v", server.url + "chat?token=s3cr3t&room=5&api_key=k3y&sig=abc"], b"x\n")
    assert r.returncode == EXIT_OK, r.stderr
    assert b"GET /chat?token=***&room=5&api_key=***&sig=*** HTTP/1.1" in r.stderr, r.stderr
    for secret in (b"s3cr3t", b"k3y", b"=abc"):
        assert secret not in r.stderr


def test_connect_timeout_covers_the_upgrade_answer(servers):
    server = servers("hostile", "silent")  # accepts TCP, never answers the request
    started = time.monotonic()
    r = run_wsbridge(["--connect-timeout", "2", server.url], b"x\n", timeout=60)
    took = time.monotonic() - started
    assert r.returncode == EXIT_HANDSHAKE, r.stderr
    assert b"within 2s of starting (--connect-timeout)" in r.stderr, r.stderr
    assert took < 15, took  # not Beast's 30 s


def test_the_close_timeout_is_not_doubled_by_the_ack_of_our_close(servers):
    server = servers("hostile", "no-close-reply")
    started = time.monotonic()
    r = run_wsbridge(["--linger", "0", "--close-timeout", "3", server.url], b"x\n", timeout=60)
    took = time.monotonic() - started
    assert r.returncode == EXIT_ABNORMAL, r.stderr
    assert b"did not answer our Close within 3s" in r.stderr, r.stderr
    assert took < 5.5, took  # one wait of 3 s, not two


def test_refused_input_with_one_message_expected_ends_at_once(servers):
    server = servers("python", "echo")
    r = run_wsbridge(["-1", server.url], b"\xff\xfe\n", timeout=30)
    assert r.returncode == EXIT_INPUT_REFUSED, r.stderr
    assert b"line 1 is not valid UTF-8" in r.stderr, r.stderr
    assert b"messages arrived" not in r.stderr, r.stderr
    assert_no_processes_left(server.url)


def test_refused_input_after_a_sent_line_waits_for_its_answer_then_ends(servers):
    server = servers("python", "echo")
    r = run_wsbridge(["--max-messages", "5", server.url], b"first\n\xff\xfe\n", timeout=30)
    assert r.returncode == EXIT_INPUT_REFUSED, r.stderr
    assert r.stdout == b"first\n"
    assert b"messages arrived" not in r.stderr, r.stderr


def test_a_bad_length_prefix_with_one_message_expected_ends_at_once(servers):
    server = servers("python", "echo")
    r = run_wsbridge(["--length-prefixed", "-1", server.url], b"\xff\xff\xff\xff", timeout=30)
    assert r.returncode == EXIT_INPUT_REFUSED, r.stderr
    assert b"length prefix" in r.stderr, r.stderr

