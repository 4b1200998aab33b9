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
  (import matplotlib inside, e.g. through :func:`pyplot`; return ``[]``
  if it is not installed).

Helpers shared by the scenarios: :func:`pyplot`, :func:`percentiles`,
:func:`log_reference` and :func:`loglog_plot`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Protocol

from triage_queue._progress import Progress

__all__ = ["Scenario", "log_reference", "loglog_plot", "percentiles", "pyplot"]


class Scenario(Protocol):
    """The shape of a scenario module (see the module docstring)."""

    NAME: str
    TITLE: str

    def params(self, quick: bool) -> dict[str, Any]: ...

    def run(self, params: dict[str, Any], progress: Progress) -> dict[str, Any]: ...

    def markdown(self, result: dict[str, Any]) -> list[str]: ...

    def plots(self, result: dict[str, Any], out_dir: Path) -> list[Path]: ...


def pyplot() -> Any | None:
    """``matplotlib.pyplot`` on the non-interactive ``Agg`` backend, or
    ``None`` when matplotlib (the ``bench`` extra) is not installed.  O(1)
    after the first import.

    >>> plt = pyplot()
    >>> plt is None or plt.get_backend().lower() == "agg"
    True
    """
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def percentiles(samples: list[float], points: tuple[float, ...] = (50.0, 99.0, 99.9)) -> dict[str, float]:
    """``{"p50": ..., "p99": ..., "p99.9": ..., "max": ...}`` of ``samples``
    (nearest rank).  O(s log s) for s samples.

    >>> percentiles([float(i) for i in range(1, 1001)])
    {'p50': 500.0, 'p99': 990.0, 'p99.9': 999.0, 'max': 1000.0}
    """
    ordered = sorted(samples)
    found = {}
    for point in points:
        # Rounded first: 99.9 / 100 * 1000 is 999.0000000000001 in floats.
        rank = max(1, math.ceil(round(point * len(ordered) / 100, 9)))
        found[f"p{point:g}"] = ordered[rank - 1]
    found["max"] = ordered[-1]
    return found


def log_reference(sizes: list[int], anchor: float) -> list[float]:
    """An O(log n) reference curve through ``anchor`` at ``sizes[0]``: what a
    cost growing with log n would be at each size.  O(len(sizes)).

    >>> [round(y, 2) for y in log_reference([1_000, 1_000_000], 1.0)]
    [1.0, 2.0]
    """
    base = math.log(sizes[0])
    return [anchor * math.log(n) / base for n in sizes]


def loglog_plot(
    path: Path,
    title: str,
    sizes: list[int],
    series: dict[str, list[float]],
    *,
    ylabel: str,
    reference: str | None = None,
    hline: tuple[str, float] | None = None,
) -> Path | None:
    """Write a log-log PNG of ``series`` (name -> one value per size) against
    ``sizes``, with an O(log n) reference through the first point of the
    series named ``reference`` and an optional horizontal target line; return
    the path, or ``None`` without matplotlib.  O(points).

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     written = loglog_plot(Path(tmp) / "t.png", "t", [10, 100], {"a": [1.0, 2.0]}, ylabel="us", reference="a")
    ...     written is None or written.stat().st_size > 0
    True
    """
    plt = pyplot()
    if plt is None:
        return None
    figure, axes = plt.subplots(figsize=(7, 4.5))
    for name, values in series.items():
        axes.plot(sizes, values, marker="o", label=name)
    if reference is not None and series.get(reference):
        axes.plot(
            sizes, log_reference(sizes, series[reference][0]), linestyle="--", color="grey", label=f"O(log n) from {reference}"
        )
    if hline is not None:
        axes.axhline(hline[1], linestyle=":", color="red", label=hline[0])
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("n (waiting)")
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
