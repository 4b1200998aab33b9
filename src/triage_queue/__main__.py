"""Command line: ``python -m triage_queue demo``."""

from __future__ import annotations

import argparse
import sys

from triage_queue._demo import run as run_demo


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m triage_queue",
        description="triage-queue: decide which support ticket is handled next, and by whom.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("demo", help="serve a small, realistic morning of tickets and explain every decision")
    args = parser.parse_args(argv)
    if args.command == "demo":
        try:
            run_demo()
        except BrokenPipeError:
            # Output piped into `head` or a closed pager: not an error.
            sys.stderr.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
