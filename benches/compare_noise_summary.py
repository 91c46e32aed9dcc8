#!/usr/bin/env python3
"""Summary of benches/compare_noise.sh's raw rows (label, called on any
metric, not enough evidence on any metric, p99 ratio, p99 floor %, p99
status), one line per label: comparisons that failed CI (a regression on
any metric of the subject) / comparisons, how many the p99 row alone
called, how many the p99 row could not judge ("not enough evidence"), and
min/median/max of the current/baseline p99 ratio and of the p99 floor."""
import statistics
import sys

rows = {}
for line in open(sys.argv[1]):
    label, called, _nee, ratio, floor, status = line.rstrip("\n").split("\t")
    rows.setdefault(label, []).append((int(called), status, float(ratio), float(floor)))


def mmm(v):
    v = [x for x in v if x == x]
    return f"{min(v):.2f}/{statistics.median(v):.2f}/{max(v):.2f}" if v else "-"


print(f"{'scenario':34} {'CI fail':>7} {'p99':>4} {'p99 nee':>7}  p99 ratio min/med/max  p99 floor % min/med/max")
for label, r in rows.items():
    called = sum(x[0] for x in r)
    p99 = sum(x[1] == "regression" for x in r)
    nee = sum(x[1] == "not-enough-evidence" for x in r)
    print(f"{label:34} {called:>3}/{len(r):<3} {p99:>4} {nee:>7}  {mmm([x[2] for x in r]):21} {mmm([x[3] for x in r])}")
