"""Command line: ``python -m triage_queue demo | bench | simulate | board | staff | desk | log``.

Each subcommand lives in its own module; they are imported only when the
command line is parsed, and they import their optional extras (plots,
progress bars, benchmark anchors) only when they run.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from triage_queue import _board_cli as board_cli
from triage_queue import _demo, staffing_cli
from triage_queue.bench import cli as bench_cli
from triage_queue.shared import cli as desk_cli
from triage_queue.sim import cli as sim_cli

# name, help, how its options are declared, what runs it, its long description.
_COMMANDS: list[tuple[str, str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int], str | None]] = [
    ("bench", "run the benchmark suite against heapq, pqdict, heapdict, sortedcontainers and queue.PriorityQueue",
     bench_cli.add_arguments, bench_cli.run, bench_cli.__doc__),
    ("simulate", "replay a day (a trace or a synthetic scenario) through one or more policies and report waits and SLAs",
     sim_cli.add_arguments, sim_cli.run, sim_cli.__doc__),
    ("board", "serve a live web board of a desk (--demo: a simulated desk you can watch move)",
     board_cli.add_arguments, board_cli.run, board_cli.__doc__),
    ("staff", "how many agents each interval of a forecast needs for a service level (Erlang C / Erlang A)",
     staffing_cli.add_arguments, staffing_cli.run, staffing_cli.__doc__),
    ("desk", "run a replica of a shared desk as a service (the desk server thin clients rely on)",
     desk_cli.add_arguments, desk_cli.run, desk_cli.__doc__),
    ("log", "work with a shared desk's log: export it as a simulator trace",
     desk_cli.add_log_arguments, desk_cli.run_log, None),
]  # fmt: skip


def _demo_command(args: argparse.Namespace) -> int:
    _demo.run()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m triage_queue",
        description="triage-queue: decide which support ticket is handled next, and by whom.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="serve a small, realistic morning of tickets and explain every decision")
    demo.set_defaults(run=_demo_command)
    for name, help_text, add_arguments, run, description in _COMMANDS:
        if description is None:
            sub = commands.add_parser(name, help=help_text)
        else:
            sub = commands.add_parser(
                name, help=help_text, description=description, formatter_class=argparse.RawDescriptionHelpFormatter
            )
        add_arguments(sub)
        sub.set_defaults(run=run)
    args = parser.parse_args(argv)
    try:
        result: int = args.run(args)
        return result
    except BrokenPipeError:
        # Output piped into `head` or a closed pager: not an error.
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
