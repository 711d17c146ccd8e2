#!/usr/bin/python3
"""scripts/bench --server: wsbridge's server mode side by side with websocketd 0.4
(Debian's), both serving `cat` one program per connection, on 127.0.0.1.

Workloads, each bounded:
- connections: N clients one after another, each connecting, sending one message,
  reading its echo and closing (python3-websockets as the client, the same for both).
- echo stream: one connection, 16-byte messages sent and echoed, by python3-websockets
  (for both servers), and by wsbridge's pipe mode (`seq | wsbridge --max-messages M
  URL`), which websocketd 0.4.1 cannot serve: it stalls with `cat` blocked writing and
  neither direction read (seen in 3 of 6 runs of 20,000 lines).
- memory: K idle connections held open; the servers' proportional set size (Pss,
  which shares the libraries' pages fairly) per connection, programs included.
"""
import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import time

import websockets

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WSBRIDGE = os.path.join(ROOT, "build", "wsbridge")


def start(kind):
    """Starts a server of `kind` on a free port; returns (process, port)."""
    if kind == "wsbridge":
        p = subprocess.Popen([WSBRIDGE, "--listen", "127.0.0.1:0", "--max-connections", "1000", "--exec", "cat"],
                             stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
        line = p.stderr.readline().decode()
        return p, int(line.split("127.0.0.1:")[1].split("/")[0])
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    p = subprocess.Popen(["websocketd", "--address", "127.0.0.1", "--port", str(port), "--loglevel", "error",
                          "--maxforks", "1000", "cat"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # ready once it accepts
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return p, port
        except OSError:
            time.sleep(0.02)
    raise RuntimeError("websocketd did not start")


def stop(p):
    p.terminate()
    try:
        p.wait(timeout=15)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def connections(port, n):
    async def run():
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            async with websockets.connect(f"ws://127.0.0.1:{port}/", compression=None) as ws:
                await ws.send("x")
                assert await ws.recv() == "x"
            times.append(time.perf_counter() - t0)
        return times

    t0 = time.perf_counter()
    times = asyncio.run(run())
    return n / (time.perf_counter() - t0), statistics.median(times)


def echo_stream_python(port, m):
    """M 16-byte messages sent by python3-websockets while it reads the echoes (its
    send waits for the socket to drain), the same client for both servers."""

    async def run():
        async with websockets.connect(f"ws://127.0.0.1:{port}/", compression=None) as ws:
            async def send():
                for i in range(m):
                    await ws.send("%015d" % i)

            sender = asyncio.create_task(send())
            for _ in range(m):
                await asyncio.wait_for(ws.recv(), 30)
            await sender

    t0 = time.perf_counter()
    asyncio.run(run())
    return m / (time.perf_counter() - t0)


def echo_stream(port, m):
    seq = subprocess.Popen(["seq", "-f", "%015.0f", "1", str(m)], stdout=subprocess.PIPE)  # 16-byte lines
    t0 = time.perf_counter()
    r = subprocess.run([WSBRIDGE, "--no-compress", "--max-messages", str(m), f"ws://127.0.0.1:{port}/"],
                       stdin=seq.stdout, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - t0
    seq.wait()
    if r.returncode != 0 or r.stdout.count(b"\n") != m:
        raise RuntimeError(f"echo stream failed: {r.returncode} {r.stderr[-200:]!r}")
    return m / elapsed


def tree(pid):
    """pid and all its descendants (from /proc)."""
    parents = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as f:
                    parents.setdefault(int(f.read().rsplit(")", 1)[1].split()[1]), []).append(int(name))
            except OSError:
                pass
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += parents.get(p, [])
    return out


def pss_kib(pids):
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def memory(proc, port, k):
    async def hold():
        before = pss_kib(tree(proc.pid))
        conns = []
        for _ in range(k):
            ws = await websockets.connect(f"ws://127.0.0.1:{port}/", compression=None)
            await ws.send("x")
            await ws.recv()
            conns.append(ws)
        after = pss_kib(tree(proc.pid))
        for ws in conns:
            await ws.close()
        return (after - before) / k

    return asyncio.run(hold())


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1.0, help="multiply the counts (0.05 for a quick check)")
    args = ap.parse_args()
    n, m, k = max(5, int(300 * args.scale)), max(100, int(200_000 * args.scale)), max(2, int(50 * args.scale))
    kinds = ["wsbridge"] + (["websocketd"] if shutil.which("websocketd") else [])
    rows = []
    for kind in kinds:
        proc, port = start(kind)
        try:
            rate, p50 = connections(port, n)
            stream = echo_stream_python(port, m // 4)
            # websocketd 0.4.1 stalls under this one (docs/performance.md): wsbridge only.
            fast = echo_stream(port, m) if kind == "wsbridge" else None
            mem = memory(proc, port, k)
        finally:
            stop(proc)
        rows.append((kind, rate, p50, stream, fast, mem))
    print(f"| server (`--exec cat` / `websocketd cat`) | connections/s ({n}, one after another) | "
          f"connection p50 | echo stream, python client ({m // 4} × 16 B) | "
          f"echo stream, wsbridge client ({m} × 16 B) | memory per idle connection ({k} open, Pss) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for kind, rate, p50, stream, fast, mem in rows:
        print(f"| {kind} | {rate:,.0f} | {p50 * 1000:.1f} ms | {stream:,.0f} msg/s | "
              f"{f'{fast:,.0f} msg/s' if fast else '(stalls)'} | {mem / 1024:.2f} MB |")
    if "websocketd" not in kinds:
        print("\n(websocketd is not installed: ./scripts/bench --server installs it)", file=sys.stderr)


if __name__ == "__main__":
    main()
