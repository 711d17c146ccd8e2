"""-H, --subprotocol and --origin reach the server; the negotiated subprotocol is
reported; bad values are usage errors."""
import pytest

from conftest import EXIT_HANDSHAKE, EXIT_OK, EXIT_USAGE, run_wsbridge


def test_headers_origin_and_subprotocol_reach_the_server(servers):
    server = servers("python", "echo", "--show-headers", "--subprotocols", "chat,other")
    r = run_wsbridge(["-v", "-H", "X-Token: abc 123", "-H", "X-Second:two", "--origin", "https://app.test",
                      "--subprotocol", "superchat", "--subprotocol", "chat", server.url], b"hi\n")
    assert r.returncode == EXIT_OK, r.stderr
    assert r.stdout == b"hi\n"
    lines = server.stdout_lines()
    assert "HEADER X-Token: abc 123" in lines
    assert "HEADER X-Second: two" in lines
    assert "HEADER Origin: https://app.test" in lines
    # The one both sides know (python-websockets breaks ties between several at random).
    assert "SUBPROTOCOL chat" in lines
    assert "wsbridge: handshake: open; subprotocol: chat;" in r.stderr.decode()


def test_server_without_subprotocols_leaves_none_chosen(servers):
    server = servers("python", "echo")
    r = run_wsbridge(["-v", "--subprotocol", "chat", server.url], b"hi\n")
    assert r.returncode == EXIT_OK, r.stderr
    assert "subprotocol: none;" in r.stderr.decode()


@pytest.mark.parametrize("args, expected", [
    (["-H", "no colon here"], "expected 'Name: value'"),
    (["-H", "Bad Name: x"], "expected 'Name: value'"),
    (["-H", "Host: evil.test"], "set by wsbridge itself"),
    (["-H", "Sec-WebSocket-Key: x"], "set by wsbridge itself"),
    (["--subprotocol", "two words"], "not a valid protocol name"),
])
def test_bad_handshake_options_are_usage_errors(args, expected):
    r = run_wsbridge([*args, "ws://127.0.0.1:9/"])
    assert r.returncode == EXIT_USAGE
    assert expected in r.stderr.decode()


def test_basic_auth_from_user_option_or_url(servers):
    server = servers("python", "echo", "--show-headers")
    r = run_wsbridge(["--user", "alice:s3cret", server.url], b"")
    assert r.returncode == EXIT_OK, r.stderr
    assert server.expect("HEADER Authorization:") == "HEADER Authorization: Basic YWxpY2U6czNjcmV0"
    # From the URL, percent-decoded ("b%40b" is "b@b"); the password is never shown.
    url = server.url.replace("ws://", "ws://b%40b:pa%3Ass@")
    r = run_wsbridge(["-v", url], b"")
    assert r.returncode == EXIT_OK, r.stderr
    assert server.expect("HEADER Authorization:") == "HEADER Authorization: Basic YkBiOnBhOnNz"
    assert b"pa%3Ass" not in r.stderr and b"pa:ss" not in r.stderr


def test_a_subprotocol_that_was_not_offered_fails_the_handshake(servers):
    server = servers("hostile", "subprotocol", "evil")
    r = run_wsbridge(["--subprotocol", "chat", server.url], b"x\n")
    assert r.returncode == EXIT_HANDSHAKE
    assert r.stderr == b"wsbridge: handshake: the server chose subprotocol 'evil', which was not offered\n"
