#!/usr/bin/python3
"""An interleaved A/B of the client benchmark: two wsbridge builds measured in turns
(A B, then B A, ...) by scripts/bench.py, so that the machine's swings fall on both.
Prints each run's figures as they come, then each workload's medians and B/A.

  scripts/bench_ab.py --a OLD/build-release/wsbridge --b build-release/wsbridge --pairs 10

Build A from an older commit with `git worktree add /tmp/old COMMIT` and a Release build
there (cmake -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF, target wsbridge).
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TIMED = ["send 16 B lines", "send 1 KiB lines", "send 64 KiB lines", "receive 16 B flood"]


def one_run(binary, scale, repeat, out):
    subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "scripts", "bench.py"), "--scale", str(scale),
                    "--repeat", str(repeat), "--memory-gb", "0.05", "--clients", "wsbridge", "--wsbridge", binary,
                    "--out", out], capture_output=True, check=True, timeout=1800)
    md = open(os.path.join(out, "results.md")).read()
    row = {name: float(re.search(re.escape(name) + r" \| wsbridge \| ([0-9.]+) s", md).group(1)) for name in TIMED}
    row["echo p50 (µs)"] = float(re.search(r"\| wsbridge \| (\d+) µs", md).group(1))
    row["start-up (s)"] = float(re.search(r"\| wsbridge \| (0\.\d+) \|", md).group(1))
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--a", required=True, help="the wsbridge binary to compare against (the old one)")
    ap.add_argument("--b", required=True, help="the wsbridge binary under test")
    ap.add_argument("--pairs", type=int, default=10, help="pairs of runs, in alternating order")
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--repeat", type=int, default=5, help="bench.py's runs per workload (its median counts)")
    args = ap.parse_args()
    runs = {"A": [], "B": []}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.pairs):
            for k in (["A", "B"] if i % 2 == 0 else ["B", "A"]):
                runs[k].append(one_run(args.a if k == "A" else args.b, args.scale, args.repeat, os.path.join(tmp, k)))
                print(k, json.dumps(runs[k][-1]), flush=True)
    print(f"\n| workload, median of {args.pairs} runs each | A | B | B/A |\n| --- | --- | --- | --- |")
    for name in runs["A"][0]:
        a = [r[name] for r in runs["A"]]
        b = [r[name] for r in runs["B"]]
        print(f"| {name} | {statistics.median(a):.4g} ({min(a):.4g}-{max(a):.4g}) | "
              f"{statistics.median(b):.4g} ({min(b):.4g}-{max(b):.4g}) | {statistics.median(b) / statistics.median(a):.2f} |")


if __name__ == "__main__":
    main()
