"""Old entry point, kept so that earlier instructions still work:
``python benchmarks/run.py [--quick] [--only SUITE] [--json FILE]`` runs
``python -m triage_queue bench`` with the same options (``--json FILE`` also
copies the run's results.json to FILE).

The suite itself lives in the package (``triage_queue.bench``) so that it
runs from an installed wheel; this folder keeps only long-running scripts
that are not part of it.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path


def translate(argv: list[str]) -> tuple[list[str], Path | None]:
    """The new command line for the old one, and where to copy results.json."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run (well under a minute)")
    parser.add_argument("--json", type=Path, help="also copy every figure (results.json) to this file")
    parser.add_argument("--only", action="append", default=[], help="run only this scenario (repeatable; default: all)")
    parser.add_argument("--out", type=Path, help="output folder (default: bench-results/<UTC timestamp>)")
    args = parser.parse_args(argv)
    new = ["bench"] + (["--quick"] if args.quick else [])
    for name in args.only:
        new += ["--only", name]
    out = args.out
    if out is None and args.json is not None:
        out = args.json.parent / f"bench-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}"
    if out is not None:
        new += ["--out", str(out)]
    return new, args.json


def main(argv: list[str] | None = None) -> int:
    from triage_queue.__main__ import main as triage_main

    new, copy_to = translate(sys.argv[1:] if argv is None else argv)
    status = triage_main(new)
    if copy_to is not None:
        out = Path(new[new.index("--out") + 1])
        shutil.copyfile(out / "results.json", copy_to)
        print(f"copied results.json to {copy_to}", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
