"""Run the benchmark suite: ``python benchmarks/run.py [--quick] [--json FILE]``.

Every figure is measured in the same process run as the anchors it is
compared with, and reported as a ratio as well as an absolute figure.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_dispatch
import bench_heap
import bench_queue

SUITES = ("heap", "queue", "dispatch")


def _commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True, cwd=Path(__file__).parent
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _ratio_table(title: str, rows: dict[str, dict[str, float]], subject: str) -> list[str]:
    names = list(next(iter(rows.values())))
    lines = [f"### {title}", "", "| n | " + " | ".join(names) + f" | {subject} speed-up vs each |", "|---" * (len(names) + 2) + "|"]
    for n, row in rows.items():
        ours = row[subject]
        cells = [f"{row[name]:.3f}" for name in names]
        ratios = ", ".join(f"{name} {row[name] / ours:.2f}x" for name in names if name != subject)
        lines.append(f"| {int(n):,} | " + " | ".join(cells) + f" | {ratios} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run (well under a minute)")
    parser.add_argument("--json", type=Path, help="also write every figure to this JSON file")
    parser.add_argument("--only", choices=SUITES, action="append", help="run only this suite (repeatable; default: all)")
    args = parser.parse_args(argv)
    suites = args.only or list(SUITES)
    if args.quick:
        sizes, ops, repeat, memory_n, polls = [1_000, 10_000], 20_000, 1, 20_000, 20_000
        dispatch: dict[str, Any] = {
            "waiting": 3_000, "points": [(4, 10), (16, 100)], "cycles": 1_200, "repeat": 3, "anchor_budget": 0.1, "shift": (100, 16, 3_000),
        }
    else:
        sizes, ops, repeat, memory_n, polls = [1_000, 10_000, 100_000, 1_000_000], 200_000, 3, 1_000_000, 100_000
        dispatch = {
            "waiting": 100_000,
            "points": [(groups, agents) for groups in (1, 4, 16, 64, 256) for agents in (10, 100, 1_000, 5_000)],
            "cycles": 12_000,
            "repeat": 3,
            "anchor_budget": 1.5,
            "shift": (1_000, 16, 50_000),
        }
    started = time.time()
    report: dict[str, Any] = {
        "machine": {"python": sys.version.split()[0], "implementation": platform.python_implementation(), "platform": platform.platform(), "processor": platform.machine()},
        "commit": _commit(),
        "quick": args.quick,
    }
    print(f"Benchmarks ({'quick' if args.quick else 'full'} run): {', '.join(suites)}")
    if "heap" in suites:
        print("IndexedHeap vs anchors")
        report["heap"] = bench_heap.run(sizes, ops, repeat, memory_n)
    if "queue" in suites:
        print("TicketQueue end to end")
        report["queue"] = bench_queue.run(sizes, ops, repeat, memory_n, polls)
    if "dispatch" in suites:
        print(f"Dispatcher cycle at {dispatch['waiting']:,} waiting, and assign_all at a shift start")
        report["dispatch"] = bench_dispatch.run(**dispatch)
    report["seconds"] = round(time.time() - started, 1)

    lines = ["", f"Python {report['machine']['python']} on {report['machine']['platform']}, commit {report['commit']}", ""]
    if "heap" in report:
        lines += _ratio_table("IndexedHeap mixed workload, us/op (lower is better)", report["heap"]["sizes"], "IndexedHeap")
        lines += ["", f"Memory per entry at n={memory_n:,} (bytes beyond keys and priorities):", ""]
        lines += [f"- {name}: {value:.1f} B" for name, value in report["heap"]["memory_bytes_per_entry"].items()]
        lines.append("")
    if "queue" in report:
        lines += ["### TicketQueue, us/op", "", "| n | TicketQueue | heapq tuple push/pop | ratio |", "|---|---|---|---|"]
        for n, row in report["queue"]["sizes"].items():
            lines.append(f"| {int(n):,} | {row['TicketQueue']:.2f} | {row['heapq tuple push/pop']:.3f} | {row['TicketQueue'] / row['heapq tuple push/pop']:.1f}x |")
        lines.append("")
    if "dispatch" in report:
        lines += bench_dispatch.markdown(report["dispatch"])
    print("\n".join(lines))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
