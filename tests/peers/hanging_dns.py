"""A network namespace whose only DNS server never answers, for interrupting wsbridge
while it resolves a name. iproute2 bind-mounts /etc/netns/NAME/resolv.conf inside it.
Shared by the interrupt tests and scripts/interrupt-latency."""
import contextlib
import os
import shutil
import subprocess
import sys
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))


@contextlib.contextmanager
def hanging_dns_namespace(prefix="wsb"):
    """Yields (namespace name, DNS server process printing "QUERY" per query), or None
    where namespaces cannot be made (not root, no iproute2)."""
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    if os.geteuid() != 0 or not shutil.which("ip") or \
            subprocess.run(["ip", "netns", "add", name], capture_output=True).returncode != 0:
        yield None
        return
    conf_dir = f"/etc/netns/{name}"
    dns = None
    try:
        os.makedirs(conf_dir)
        with open(f"{conf_dir}/resolv.conf", "w") as f:
            f.write("nameserver 127.0.0.1\noptions timeout:30 attempts:5\n")
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        dns = subprocess.Popen(["ip", "netns", "exec", name, sys.executable, os.path.join(HERE, "silent_dns.py")],
                               stdout=subprocess.PIPE, text=True)
        if dns.stdout.readline().strip() != "READY":
            raise RuntimeError("the silent DNS server did not start")
        yield name, dns
    finally:
        if dns:
            dns.kill()
            dns.wait()
        subprocess.run(["ip", "netns", "del", name], capture_output=True)
        shutil.rmtree(conf_dir, ignore_errors=True)
