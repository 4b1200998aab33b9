"""Replay a day through one or more routing policies and compare them.

The day is a recorded trace (--trace day.csv or .jsonl) or a synthetic
scenario (--scenario NAME, default helpdesk-day; --list-scenarios shows
them).  Staff: --staff staff.toml, else the scenario's own roster; a trace
records no staff, so without --staff it is worked by a default roster of
generalists sized for 85 % occupancy (a first look only).

Every policy (--policy, then each --compare) runs on the very same
arrivals.  DIR receives report.md (side by side, per class, tier and
severity), results.json and PNG plots (waits per class, queue length).

examples:
  python -m triage_queue simulate --policy examples/policies/vip-first.toml \\
      --compare examples/policies/fifo-sla.toml --scenario surge --out out/surge
  python -m triage_queue simulate --policy examples/policies/vip-first.toml \\
      --trace examples/traces/example-day.csv --staff examples/staff/helpdesk.toml --out out/trace

Policy files with kind = "python" rules import and run the code they name:
they are refused unless --allow-code is given.  Input files are bounded
(sizes, team sizes, agents, tickets, hours): see docs/limits.md.

exit status: 0 done, 2 bad arguments or input file (one-line message).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from triage_queue.errors import TriageError

__all__ = ["add_arguments", "main", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the ``simulate`` options on ``parser``.  Runtime complexity: O(1).

    >>> parser = argparse.ArgumentParser()
    >>> add_arguments(parser)
    >>> parser.parse_args(["--policy", "p.toml", "--out", "o"]).scenario is None
    True
    """
    parser.add_argument("--policy", metavar="FILE", help="the policy TOML file to simulate (see docs/policies.md)")
    parser.add_argument(
        "--allow-code", action="store_true",
        help='let policy files import and run the Python code their kind = "python" rules name (trusted files only)',
    )
    parser.add_argument(
        "--compare", metavar="FILE", action="append", default=[], nargs="+",
        help="other policy files to run on the same day (repeatable)",
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--trace", metavar="FILE", help="a recorded day: CSV or JSON Lines (see docs/simulation.md)")
    source.add_argument("--scenario", metavar="NAME", help="a synthetic day (default helpdesk-day)")
    parser.add_argument("--trace-format", choices=("csv", "jsonl"), help="the trace's format when its extension does not say")
    parser.add_argument("--staff", metavar="FILE", help="a staff TOML file: teams or agents with skills, capacities, shifts")
    parser.add_argument("--out", metavar="DIR", help="directory for report.md, results.json and plots")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic scenario (default 0)")
    parser.add_argument("--scale", type=float, default=1.0, help="scenario size factor: arrival rates and team sizes (default 1)")
    parser.add_argument(
        "--save-trace", metavar="FILE", help="also write the day's arrivals as a trace (alone: write it and stop)"
    )
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors")
    parser.add_argument("--list-scenarios", action="store_true", help="list the synthetic scenarios and exit")


class _Usage(Exception):
    """A missing or contradictory command-line option."""


def _unique_labels(names: Sequence[str]) -> list[str]:
    # The same policy twice reads "x" and "x (2)"; a suffix another policy's
    # own name already has ("a (2)") is skipped, so labels never collide.
    taken = set(names)
    used: set[str] = set()
    labels = []
    for name in names:
        label, n = name, 1
        while label in used or (label != name and label in taken):
            n += 1
            label = f"{name} ({n})"
        used.add(label)
        labels.append(label)
    return labels


def run(args: argparse.Namespace, *, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """Run ``simulate`` with parsed ``args``; return the exit status (0, or
    2 with a one-line message on ``stderr`` for a bad argument or file).

    Runtime complexity: the simulations, O(p * E log E) for p policies
    and E events.

    >>> parser = argparse.ArgumentParser()
    >>> add_arguments(parser)
    >>> run(parser.parse_args(["--list-scenarios"]), stdout=sys.stdout)  # doctest: +ELLIPSIS
    helpdesk-day  08:00-18:00: ...
    mmc           M/M/c: ...
    surge         helpdesk-day plus an incident ...
    0
    """
    out = stdout if stdout is not None else sys.stdout
    err = stderr if stderr is not None else sys.stderr
    # The error line says what the library's warnings would say again; with
    # no handler of the caller's, Python would print them to stderr as well.
    library_log = logging.getLogger("triage_queue")
    if not library_log.hasHandlers():
        library_log.addHandler(logging.NullHandler())
    try:
        return _run(args, out)
    except (TriageError, _Usage) as exc:
        print(f"simulate: error: {_one_line(str(exc))}", file=err)
        return 2
    except OSError as exc:
        target = f" {exc.filename}" if exc.filename else ""
        print(f"simulate: error: cannot write{target}: {_one_line(str(exc.strerror or exc))}", file=err)
        return 2


_LONGEST_MESSAGE = 1000


def _one_line(message: str) -> str:
    """The message on one line of at most _LONGEST_MESSAGE characters."""
    flat = " ".join(message.splitlines())
    if len(flat) > _LONGEST_MESSAGE:
        flat = flat[: _LONGEST_MESSAGE - 25] + f"... ({len(flat)} characters)"
    return flat


def _run(args: argparse.Namespace, out: TextIO) -> int:
    from triage_queue._progress import Progress
    from triage_queue.config import load_policy
    from triage_queue.sim.engine import compare
    from triage_queue.sim.generate import default_staff
    from triage_queue.sim.model import Day, InvalidSimulation
    from triage_queue.sim.report import summary_text, write_report
    from triage_queue.sim.scenarios import SCENARIOS, scenario
    from triage_queue.sim.trace import load_staff, read_trace, write_trace

    if args.list_scenarios:
        width = max(len(name) for name in SCENARIOS)
        for name in sorted(SCENARIOS):
            print(f"{name:<{width}}  {SCENARIOS[name].description}", file=out)
        return 0
    if not args.policy and not args.save_trace:
        raise _Usage("--policy FILE is required (the policy TOML file to simulate)")
    if args.policy and not args.out:
        raise _Usage("--out DIR is required (the directory for the report)")
    if args.out and Path(args.out).exists() and not Path(args.out).is_dir():
        raise _Usage(f"--out {args.out}: exists and is not a directory")

    policy_paths = [args.policy] + [p for group in args.compare for p in group] if args.policy else []
    policies = []
    for path in policy_paths:
        try:
            policies.append(load_policy(path, allow_code=getattr(args, "allow_code", False)))
        except TriageError as exc:
            # The policy reader names the key; say which file it is in when the message does not.
            if path in str(exc):
                raise
            raise InvalidSimulation("--policy", path, str(exc)) from None

    staff = load_staff(args.staff) if args.staff else None
    notes: list[str] = []
    if args.trace:
        day = read_trace(args.trace, format=args.trace_format, staff=staff or ())
        description = f"Trace `{args.trace}`"
        if staff is None:
            day = Day(day.arrivals, default_staff(day.arrivals), name=day.name, end=day.end)
            notes.append(
                f"No --staff given: {len(day.staff)} generalist agents (every skill, one ticket at a time, on duty "
                "throughout) sized for 85 % occupancy."
            )
    else:
        chosen = scenario(args.scenario or "helpdesk-day")
        day = chosen.day(args.seed, args.scale)
        description = f"Scenario `{chosen.name}` (seed {args.seed}, scale {args.scale:g}): {chosen.description}"
        if staff is not None:
            day = Day(day.arrivals, staff, name=day.name, end=day.end)
    if staff is not None:
        notes.append(f"Staff from `{args.staff}`: {len(staff)} agents.")
    if args.save_trace:
        write_trace(day, args.save_trace)
        if not policies:
            if not args.quiet:
                print(f"trace: {args.save_trace} ({len(day.arrivals)} tickets)", file=out)
            return 0

    progress = Progress(enabled=not args.quiet)
    labels = _unique_labels([p.name for p in policies])
    progress.note(f"simulating {len(day.arrivals)} tickets, {len(day.staff)} agents, {len(policies)} policies")
    results = compare(day, policies, names=labels, progress=progress)
    written = write_report(results, args.out, day=day, plots=not args.no_plots, description=description, notes=notes)
    if not args.quiet:
        print(summary_text(results), file=out)
        for note in notes:
            print(note, file=out)
        print(f"report: {written['report']}", file=out)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``simulate`` as a stand-alone command (for tests and scripts).
    Runtime complexity: as :func:`run`.

    >>> main(["--policy", "no/such.toml", "--out", "x"])
    2
    """
    parser = argparse.ArgumentParser(prog="python -m triage_queue simulate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    return run(parser.parse_args(None if argv is None else list(argv)))
