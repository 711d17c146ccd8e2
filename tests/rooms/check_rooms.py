#!/usr/bin/python3
"""The rooms of the code and what each may include, checked on every build's tests.

The architecture picture (docs/architecture.md), as data: a room is a folder, and a file may include only
headers of its own room and of the rooms listed for it. The children (netproc, ioproc)
never see the command line or the supervisor; the supervisor reaches a child's code
only through its entry point (main() hands the roles to the supervisor)."""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# room: the rooms it may use (besides itself)
ALLOWED = {
    "bridge/protocol": set(),
    "bridge/common": {"bridge/protocol"},
    "bridge/framing": {"bridge/protocol", "bridge/common"},
    "bridge/cli": {"bridge/protocol", "bridge/common"},
    "bridge/supervisor": {"bridge/protocol", "bridge/common", "bridge/cli"},
    "netproc": {"bridge/protocol", "bridge/common", "bridge/framing"},
    "ioproc": {"bridge/protocol", "bridge/common", "bridge/framing"},
}
# Single headers a room may use from a room it may not otherwise: the children's entry points.
ENTRY_POINTS = {"bridge/supervisor": {"netproc/netproc.hpp", "ioproc/ioproc.hpp"}}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def room_of(path):
    for room in sorted(ALLOWED, key=len, reverse=True):
        if path == room or path.startswith(room + "/"):
            return room
    return None


def main():
    problems = []
    files = 0
    for top in ("bridge", "netproc", "ioproc"):
        for folder, _, names in os.walk(os.path.join(ROOT, top)):
            for name in names:
                if not name.endswith((".cpp", ".hpp", ".ipp", ".in")):
                    continue
                path = os.path.relpath(os.path.join(folder, name), ROOT)
                here = room_of(path)
                if here is None:
                    problems.append(f"{path}: in no room (bridge/ holds only its five rooms)")
                    continue
                files += 1
                with open(os.path.join(ROOT, path), encoding="utf-8") as f:
                    for included in INCLUDE.findall(f.read()):
                        there = room_of(included)
                        if there is None or there == here or there in ALLOWED[here]:
                            continue
                        if included in ENTRY_POINTS.get(here, ()):
                            continue
                        problems.append(f"{path}: includes {included} ({here} may not use {there})")
    for p in problems:
        print(p)
    print(f"rooms: {files} files, {len(problems)} problems")
    return 1 if problems or files == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
