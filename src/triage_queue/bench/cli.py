"""Placeholder: `python -m triage_queue bench` is being built."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare this subcommand's options on parser."""


def run(args: argparse.Namespace) -> int:
    """Run the subcommand; return the process exit status."""
    raise SystemExit("not built yet")
