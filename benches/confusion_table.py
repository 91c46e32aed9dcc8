#!/usr/bin/env python3
"""The Markdown table of a benches/confusion.sh run, for docs/accuracy*.md.

Reads the run's stdout (the "row rep expected got hit false_alarms" lines)
and the row specs of benches/confusion.sh (which ids each row allows beside
its expected ones), and prints one table line per row: hits out of runs
(healthy rows: runs with no warn/fail id the row does not allow), and every extra warn/fail
id with how many runs named it, marked "(allowed)" where the row allows
it. Then the totals, as the script's own summary says them. Writing the
table from the output, not by hand, keeps the docs' figures the run's.

Usage: benches/confusion_table.py RUN.txt [benches/confusion.sh]
"""
import re
import sys
from collections import OrderedDict


def allowed_ids(script):
    """Row name -> the ids it allows, from the ROWS default of the script."""
    text = open(script, encoding="utf-8").read()
    m = re.search(r'ROWS=\$\{ROWS:-"([^"]*)"\}', text)
    out = {}
    for spec in (m.group(1).split() if m else []):
        name, _expected, allowed = spec.split(":", 2)
        out[name] = set() if allowed == "-" else set(allowed.split(","))
    return out


def parse(path):
    """Row name -> list of (expected ids, got ids, hit) in run order."""
    rows = OrderedDict()
    for line in open(path, encoding="utf-8"):
        parts = line.split()
        if len(parts) != 6 or parts[0] == "row" or not parts[1].isdigit():
            continue
        name, _rep, expected, got, hit, _fa = parts
        exp = [] if expected == "-" else expected.split(",")
        ids = [] if got == "-" else got.split(",")
        rows.setdefault(name, []).append((exp, ids, hit == "1"))
    return rows


def table(rows, allowed):
    lines = ["| row | expected | hits | extra warn/fail ids |", "|---|---|---|---|"]
    totals = {"faults": 0, "named": 0, "healthy": 0, "clean": 0}
    for name, runs in rows.items():
        expected = runs[0][0]
        n = len(runs)
        extra = OrderedDict()
        for exp, got, _ in runs:
            for g in got:
                if g not in exp:
                    extra[g] = extra.get(g, 0) + 1
        ok = allowed.get(name, set())
        if expected:
            hits = sum(1 for _, _, hit in runs if hit)
            totals["faults"] += n
            totals["named"] += hits
            hit_text = f"{hits}/{n}"
        else:
            # Clean: no warn/fail id the row does not allow (busy-rtt's
            # link is saturated, and may be said to be).
            clean = sum(1 for _, got, _ in runs if all(g in ok for g in got))
            totals["healthy"] += n
            totals["clean"] += clean
            hit_text = f"{clean}/{n} clean"
        extras = ", ".join(
            f"{c}/{n} {i}" + (" (allowed)" if i in ok else "")
            for i, c in sorted(extra.items())
        )
        lines.append(
            f"| {name} | {', '.join(expected) or '-'} | {hit_text} | {extras or '-'} |"
        )
    f, h = totals["faults"], totals["healthy"]
    lines.append("")
    lines.append(
        f"Totals: fault runs {f}, named {totals['named']}"
        f" ({100 * totals['named'] / f:.0f} %); " if f else "Totals: no fault runs; "
    )
    lines[-1] += (
        f"healthy runs {h}, {totals['clean']} clean." if h else "no healthy runs."
    )
    return "\n".join(lines)


def main(argv):
    if len(argv) < 2:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    script = argv[2] if len(argv) > 2 else "benches/confusion.sh"
    print(table(parse(argv[1]), allowed_ids(script)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
