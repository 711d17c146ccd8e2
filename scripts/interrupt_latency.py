"""The measurement behind scripts/interrupt-latency (see there). Prints a Markdown table."""
import os
import signal
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WSBRIDGE = os.path.join(ROOT, "build", "wsbridge")
PEERS = os.path.join(ROOT, "tests", "peers")
PY = "/usr/bin/python3"
sys.path.insert(0, PEERS)
from hanging_dns import hanging_dns_namespace  # noqa: E402
from proc_net import syn_sent_count  # noqa: E402


class Server:
    def __init__(self, argv):
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.port = int(self.proc.stdout.readline().split()[1])
        self.url = f"ws://127.0.0.1:{self.port}/"

    def wait_event(self, word):
        while self.proc.stdout.readline().strip() != word:
            pass

    def stop(self):
        self.proc.kill()
        self.proc.wait()


def hostile(*args):
    return Server([PY, os.path.join(PEERS, "hostile_server.py"), *map(str, args)])


def measure(argv, ready, stdin=subprocess.DEVNULL, feed=None, expect_status=130, stderr=subprocess.DEVNULL):
    """Starts wsbridge, waits for ready(), sends SIGINT to its group, returns seconds
    until the whole tree is gone."""
    p = subprocess.Popen(argv, stdin=stdin, stdout=subprocess.DEVNULL if feed is None else subprocess.PIPE,
                         stderr=stderr, start_new_session=True)
    try:
        if feed:
            feed(p)
        ready(p)
        t0 = time.perf_counter()
        os.killpg(p.pid, signal.SIGINT)
        p.wait(timeout=10)  # the supervisor reaps both children before it exits
        # Under `ip netns exec` (which forks) the wrapper may go first: wait until the
        # whole process group is gone.
        while True:
            try:
                os.killpg(p.pid, 0)
            except ProcessLookupError:
                break
            if time.perf_counter() - t0 > 10:
                raise SystemExit(f"processes of the tree survived: {argv}")
            time.sleep(0.0002)
        elapsed = time.perf_counter() - t0
        if p.returncode != expect_status and argv[0] != "ip":
            raise SystemExit(f"unexpected exit status {p.returncode}: {argv}")
        return elapsed
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def said(text):
    """ready(): wsbridge -v has said `text` on stderr. A server's own event is too early
    for a phase that wsbridge must have reached: the server prints OPEN when its 101 is
    sent, and a SIGINT that arrives before netproc has read it finds a connection not yet
    open, which is ended at once (correctly, but that is the phase before)."""
    def ready(p):
        while text not in p.stderr.readline().decode():
            if p.poll() is not None:
                raise SystemExit(f"wsbridge ended before it said {text!r}")
    return ready


VERBOSE = {"stderr": subprocess.PIPE}


def until(cond, timeout=10):
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise SystemExit("a phase was not reached in time")
        time.sleep(0.002)


def phases():
    """(name, server or None, argv, ready, kwargs) for each phase."""
    out = []
    s = hostile("backlog-full")
    out.append(("TCP connect, SYN never answered", s, [WSBRIDGE, s.url],
                lambda p, s=s: until(lambda: syn_sent_count(s.port) >= 2), {}))
    s = hostile("silent")
    out.append(("upgrade sent, server silent", s, [WSBRIDGE, s.url], lambda p, s=s: s.wait_event("ACCEPTED"), {}))
    s = hostile("silent")
    out.append(("TLS handshake, server silent", s, [WSBRIDGE, f"wss://127.0.0.1:{s.port}/"],
                lambda p, s=s: s.wait_event("ACCEPTED"), {}))
    s = hostile("http-stall", 302)
    out.append(("HTTP 302 answered, body never ends", s, [WSBRIDGE, s.url],
                lambda p, s=s: s.wait_event("ANSWERED"), {}))
    s = Server([PY, os.path.join(PEERS, "py_server.py"), "echo"])

    out.append(("open and idle (python-websockets, answers Close)", s, [WSBRIDGE, "-v", s.url],
                said("handshake: open"), VERBOSE))
    s = hostile("no-close-reply")
    out.append(("open, server never answers Close", s, [WSBRIDGE, "-v", s.url], said("handshake: open"), VERBOSE))
    # stdin is empty: with --linger 0 the Close goes at once; then we wait for the answer.
    s2 = hostile("no-close-reply")
    out.append(("closing, server never answers Close", s2, [WSBRIDGE, "-v", "--linger", "0", s2.url],
                said("close: sent Close"), VERBOSE))
    s3 = hostile("flood-no-read")

    def full(p, s=s3):
        s.wait_event("OPEN")
        fd = p.stdin.fileno()
        os.set_blocking(fd, False)
        end = time.monotonic() + 30
        while time.monotonic() < end:
            try:
                os.write(fd, b"x" * 65535 + b"\n")
            except BlockingIOError:
                time.sleep(0.01)
                try:
                    os.write(fd, b"x")
                except BlockingIOError:
                    return
    out.append(("mid-transfer, stdin and stdout pipes full", s3, [WSBRIDGE, s3.url], full,
                {"stdin": subprocess.PIPE, "feed": lambda p: None}))
    return out


def resolve_phase(trials):
    """Name resolution that never answers: a DNS server in a network namespace."""
    with hanging_dns_namespace("wsb-lat") as ns:
        if ns is None:
            return None
        name, dns = ns
        argv = ["ip", "netns", "exec", name, WSBRIDGE, "ws://never-answered.test/"]
        return [measure(argv, lambda p: wait_line(dns, "QUERY")) for _ in range(trials)]


def wait_line(proc, word):
    while proc.stdout.readline().strip() != word:
        pass


def main():
    trials = int(sys.argv[1])
    rows = []
    r = resolve_phase(trials)
    if r:
        rows.append(("name resolution, DNS never answers", r))
    for name, server, argv, ready, kw in phases():
        times = [measure(argv, ready, **kw) for _ in range(trials)]
        server.stop()
        rows.append((name, times))
    print(f"Interrupt latency, SIGINT to the process group until the last process is gone "
          f"({trials} trials per phase, milliseconds):\n")
    print("| phase | median | p90 | worst |")
    print("| --- | ---: | ---: | ---: |")
    for name, t in rows:
        t = sorted(x * 1000 for x in t)
        p90 = t[min(len(t) - 1, int(len(t) * 0.9))]
        print(f"| {name} | {statistics.median(t):.1f} | {p90:.1f} | {t[-1]:.1f} |")


if __name__ == "__main__":
    main()
