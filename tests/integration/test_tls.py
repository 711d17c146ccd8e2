"""wss:// against a python-websockets server with a certificate the test makes with
the openssl command: verified through --cacert, refused without it, host checked."""
import shutil
import subprocess

import pytest

from conftest import (EXIT_CONNECT, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, WSBRIDGE, children_of, mapped_files,
                      role_of, run_wsbridge, wait_for)


def make_cert(directory, san):
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
                    "-out", str(cert), "-days", "2", "-subj", "/CN=wsbridge test",
                    "-addext", f"subjectAltName={san}"], check=True, capture_output=True)
    return str(cert), str(key)


@pytest.fixture
def tls_server(servers, tmp_path):
    cert, key = make_cert(tmp_path, "DNS:localhost")
    server = servers("python", "echo", "--tls", cert, key)
    server.cert = cert
    return server


LINES = b"".join(b"secure line %d\n" % i for i in range(1000))


def test_wss_with_the_test_ca_trusted_carries_every_line(tls_server):
    r = run_wsbridge(["--linger", "2", "--cacert", tls_server.cert, f"wss://localhost:{tls_server.port}/"], LINES)
    assert r.returncode == EXIT_OK, r.stderr
    assert r.stdout == LINES


def test_self_signed_certificate_is_refused_by_default(tls_server):
    r = run_wsbridge([f"wss://localhost:{tls_server.port}/"], b"x\n")
    assert r.returncode == EXIT_CONNECT
    assert r.stderr.decode().splitlines() == ["wsbridge: tls: certificate verify failed: self-signed certificate; "
                                              "trust its CA with --cacert FILE, or skip the check with -k"]


def test_certificate_for_another_host_is_refused(tls_server):
    r = run_wsbridge(["--cacert", tls_server.cert, f"wss://127.0.0.1:{tls_server.port}/"], b"x\n")
    assert r.returncode == EXIT_CONNECT
    assert r.stderr.decode().splitlines() == ["wsbridge: tls: certificate verify failed: IP address mismatch"]


def test_host_name_mismatch_is_named(servers, tmp_path):
    cert, key = make_cert(tmp_path, "DNS:other.test")
    server = servers("python", "echo", "--tls", cert, key)
    r = run_wsbridge(["--cacert", cert, f"wss://localhost:{server.port}/"], b"x\n")
    assert r.returncode == EXIT_CONNECT
    assert r.stderr.decode().splitlines() == ["wsbridge: tls: certificate verify failed: hostname mismatch"]


def test_insecure_skips_verification(tls_server):
    r = run_wsbridge(["-k", f"wss://127.0.0.1:{tls_server.port}/"], b"anyway\n")
    assert r.returncode == EXIT_OK, r.stderr
    assert r.stdout == b"anyway\n"


def test_unreadable_cacert_is_a_usage_error(tls_server, tmp_path):
    missing = str(tmp_path / "missing.pem")
    r = run_wsbridge(["--cacert", missing, f"wss://localhost:{tls_server.port}/"], b"x\n")
    assert r.returncode == EXIT_USAGE
    assert r.stderr.decode().startswith(f"wsbridge: tls: cannot load CA certificates from {missing}")


def make_client_cert(directory):
    cert, key = directory / "client.pem", directory / "client-key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
                    "-out", str(cert), "-days", "2", "-subj", "/CN=wsbridge-client"], check=True, capture_output=True)
    return str(cert), str(key)


def test_client_certificate_is_presented_when_the_server_requires_one(servers, tmp_path):
    cert, key = make_cert(tmp_path, "DNS:localhost")
    client_cert, client_key = make_client_cert(tmp_path)
    server = servers("python", "echo", "--tls", cert, key, "--client-ca", client_cert)
    url = f"wss://localhost:{server.port}/"
    r = run_wsbridge(["--cacert", cert, "--cert", client_cert, "--key", client_key, url], b"mutual\n")
    assert r.returncode == EXIT_OK, r.stderr
    assert r.stdout == b"mutual\n"
    assert server.expect("CLIENT") == "CLIENT wsbridge-client"
    # Certificate and key in one PEM file: --key may be left out.
    both = tmp_path / "both.pem"
    both.write_bytes(open(client_cert, "rb").read() + open(client_key, "rb").read())
    r = run_wsbridge(["--cacert", cert, "--cert", str(both), url], b"one file\n")
    assert r.returncode == EXIT_OK, r.stderr
    # Without it the server refuses: one line, not a hang.
    r = run_wsbridge(["--cacert", cert, url], b"x\n", timeout=30)
    assert r.returncode not in (EXIT_OK,), r.stderr
    assert len(r.stderr.splitlines()) == 1 and r.stderr.startswith(b"wsbridge: "), r.stderr


def test_unreadable_client_certificate_is_a_usage_error(tls_server, tmp_path):
    r = run_wsbridge(["--cert", str(tmp_path / "missing.pem"), f"wss://localhost:{tls_server.port}/"], b"x\n")
    assert r.returncode == EXIT_USAGE
    assert r.stderr.startswith(b"wsbridge: tls: cannot load the client certificate from "), r.stderr


@pytest.mark.parametrize("deflate", ["0", "1"])
def test_node_ws_over_tls(servers, tmp_path, deflate):
    cert, key = make_cert(tmp_path, "DNS:localhost")
    server = servers("node", "echo", env={"WS_TLS_CERT": cert, "WS_TLS_KEY": key, "WS_DEFLATE": deflate})
    r = run_wsbridge(["--linger", "2", "--cacert", cert, f"wss://localhost:{server.port}/"], LINES)
    assert r.returncode == EXIT_OK, r.stderr
    assert r.stdout == LINES
    r = run_wsbridge([f"wss://localhost:{server.port}/"], b"x\n")
    assert r.returncode == EXIT_CONNECT


@pytest.mark.parametrize("tls", [False, True], ids=["ws", "wss"])
def test_only_a_wss_network_process_loads_openssl(servers, tls_server, tls):
    # OpenSSL is linked into the TLS module alone, which netproc loads for wss:// only:
    # the other processes, and every process of a ws:// session, do without it.
    url = f"wss://localhost:{tls_server.port}/" if tls else servers("node", "echo").url
    p = subprocess.Popen([WSBRIDGE, "--cacert", tls_server.cert, url], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        p.stdin.write(b"hello\n")
        p.stdin.flush()
        assert p.stdout.readline() == b"hello\n"
        kids = wait_for(lambda: len(children_of(p.pid)) == 2 and children_of(p.pid), what="two children")
        for pid in [p.pid, *kids]:
            files = mapped_files(pid)
            with_tls = tls and role_of(pid) == "netproc"
            assert ("libssl.so.3" in files) == with_tls, (role_of(pid), tls)
            assert ("wsbridge-tls.so" in files) == with_tls, (role_of(pid), tls)
            # Nor does a session on pipes load the line editor (test_interactive.py).
            assert not any(f.startswith(("libedit.so", "wsbridge-term.so")) for f in files), role_of(pid)
    finally:
        p.stdin.close()
        p.wait(timeout=10)
    assert p.returncode == EXIT_OK, p.stderr.read()


def test_a_missing_tls_module_is_one_clear_error(tls_server, tmp_path):
    alone = tmp_path / "wsbridge"
    shutil.copy(WSBRIDGE, alone)
    r = subprocess.run([str(alone), "--cacert", tls_server.cert, f"wss://localhost:{tls_server.port}/"],
                       input=b"x\n", capture_output=True, timeout=30)
    assert r.returncode == EXIT_FAILURE
    lines = r.stderr.decode().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("wsbridge: tls: cannot find the TLS module wsbridge-tls.so beside the program, in ")


def test_cacert_naming_a_directory_says_so(tls_server, tmp_path):
    r = run_wsbridge(["--cacert", str(tmp_path), f"wss://localhost:{tls_server.port}/"], b"x\n")
    assert r.returncode == EXIT_USAGE, r.stderr
    assert r.stderr.decode().rstrip().endswith("(--cacert names a directory; give the PEM file of the CA certificates)")
