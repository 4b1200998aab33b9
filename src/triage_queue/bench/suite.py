"""What every benchmark scenario provides, so the runner can treat them alike.

A scenario is a module with:

- ``NAME``: short identifier, the key of its section in the JSON report;
- ``TITLE``: one line for humans;
- ``params(quick: bool) -> dict``: the sizes it runs at (``quick`` must keep
  the whole suite under a minute);
- ``run(params: dict, progress: Progress) -> dict``: measures, comparing
  with its anchors in the same run, and returns JSON-ready figures (the
  params it ran with included);
- ``markdown(result: dict) -> list[str]``: the summary table lines;
- ``plots(result: dict, out_dir: Path) -> list[Path]``: PNG files written
  (import matplotlib inside; return ``[]`` if it is not installed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from triage_queue._progress import Progress

__all__ = ["Scenario"]


class Scenario(Protocol):
    """The shape of a scenario module (see the module docstring)."""

    NAME: str
    TITLE: str

    def params(self, quick: bool) -> dict[str, Any]: ...

    def run(self, params: dict[str, Any], progress: Progress) -> dict[str, Any]: ...

    def markdown(self, result: dict[str, Any]) -> list[str]: ...

    def plots(self, result: dict[str, Any], out_dir: Path) -> list[Path]: ...
