#!/usr/bin/python3
"""scripts/bench --server: wsbridge's server mode side by side with websocketd 0.4
(Debian's), both serving `cat`, one program per connection, on 127.0.0.1.

The load comes from node's `ws` (tests/bench/server_load.js), the same for both servers
and not the bottleneck. The servers run in turns, A B then B A, for --rounds rounds; each
figure is the median of its rounds. Workloads, each bounded by its counts:
- connections one at a time, and 8 at a time: connect, one message, its echo, close;
- echo: 100 connections at once, each 2,000 messages of 64 bytes, up to 100 in flight;
- memory: K idle connections held open; the server's own processes' proportional set
  size (Pss, which shares library pages fairly), programs excluded, measured as
  (total with K open - total before) / K. Beside it, the floor: what one idle forked
  process of the server costs here (a spare network process's own pages, before its
  connection).
Below the table, what no server here can beat: the same load against an echo server in
node's own process (no program, no other process), and what starting `cat`, passing it
one line and reaping it costs (posix_spawn, as a vfork launcher does).
--hold N (wsbridge only) opens N idle connections and says how long that took, what the
server's processes use in all, and what limits the count.
"""
import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOAD = os.path.join(ROOT, "tests", "bench", "server_load.js")
FLOOR = os.path.join(ROOT, "tests", "bench", "floor_server.js")


def start(kind, wsbridge, max_connections):
    """Starts a server of `kind` on a free port; returns (process, port)."""
    if kind == "wsbridge":
        p = subprocess.Popen([wsbridge, "--listen", "127.0.0.1:0", "--max-connections", str(max_connections),
                              "--exec", "cat"], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
        line = p.stderr.readline().decode()
        return p, int(line.split("127.0.0.1:")[1].split("/")[0])
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # websocketd logs every program's end at --loglevel error; its output is not ours.
    p = subprocess.Popen(["websocketd", "--address", "127.0.0.1", "--port", str(port), "--loglevel", "fatal",
                          "--maxforks", str(max_connections), "cat"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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
        p.wait(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def load(*args):
    r = subprocess.run(["node", LOAD, *map(str, args)], capture_output=True, text=True, timeout=900)
    out = json.loads(r.stdout.strip().splitlines()[-1])
    if "error" in out:
        raise RuntimeError(f"{args[0]}: {out['error']}")
    return out


def processes():
    """{pid: (parent pid, name)} of every process."""
    out = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as f:
                    head, tail = f.read().rsplit(")", 1)
                out[int(name)] = (int(tail.split()[1]), head.split("(", 1)[1])
            except OSError:
                pass
    return out


def server_pids(root):
    """The server's own processes: `root` and its descendants, programs (`cat`) excluded."""
    table = processes()
    children = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        if table.get(p, (0, ""))[1] != "cat":
            out.append(p)
        todo += children.get(p, [])
    return out


def pss_kib(pids, fields=("Pss:",)):
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith(fields):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def hold(port, k):
    """Opens k idle connections; returns (the generator, seconds taken to open them)."""
    gen = subprocess.Popen(["node", LOAD, "hold", f"ws://127.0.0.1:{port}/", str(k)], stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE, text=True)
    out = json.loads(gen.stdout.readline())
    if "error" in out:
        raise RuntimeError(f"hold: {out['error']}")
    time.sleep(0.5)  # the last connections' programs are exec'd and settled (not a synchronisation)
    return gen, out["seconds"]


def release(gen):
    gen.stdin.close()
    gen.wait(timeout=60)


def memory(proc, port, k):
    """(server Pss per idle connection, programs excluded, in kB; the floor in kB)."""
    time.sleep(0.3)  # the pool is full before the baseline (not a synchronisation)
    before_pids = server_pids(proc.pid)
    before = pss_kib(before_pids)
    spares = [p for p in before_pids if processes().get(p, (0, ""))[1] == "wsbridge-spare"]
    # A spare's own pages (private, clean or dirty): what one more forked, idle process
    # of the server costs before its connection adds anything.
    floor = statistics.mean(pss_kib([p], ("Private_Clean:", "Private_Dirty:")) for p in spares) if spares else None
    gen, _ = hold(port, k)
    try:
        after = pss_kib(server_pids(proc.pid))
    finally:
        release(gen)
    return (after - before) / k, floor


def one_round(kind, args, s):
    proc, port = start(kind, args.wsbridge, max(1000, s["k"]) + 16)
    url = f"ws://127.0.0.1:{port}/"
    try:
        seq = load("connect", url, s["n"], 1)
        par = load("connect", url, s["n"] * 2, 8)
        echo = load("echo", url, 100, s["m"], 100)
        mem, floor = memory(proc, port, s["k"])
    finally:
        stop(proc)
    return {"seq": seq["per_second"], "p50": seq["p50_ms"], "p99": seq["p99_ms"], "par": par["per_second"],
            "echo": echo["per_second"], "mem": mem, "floor": floor}


def floor_round(s):
    """The same connection loads against node's in-process echo server."""
    srv = subprocess.Popen(["node", FLOOR], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        url = f"ws://127.0.0.1:{json.loads(srv.stdout.readline())['port']}/"
        seq = load("connect", url, s["n"], 1)
        par = load("connect", url, s["n"] * 2, 8)
        echo = load("echo", url, 100, s["m"], 100)
    finally:
        srv.stdin.close()
        srv.wait(timeout=30)
    return {"seq": seq["per_second"], "p50": seq["p50_ms"], "p99": seq["p99_ms"], "par": par["per_second"],
            "echo": echo["per_second"]}


def program_cost_ms(n):
    """Median ms to start `cat` with pipes, pass it one line and back, close its input
    and reap it: what every connection of a program-per-connection server pays."""
    cat = shutil.which("cat")
    times = []
    for _ in range(n):
        t = time.perf_counter()
        in_r, in_w = os.pipe()
        out_r, out_w = os.pipe()
        pid = os.posix_spawn(cat, ["cat"], os.environ, file_actions=[
            (os.POSIX_SPAWN_DUP2, in_r, 0), (os.POSIX_SPAWN_DUP2, out_w, 1),
            (os.POSIX_SPAWN_CLOSE, in_w), (os.POSIX_SPAWN_CLOSE, out_r)])
        os.close(in_r)
        os.close(out_w)
        os.write(in_w, b"hello\n")
        assert os.read(out_r, 64) == b"hello\n"
        os.close(in_w)
        os.waitpid(pid, 0)
        os.close(out_r)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def hold_run(args, n):
    """--hold: n idle connections to wsbridge."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # the generator's sockets (inherited by node)
    proc, port = start("wsbridge", args.wsbridge, n + 16)
    try:
        time.sleep(0.3)  # the pool is full before the baseline (not a synchronisation)
        base = pss_kib(server_pids(proc.pid))
        gen, seconds = hold(port, n)
        programs = [p for p, (pp, name) in processes().items() if pp == proc.pid and name == "cat"]
        total = pss_kib(server_pids(proc.pid))
        prog = pss_kib(programs)
        print(f"{n:,} idle connections opened in {seconds:.1f} s (64 at a time); the server's own processes "
              f"(listener, {n:,} network processes, spares): {total / 1024:,.0f} MB Pss "
              f"({(total - base) / n:,.0f} kB per connection); the {len(programs):,} programs: {prog / 1024:,.0f} MB Pss; "
              f"RLIMIT_NOFILE {hard:,}, pid_max {open('/proc/sys/kernel/pid_max').read().strip()}")
        release(gen)
    finally:
        stop(proc)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1.0, help="multiply the counts (0.05 for a quick check)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds, servers in turns (the median is shown)")
    ap.add_argument("--wsbridge", default=os.path.join(ROOT, "build", "wsbridge"), help="the wsbridge to measure")
    ap.add_argument("--hold", type=int, default=0, help="only: open this many idle connections to wsbridge")
    args = ap.parse_args()
    if args.hold:
        return hold_run(args, args.hold)
    s = {"n": max(10, int(500 * args.scale)), "m": max(20, int(2000 * args.scale)), "k": max(10, int(1000 * args.scale))}
    kinds = ["wsbridge"] + (["websocketd"] if shutil.which("websocketd") else [])
    results = {k: [] for k in kinds}
    floors = []
    for r in range(args.rounds):
        for kind in (kinds if r % 2 == 0 else kinds[::-1]):
            results[kind].append(one_round(kind, args, s))
        floors.append(floor_round(s))
    med = {k: {f: statistics.median(x[f] for x in v) for f in v[0] if v[0][f] is not None} for k, v in results.items()}
    print(f"| server (`--exec cat` / `websocketd cat`), median of {args.rounds} | connections/s, one at a time "
          f"({s['n']}) | p50 / p99 | connections/s, 8 at a time ({s['n'] * 2}) | echo, 100 connections × "
          f"{s['m']} × 64 B | server Pss per idle connection ({s['k']} open, programs excluded) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for kind in kinds:
        m = med[kind]
        floor = f" (a spare, forked and idle: {m['floor']:.0f} kB of its own)" if "floor" in m else ""
        print(f"| {kind} | {m['seq']:,.0f} | {m['p50']:.1f} / {m['p99']:.1f} ms | {m['par']:,.0f} | "
              f"{m['echo']:,.0f} msg/s | {m['mem']:.0f} kB{floor} |")
    if "websocketd" in med:
        a, b = med["wsbridge"], med["websocketd"]
        print(f"| wsbridge / websocketd | {a['seq'] / b['seq']:.2f} | {a['p50'] / b['p50']:.2f} / "
              f"{a['p99'] / b['p99']:.2f} | {a['par'] / b['par']:.2f} | {a['echo'] / b['echo']:.2f} | "
              f"{a['mem'] / b['mem']:.1f} |")
    else:
        print("\n(websocketd is not installed: ./scripts/bench --server installs it)", file=sys.stderr)
    f = {k: statistics.median(x[k] for x in floors) for k in floors[0]}
    print(f"| floor: node `ws` echoing in its own process (no program) | {f['seq']:,.0f} | {f['p50']:.1f} / "
          f"{f['p99']:.1f} ms | {f['par']:,.0f} | {f['echo']:,.0f} msg/s | |")
    print(f"\nStarting `cat`, one line through it and back, and reaping it (posix_spawn, median of "
          f"{s['n']}): {program_cost_ms(s['n']):.2f} ms.")


if __name__ == "__main__":
    main()
