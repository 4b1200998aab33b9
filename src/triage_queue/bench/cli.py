"""Run the benchmark suite: ``python -m triage_queue bench [--quick] [--only NAME] [--out DIR]``.

Scenarios, each compared with its anchors in the same run:

  heap      IndexedHeap vs pqdict, heapdict, SortedList+dict, the heapq recipe
  queue     TicketQueue end to end (push, update, skill-aware pop), position()
  scale     per-call cost, its tail with GC on and frozen, memory per ticket
  dispatch  the Dispatcher's cycle over skill groups and agents; assign_all
  lifecycle a ticket's lifecycle in the Dispatcher vs a minimal hand-written desk; restore
  load      a contact centre under load on threads, vs queue.PriorityQueue
  asyncio   wake-up latency of thousands of agent coroutines awaiting work
  simulator the contact-centre simulator vs SimPy
  shared    the shared desk's log: append and read on Redis Streams and SQLite

Writes DIR/results.json (machine, Python, commit, parameters, every figure,
wall time per scenario), DIR/summary.md (tables with ratios to the anchors)
and PNG plots (with matplotlib).  Install the anchors and plotting with
``pip install 'triage-queue[bench]'``.  ``--quick`` runs everything at small
sizes in under a minute; the full run takes a while (see docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import platform
import subprocess
import sys
import time
import traceback
from pathlib import Path
from types import ModuleType
from typing import Any

from triage_queue._progress import Progress
from triage_queue.bench.suite import Scenario, pyplot

__all__ = ["MODULES", "add_arguments", "brief", "commit", "discover", "machine", "run", "run_suite", "summary", "targets"]

# In the order they run: the data structures first, threads and the simulator last.
MODULES = (
    "heap_suite",
    "queue_suite",
    "scale_suite",
    "dispatch_suite",
    "lifecycle_suite",
    "load_suite",
    "aio_suite",
    "sim_suite",
    "shared_suite",
)
_SHAPE = ("NAME", "TITLE", "params", "run", "markdown", "plots")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare this subcommand's options on parser.  O(1).

    >>> parser = argparse.ArgumentParser()
    >>> add_arguments(parser)
    >>> args = parser.parse_args(["--quick", "--only", "heap", "--only", "scale"])
    >>> args.quick, args.only, args.plots
    (True, ['heap', 'scale'], True)
    """
    parser.add_argument("--quick", action="store_true", help="small sizes: the whole suite in under a minute (a smoke run)")
    parser.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help="run only this scenario (repeatable): heap, queue, scale, dispatch, lifecycle, load, asyncio, simulator, shared",
    )
    parser.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="folder for results.json, summary.md and the plots (default: bench-results/<UTC timestamp>)",
    )
    parser.add_argument("--no-plots", dest="plots", action="store_false", help="do not draw PNG plots")
    parser.add_argument("--quiet", action="store_true", help="no progress and no tables on the terminal")
    parser.add_argument(
        "--full-summary",
        action="store_true",
        help="with --quick, print the whole markdown summary instead of the table of targets",
    )


def discover(progress: Progress | None = None) -> dict[str, ModuleType]:
    """Scenario NAME -> module, for every scenario module of the package
    present; one that does not exist, or does not have the scenario shape
    (see :mod:`triage_queue.bench.suite`), is left out with a note.  O(modules).

    >>> {"heap", "queue", "scale", "dispatch"} <= set(discover())
    True
    """
    found: dict[str, ModuleType] = {}
    for stem in MODULES:
        qualified = f"triage_queue.bench.{stem}"
        try:
            module = importlib.import_module(qualified)
        except ModuleNotFoundError as error:
            if error.name != qualified:
                raise
            if progress is not None:
                progress.note(f"  {stem}: not in this build, skipped")
            continue
        if not all(hasattr(module, attribute) for attribute in _SHAPE):
            if progress is not None:
                progress.note(f"  {stem}: not a complete scenario yet, skipped")
            continue
        found[module.NAME] = module
    return found


class _Usage(Exception):
    """A misspelt option value: a usage error (exit status 2, one line)."""


def _select(available: dict[str, ModuleType], wanted: list[str] | None) -> dict[str, ModuleType]:
    """The scenarios asked for, by NAME or module stem (``sim`` for ``sim_suite``)."""
    if not wanted:
        return dict(available)
    stems = {module.__name__.rsplit(".", 1)[-1].removesuffix("_suite"): name for name, module in available.items()}
    chosen: dict[str, ModuleType] = {}
    for word in wanted:
        name = word if word in available else stems.get(word)
        if name is None:
            known = ", ".join(available)
            raise _Usage(f"unknown scenario {word!r} for --only; available: {known}")
        chosen[name] = available[name]
    return {name: module for name, module in available.items() if name in chosen}


def commit() -> dict[str, Any]:
    """The git commit of the source measured (``"unknown"`` outside a clone)
    and whether the working tree had local changes.  O(1) processes.

    >>> sorted(commit())
    ['commit', 'dirty']
    """
    here = Path(__file__).resolve().parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True, cwd=here, timeout=10
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            check=False,
            capture_output=True,
            text=True,
            cwd=here,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return {"commit": "unknown", "dirty": None}
    return {"commit": head or "unknown", "dirty": bool(changed.stdout.strip())}


def machine() -> dict[str, Any]:
    """Python version and implementation, platform, processor and CPU count.  O(1).

    >>> machine()["python"] == platform.python_version()
    True
    """
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "processor": platform.machine(),
        "cpu_count": os.cpu_count(),
    }


def _finite(value: Any, path: str, bad: list[str]) -> Any:
    """``value`` with every NaN or infinity replaced by None (JSON has
    neither); the paths of those replaced are appended to ``bad``."""
    if isinstance(value, float) and not math.isfinite(value):
        bad.append(path)
        return None
    if isinstance(value, dict):
        return {str(key): _finite(item, f"{path}.{key}", bad) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item, f"{path}[{i}]", bad) for i, item in enumerate(value)]
    return value


def run_suite(scenarios: dict[str, ModuleType], *, quick: bool, out_dir: Path, plots: bool, progress: Progress) -> dict[str, Any]:
    """Run ``scenarios`` in order, write results.json, summary.md and the
    plots into ``out_dir``; return the report.  A scenario that raises is
    recorded under ``errors`` and the others still run.  O(sum of the
    scenarios' own costs).

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     report = run_suite({}, quick=True, out_dir=Path(tmp), plots=False, progress=Progress(enabled=False))
    ...     sorted(p.name for p in Path(tmp).iterdir())
    ['results.json', 'summary.md']
    >>> report["scenarios"], report["errors"]
    ({}, {})
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    report: dict[str, Any] = {
        "suite": "triage-queue benchmarks",
        "version": _version(),
        "quick": quick,
        "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine(),
        **commit(),
        "scenarios": {},
        "errors": {},
        "plots": [],
    }
    for index, (name, module) in enumerate(scenarios.items(), start=1):
        scenario: Scenario = module
        params = scenario.params(quick)
        progress.note(f"[{index}/{len(scenarios)}] {name}: {scenario.TITLE}")
        begun = time.perf_counter()
        try:
            result = scenario.run(params, progress)
        except Exception:  # one broken scenario must not lose the others' figures
            report["errors"][name] = traceback.format_exc()
            progress.note(f"  {name} FAILED:\n{report['errors'][name]}")
            continue
        report["scenarios"][name] = {
            "title": scenario.TITLE,
            "params": params,
            "wall_seconds": time.perf_counter() - begun,
            "result": result,
            "plots": [],
        }
    if plots and report["scenarios"]:
        if pyplot() is None:
            report["plots_skipped"] = "matplotlib is not installed (pip install 'triage-queue[bench]')"
            progress.note(f"  no plots: {report['plots_skipped']}")
        else:
            for name in report["scenarios"]:
                scenario = scenarios[name]
                try:
                    written = scenario.plots(report["scenarios"][name]["result"], out_dir)
                except Exception:
                    report["errors"][f"{name} plots"] = traceback.format_exc()
                    continue
                report["scenarios"][name]["plots"] = [path.name for path in written]
                report["plots"] += [path.name for path in written]
    report["wall_seconds"] = time.perf_counter() - started
    non_finite: list[str] = []
    report = _finite(report, "report", non_finite)
    report["non_finite"] = non_finite
    (out_dir / "results.json").write_text(json.dumps(report, indent=2) + "\n")
    (out_dir / "summary.md").write_text("\n".join(summary(report, scenarios)) + "\n")
    return report


def _version() -> str:
    from triage_queue import __version__

    return __version__


def summary(report: dict[str, Any], scenarios: dict[str, ModuleType]) -> list[str]:
    """The markdown summary of a report: the run's context, then each
    scenario's tables and plots.  O(size of the report).

    >>> report = {"quick": True, "machine": machine(), "commit": "abc1234", "dirty": False, "started_utc": "now",
    ...           "scenarios": {}, "errors": {"x": "boom"}, "plots": [], "wall_seconds": 1.0, "non_finite": []}
    >>> summary(report, {})[0]
    '# triage-queue benchmarks (quick run)'
    """
    info = report["machine"]
    dirty = " (with local changes)" if report.get("dirty") else ""
    lines = [
        f"# triage-queue benchmarks ({'quick' if report['quick'] else 'full'} run)",
        "",
        f"{info['implementation']} {info['python']} on {info['platform']} ({info['processor']}, {info['cpu_count']} CPUs),"
        f" commit `{report['commit']}`{dirty}, started {report['started_utc']}, {report['wall_seconds']:.0f} s in all.",
        "Every figure is compared with anchors measured in the same run;"
        " ratios hold across machines better than absolute figures.",
        "",
        "| scenario | wall time |",
        "|---|---|",
    ]
    lines += [f"| {name} | {entry['wall_seconds']:.1f} s |" for name, entry in report["scenarios"].items()]
    lines += [f"| {name} | FAILED |" for name in report["errors"]]
    rows = targets(report)
    if rows:
        lines += ["", "## Targets", "", "| scenario | target | measured | met |", "|---|---|---|---|"]
        lines += [f"| {row[0]} | {row[1]} | {row[2]} | {_VERDICT[row[3]]} |" for row in rows]
    for name, entry in report["scenarios"].items():
        lines += ["", f"## {entry['title']}", ""]
        module: Scenario = scenarios[name]
        lines += module.markdown(entry["result"])
        if entry.get("plots"):
            lines += ["", *(f"![{plot}]({plot})" for plot in entry["plots"])]
    if report["errors"]:
        lines += ["", "## Errors", ""]
        for name, text in report["errors"].items():
            lines += [f"### {name}", "", "```", text.rstrip(), "```", ""]
    if report.get("plots_skipped"):
        lines += ["", f"No plots: {report['plots_skipped']}."]
    if report["non_finite"]:
        lines += ["", "Figures that were not finite (written as null): " + ", ".join(report["non_finite"])]
    return lines


_VERDICT = {True: "met", False: "MISSED", None: "n/a"}


def _largest(table: dict[str, Any]) -> tuple[str, Any]:
    """The entry of a size-keyed table (keys are sizes as text) at the largest size."""
    key = max(table, key=int)
    return key, table[key]


def _heap_targets(result: dict[str, Any]) -> list[tuple[str, str, bool | None]]:
    n, row = _largest(result["sizes"])
    ratios = row["ratio_to_IndexedHeap"]  # anchor time / IndexedHeap time
    rows: list[tuple[str, str, bool | None]] = []
    if "pqdict" in ratios:
        rows.append((f"IndexedHeap >= 2x faster than pqdict (n={int(n):,})", f"{ratios['pqdict']:.2f}x", ratios["pqdict"] >= 2))
    if "heapq recipe" in ratios:
        mine = 1 / ratios["heapq recipe"]
        rows.append((f"IndexedHeap <= 1.25x the heapq recipe's time (n={int(n):,})", f"{mine:.2f}x", mine <= 1.25))
    overhead = result.get("memory_bytes_per_entry", {}).get("IndexedHeap")
    if overhead is not None:
        rows.append(("index overhead <= 150 B per entry", f"{overhead:.0f} B ({overhead / 150:.2f}x)", overhead <= 150))
    return rows


def _queue_targets(result: dict[str, Any]) -> list[tuple[str, str, bool | None]]:
    rows: list[tuple[str, str, bool | None]] = []
    for n, layouts in result.get("push_pop", {}).items():
        for layout, figures in layouts.items():
            ratio = figures["ratio"]
            rows.append((f"push + pop <= 3x bare heapq ({layout}, n={int(n):,})", f"{ratio:.2f}x", ratio <= 3))
    return rows


def _scale_targets(result: dict[str, Any]) -> list[tuple[str, str, bool | None]]:
    n, row = _largest(result["sizes"])
    total, goal = row["memory_bytes_per_ticket"]["total"], result["memory_target_bytes"]
    return [(f"memory per waiting ticket <= {goal:.0f} B (n={int(n):,})", f"{total:.0f} B ({total / goal:.2f}x)", total <= goal)]


def _load_targets(result: dict[str, Any]) -> list[tuple[str, str, bool | None]]:
    rows: list[tuple[str, str, bool | None]] = []
    for name, entry in result.get("targets", {}).items():
        if entry.get("target") is None:
            continue
        goal = entry["target"]
        ratio = f" ({entry['value'] / goal:.2f}x the goal)" if goal else ""
        rows.append((f"{name}: goal {goal:g}", f"{entry['value']:.3g}{ratio}", entry["met"]))
    return rows


def _lifecycle_targets(result: dict[str, Any]) -> list[tuple[str, str, bool | None]]:
    n, row = _largest(result["sizes"])
    rows: list[tuple[str, str, bool | None]] = []
    for name, goal in result.get("targets", {}).items():
        ratio = row["ratios"][name]
        rows.append((f"{name.replace('_vs_', ' / ')} <= {goal:g}x ({int(n):,} waiting)", f"{ratio:.2f}x", ratio <= goal))
    restore = result.get("restore")
    if restore and restore.get("seconds") is not None:
        goal = restore["target_seconds"]
        size = f"{restore['waiting']:,} waiting, {restore['agents']:,} agents"
        seconds = f"{restore['seconds']:.2f} s"
        rows.append((f"restore <= {goal:g} s at 100,000 waiting, 1,000 agents ({size})", seconds, restore["met"]))
    return rows


def _simulator_targets(result: dict[str, Any]) -> list[tuple[str, str, bool | None]]:
    ratio = result["speed_ratio"]
    return [("simulator at least as fast as SimPy", f"{ratio:.2f}x", ratio >= 1)]


_TARGETS = {
    "heap": _heap_targets,
    "queue": _queue_targets,
    "scale": _scale_targets,
    "load": _load_targets,
    "lifecycle": _lifecycle_targets,
    "simulator": _simulator_targets,
}


def targets(report: dict[str, Any]) -> list[tuple[str, str, str, bool | None]]:
    """Every performance target the report's scenarios measured, as
    ``(scenario, target, measured, met)``; ``met`` is None where the run
    cannot say (the restore target at a quick run's smaller size).  A
    scenario whose figures are missing gives no rows.  O(size of the report).

    >>> report = {"scenarios": {"simulator": {"result": {"speed_ratio": 0.25}}}}
    >>> targets(report)
    [('simulator', 'simulator at least as fast as SimPy', '0.25x', False)]
    """
    rows: list[tuple[str, str, str, bool | None]] = []
    for name, entry in report["scenarios"].items():
        extract = _TARGETS.get(name)
        if extract is None:
            continue
        try:
            found = extract(entry["result"])
        except (KeyError, TypeError, ValueError, ZeroDivisionError):  # a figure missing or null: no verdict to give
            continue
        rows += [(name, target, measured, met) for target, measured, met in found]
    return rows


def brief(report: dict[str, Any]) -> list[str]:
    """The short terminal summary of a run: wall time per scenario, then one
    line per target, met, MISSED or n/a, with the measured ratio.  O(size of
    the report).

    >>> report = {"quick": True, "wall_seconds": 3.0, "errors": {},
    ...           "scenarios": {"simulator": {"wall_seconds": 2.0, "result": {"speed_ratio": 0.25}}}}
    >>> print("\\n".join(brief(report)))
    quick run, 3 s: simulator 2.0 s
    <BLANKLINE>
    scenario   target                               measured  verdict
    simulator  simulator at least as fast as SimPy  0.25x     MISSED
    <BLANKLINE>
    0 of 1 targets met (quick sizes: indicative only; the full run measures them).
    """
    times = ", ".join(f"{name} {entry['wall_seconds']:.1f} s" for name, entry in report["scenarios"].items())
    failed = "".join(f", {name} FAILED" for name in report["errors"])
    lines = [f"{'quick' if report['quick'] else 'full'} run, {report['wall_seconds']:.0f} s: {times}{failed}", ""]
    rows = [("scenario", "target", "measured", "verdict")]
    found = targets(report)
    rows += [(name, target, measured, _VERDICT[met]) for name, target, measured, met in found]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines += [
        "  ".join([*(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)), row[3]]).rstrip() for row in rows
    ]
    met = sum(1 for row in found if row[3] is True)
    note = " (quick sizes: indicative only; the full run measures them)" if report["quick"] else ""
    lines += ["", f"{met} of {len(found)} targets met{note}."]
    return lines


def run(args: argparse.Namespace) -> int:
    """Run the subcommand; return the process exit status: 0, 1 if a
    scenario failed, 2 for a usage error (an unknown ``--only`` scenario:
    one line on stderr, before anything runs).  O(the scenarios run).

    >>> import contextlib, io, tempfile
    >>> err = io.StringIO()
    >>> with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stderr(err):
    ...     run(argparse.Namespace(quick=True, only=["nothing"], out=Path(tmp), plots=False, quiet=True))
    2
    >>> print(err.getvalue(), end="")  # doctest: +ELLIPSIS
    bench: error: unknown scenario 'nothing' for --only; available: heap, queue, scale, ...
    """
    progress = Progress(enabled=not args.quiet)
    available = discover(progress)
    try:
        scenarios = _select(available, args.only)
    except _Usage as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 2
    out_dir = args.out if args.out is not None else Path("bench-results") / time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    progress.note(f"Benchmarks ({'quick' if args.quick else 'full'} run): {', '.join(scenarios)} -> {out_dir}")
    report = run_suite(scenarios, quick=args.quick, out_dir=out_dir, plots=args.plots, progress=progress)
    if not args.quiet:
        if args.quick and not getattr(args, "full_summary", False):
            print("\n".join(brief(report)))
        else:
            print((out_dir / "summary.md").read_text())
    print(f"wrote {out_dir / 'results.json'}, {out_dir / 'summary.md'} and {len(report['plots'])} plot(s)", file=sys.stderr)
    return 1 if report["errors"] else 0
