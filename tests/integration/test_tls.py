"""wss:// against a python-websockets server with a certificate the test makes with
the openssl command: verified through --cacert, refused without it, host checked."""
import subprocess

import pytest

from conftest import EXIT_CONNECT, EXIT_OK, EXIT_USAGE, run_wsbridge


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
    assert r.stderr.decode().splitlines() == ["wsbridge: tls: certificate verify failed: self-signed certificate"]


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
