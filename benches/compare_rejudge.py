#!/usr/bin/env python3
"""Re-judges the reports benches/compare_noise.sh kept (KEEP=dir) with any
etcd-doctor binary, so that a change to `compare` is measured on the same
runs as the rule before it.

Per scenario prefix (slow, blkio, writer, flow, b2b) and level: how many
comparisons CI would fail (any metric called a regression) with a one-run
and a five-run baseline, and which metrics were called. For the leveled
scenarios it also judges same-level pairs (every level is a steady state:
round r against round r-1, and against rounds r-1..r-5), which are more
unchanged pairs: a false-alarm rate.

Usage: benches/compare_rejudge.py BIN KEEP [prefix...]
"""
import collections
import json
import os
import subprocess
import sys


def compare(binary, current, bases):
    """Metrics called regressions, and whether any row lacked evidence."""
    out = subprocess.run([binary, "compare", *bases, "--current", current, "-w", "json"],
                         capture_output=True, text=True, check=False)
    rows = json.loads(out.stdout)["subjects"][0]["rows"]
    fired = [r["metric"] for r in rows if r["status"] == "regression"]
    return fired, any(r["status"] == "not-enough-evidence" for r in rows)


class Tally:
    def __init__(self):
        self.called = self.total = self.nee = 0
        self.metrics = collections.Counter()

    def add(self, fired, nee=False):
        self.called += bool(fired)
        self.total += 1
        self.nee += nee
        self.metrics.update(fired)

    def __str__(self):
        return f"{self.called}/{self.total} called, {self.nee} not enough evidence, {dict(self.metrics)}"


def runs(keep, prefix):
    """{level: sorted rounds} of the kept reports named PREFIX.LEVEL.ROUND.json."""
    out = collections.defaultdict(list)
    for f in os.listdir(keep):
        parts = f[:-len(".json")].split(".")
        if f.endswith(".json") and parts[0] == prefix and len(parts) >= 3:
            out[".".join(parts[1:-1])].append(int(parts[-1]))
    return {lv: sorted(r) for lv, r in out.items()}


def path(keep, prefix, level, r):
    return f"{keep}/{prefix}.{level}.{r}.json"


def back_to_back(binary, keep):
    files = sorted(int(f.split(".")[1]) for f in os.listdir(keep) if f.startswith("b2b."))
    one, five = Tally(), Tally()
    for i in files[1:]:
        one.add(*compare(binary, f"{keep}/b2b.{i}.json", [f"{keep}/b2b.{i - 1}.json"]))
        if i >= 5:
            five.add(*compare(binary, f"{keep}/b2b.{i}.json", [f"{keep}/b2b.{i - j}.json" for j in range(1, 6)]))
    print(f"b2b one-run: {one}\nb2b five-run: {five}")


def leveled(binary, keep, prefix):
    have = runs(keep, prefix)
    same = {"one": Tally(), "five": Tally()}
    for level in sorted((lv for lv in have if lv != "base"), key=float):
        for kind, back in (("one", [0]), ("five", range(5))):
            t = Tally()
            for r in (r for r in have[level] if r >= 1):
                t.add(*compare(binary, path(keep, prefix, level, r),
                               [path(keep, prefix, "base", r - j) for j in back]))
            print(f"{prefix} x{level} {kind}-run: {t}")
    for level, rounds in have.items():
        for r in (r for r in rounds if r >= 1):
            for kind, back in (("one", [1]), ("five", range(1, 6))):
                bases = [path(keep, prefix, level, r - j) for j in back]
                if all(os.path.exists(b) for b in bases):
                    same[kind].add(compare(binary, path(keep, prefix, level, r), bases)[0])
    for kind, t in same.items():
        print(f"{prefix} same-level {kind}-run: {t}")


def main():
    binary, keep = sys.argv[1:3]
    for prefix in sys.argv[3:] or ["slow", "blkio", "writer", "flow", "b2b"]:
        if prefix == "b2b":
            back_to_back(binary, keep)
        elif runs(keep, prefix):
            leveled(binary, keep, prefix)


if __name__ == "__main__":
    main()
