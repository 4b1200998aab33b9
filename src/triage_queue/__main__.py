"""Command line: ``python -m triage_queue demo | bench | simulate | board | staff | desk | log``.

Each subcommand lives in its own module; they are imported only when the
command line is parsed, and they import their optional extras (plots,
progress bars, benchmark anchors) only when they run.
"""

from __future__ import annotations

import argparse
import sys

from triage_queue import _board_cli as board_cli
from triage_queue import _demo, staffing_cli
from triage_queue.bench import cli as bench_cli
from triage_queue.shared import cli as desk_cli
from triage_queue.sim import cli as sim_cli


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m triage_queue",
        description="triage-queue: decide which support ticket is handled next, and by whom.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("demo", help="serve a small, realistic morning of tickets and explain every decision")
    bench_cli.add_arguments(
        commands.add_parser(
            "bench",
            help="run the benchmark suite against heapq, pqdict, heapdict, sortedcontainers and queue.PriorityQueue",
            description=bench_cli.__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
    )
    sim_cli.add_arguments(
        commands.add_parser(
            "simulate",
            help="replay a day (a trace or a synthetic scenario) through one or more policies and report waits and SLAs",
            description=sim_cli.__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
    )
    board_cli.add_arguments(
        commands.add_parser(
            "board",
            help="serve a live web board of a desk (--demo: a simulated desk you can watch move)",
            description=board_cli.__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
    )
    staffing_cli.add_arguments(
        commands.add_parser(
            "staff",
            help="how many agents each interval of a forecast needs for a service level (Erlang C / Erlang A)",
            description=staffing_cli.__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
    )
    desk_cli.add_arguments(
        commands.add_parser(
            "desk",
            help="run a replica of a shared desk as a service (the desk server thin clients rely on)",
            description=desk_cli.__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
    )
    desk_cli.add_log_arguments(
        commands.add_parser("log", help="work with a shared desk's log: export it as a simulator trace")
    )
    args = parser.parse_args(argv)
    try:
        if args.command == "demo":
            _demo.run()
            return 0
        if args.command == "bench":
            return bench_cli.run(args)
        if args.command == "board":
            return board_cli.run(args)
        if args.command == "staff":
            return staffing_cli.run(args)
        if args.command == "desk":
            return desk_cli.run(args)
        if args.command == "log":
            return desk_cli.run_log(args)
        return sim_cli.run(args)
    except BrokenPipeError:
        # Output piped into `head` or a closed pager: not an error.
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
