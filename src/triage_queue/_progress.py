"""Progress reporting for long runs (the benchmark suite and the simulator).

A :class:`Progress` shows a bar from ``tqdm`` when that optional extra is
installed and the output is a terminal, one line per task otherwise, and
nothing at all when made with ``enabled=False`` (tests, ``--quiet``).
Measured code calls :meth:`Progress.task` around a unit of work and
:meth:`Task.advance` as it goes; both cost O(1).

>>> progress = Progress(enabled=False)
>>> with progress.task("pushing", total=3) as task:
...     for _ in range(3):
...         task.advance()
>>> task.done
3
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

__all__ = ["Progress", "Task"]


class Task:
    """One unit of work being counted.  Runtime complexity: O(1) per call."""

    __slots__ = ("_bar", "description", "done", "total")

    def __init__(self, description: str, total: int | None, bar: Any) -> None:
        self.description = description
        self.total = total
        self.done = 0
        self._bar = bar

    def advance(self, n: int = 1) -> None:
        """Count ``n`` more steps done.  Runtime complexity: O(1)."""
        self.done += n
        if self._bar is not None:
            self._bar.update(n)


class Progress:
    """Where progress goes: a tqdm bar, plain lines on ``stream``, or nowhere.

    Runtime complexity: O(1) per call.
    """

    def __init__(self, *, enabled: bool = True, stream: TextIO | None = None, bars: bool | None = None) -> None:
        self.enabled = enabled
        self.stream = stream if stream is not None else sys.stderr
        if bars is None:
            bars = enabled and getattr(self.stream, "isatty", lambda: False)()
        self._tqdm: Any = None
        if enabled and bars:
            try:
                from tqdm import tqdm  # optional extra: never needed by the core

                self._tqdm = tqdm
            except ImportError:
                self._tqdm = None

    def note(self, text: str) -> None:
        """Print one line of commentary (nothing when disabled).  O(1)."""
        if self.enabled:
            print(text, file=self.stream, flush=True)

    @contextmanager
    def task(self, description: str, total: int | None = None) -> Iterator[Task]:
        """Count the steps of one piece of work; on exit report its time.

        Runtime complexity: O(1) to open and close.
        """
        bar = None
        if self.enabled and self._tqdm is not None:
            bar = self._tqdm(total=total, desc=description, file=self.stream, leave=False, unit="step")
        task = Task(description, total, bar)
        started = time.perf_counter()
        try:
            yield task
        finally:
            if bar is not None:
                bar.close()
            if self.enabled:
                seconds = time.perf_counter() - started
                print(f"  {description}: {seconds:.1f} s", file=self.stream, flush=True)
