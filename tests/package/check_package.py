#!/usr/bin/python3
"""Checks the .deb that scripts/package built: its contents and control fields
(dpkg-deb -c and -I), then the binary extracted from it, moved to another directory
(so that only the modules' path relative to the executable can find them): --version,
a message echoed by a local server, the TLS module loaded for wss://, and the line
editor module loaded on a pseudo-terminal.

usage: check_package.py PACKAGE.deb"""
import gzip
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import pexpect

PEERS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "peers")


def check(condition, what):
    if not condition:
        sys.exit(f"check_package: FAILED: {what}")
    print(f"check_package: ok: {what}")


def run(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, **kw)


def main(deb):
    listing = run(["dpkg-deb", "-c", deb]).stdout
    files = {line.split()[-1].lstrip(".") for line in listing.splitlines()}
    module_dir = next((os.path.dirname(f) for f in files if f.endswith("/wsbridge-tls.so")), None)
    check(module_dir is not None and module_dir.startswith("/usr/lib/") and module_dir.endswith("/wsbridge"),
          f"the TLS module is in /usr/lib/.../wsbridge ({module_dir})")
    for path in ["/usr/bin/wsbridge", f"{module_dir}/wsbridge-term.so", "/usr/share/man/man1/wsbridge.1.gz",
                 "/usr/share/bash-completion/completions/wsbridge", "/usr/share/zsh/vendor-completions/_wsbridge",
                 "/usr/share/doc/wsbridge/README.md", "/usr/share/doc/wsbridge/LICENSE",
                 "/usr/share/doc/wsbridge/docs/guide.md", "/usr/share/doc/wsbridge/docs/deploy.md",
                 "/usr/share/doc/wsbridge/examples/wsbridge@.socket",
                 "/usr/share/doc/wsbridge/examples/wsbridge@.service"]:
        check(path in files, f"the package holds {path}")
    check(not any("/include/" in f or f.endswith(".a") or "unit_tests" in f for f in files),
          "no headers, static libraries or tests in the package")

    info = run(["dpkg-deb", "-I", deb]).stdout
    depends = re.search(r"^ Depends: (.*)$", info, re.M)
    check(depends is not None, "the package has a Depends field")
    for library in ["libc6", "libssl3", "libedit2"]:
        check(library in depends.group(1), f"it depends on {library} ({depends.group(1)})")
    check(re.search(r"^ Package: wsbridge$", info, re.M) is not None, "the package is called wsbridge")

    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["dpkg-deb", "-x", deb, os.path.join(tmp, "extracted")], check=True)
        moved = os.path.join(tmp, "moved")
        shutil.move(os.path.join(tmp, "extracted"), moved)
        exe = os.path.join(moved, "usr/bin/wsbridge")

        version = run([exe, "--version"])
        check(version.returncode == 0 and version.stdout.startswith("wsbridge "), "the moved binary runs --version")
        sections = run(["readelf", "-S", exe]).stdout
        check(".debug_info" not in sections and ".symtab" not in sections, "the binary is stripped")
        with open(exe, "rb") as f:
            check(b"WSBRIDGE_TEST_" not in f.read(), "no test hooks are compiled in")
        with gzip.open(os.path.join(moved, "usr/share/man/man1/wsbridge.1.gz"), "rt") as f:
            man = f.read()
        check(man.startswith(".\\\"") and ".TH WSBRIDGE 1" in man and "\\-\\-connect\\-timeout" in man,
              "the man page is roff and lists the options")

        server = subprocess.Popen(["/usr/bin/python3", os.path.join(PEERS, "py_server.py"), "echo"],
                                  stdout=subprocess.PIPE, text=True)
        try:
            port = int(server.stdout.readline().split()[1])
            url = f"ws://127.0.0.1:{port}/"
            echo = run([exe, "-x", "hello from the package", url])
            check(echo.returncode == 0 and echo.stdout == "hello from the package\n",
                  f"the moved binary echoes a message ({echo.returncode}, {echo.stdout!r}, {echo.stderr!r})")
            # A port where nothing listens: the TLS module must load before the connect fails.
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                closed_port = s.getsockname()[1]
            tls = run([exe, "--connect-timeout", "5", f"wss://127.0.0.1:{closed_port}/"])
            check(tls.returncode == 3 and "module" not in tls.stderr,
                  f"the moved binary loads its TLS module ({tls.returncode}, {tls.stderr.strip()!r})")
            term = pexpect.spawn(exe, [url], env={"TERM": "xterm", "HOME": tmp, "PATH": os.environ["PATH"]},
                                 dimensions=(24, 80), timeout=20)
            term.expect("Connected to")
            term.expect("> ")
            term.sendcontrol("d")
            term.expect(pexpect.EOF)
            term.close()
            check(term.exitstatus == 0, "the moved binary loads its line editor module on a terminal")
        finally:
            server.kill()
            server.wait()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
