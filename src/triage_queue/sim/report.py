"""Reports of simulation results: a markdown comparison, JSON figures and
PNG plots, as ``python -m triage_queue simulate`` writes them, usable from
Python too.

The markdown report puts the policies side by side, overall and per ticket
class, customer tier and severity: waits p50/p90/p99/max and mean,
SLA attainment and abandonment, then occupancy and fairness, and marks
which policy wins each figure (lower waits and abandonment, higher SLA
attainment and fairness; waits within half a second are a tie).

Plots need matplotlib (the ``sim`` extra); it is imported only when a plot
is drawn, with the non-interactive Agg backend.

>>> from triage_queue import Agent, FeedbackOrder, Policy, Ticket
>>> from triage_queue.sim.engine import compare
>>> from triage_queue.sim.model import Arrival, Day, Staff
>>> day = Day([Arrival(Ticket("T-1", 0.0), 60.0), Arrival(Ticket("T-2", 1.0), 60.0),
...            Arrival(Ticket("T-3", 2.0, severity="critical"), 60.0)], [Staff(Agent("ana"))])
>>> results = compare(day, [Policy.lexicographic(FeedbackOrder()), Policy.default()], names=["fifo", "default"])
>>> print(summary_text(results))
fifo: 3 tickets, wait p50 59 s, p90 1.97 min, max 1.97 min; SLA -; abandoned 0.0 %; occupancy 100.0 %
default: 3 tickets, wait p50 58 s, p90 1.98 min, max 1.98 min; SLA -; abandoned 0.0 %; occupancy 100.0 %
>>> "| wait p50 | 59 s | **58 s** | default |" in markdown_report(results)
True
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from triage_queue.sim.model import Day, InvalidSimulation
from triage_queue.sim.results import Figures, SimulationResult

__all__ = [
    "FIGURES",
    "format_seconds",
    "markdown_report",
    "plot_queue_length",
    "plot_waits",
    "results_json",
    "summary_text",
    "winner",
    "write_report",
]

# Waits closer than this are reported as a tie: nobody can tell them apart.
_WAIT_TIE = 0.5
_SHARE_TIE = 1e-9

FIGURES: tuple[tuple[str, str, Callable[[Figures], float | None], bool], ...] = (
    ("wait p50", "seconds", lambda f: f.wait_p50, False),
    ("wait p90", "seconds", lambda f: f.wait_p90, False),
    ("wait p99", "seconds", lambda f: f.wait_p99, False),
    ("wait max", "seconds", lambda f: f.wait_max, False),
    ("wait mean", "seconds", lambda f: f.wait_mean, False),
    ("SLA attainment", "share", lambda f: f.sla_attainment, True),
    ("abandonment", "share", lambda f: f.abandonment, False),
)
"""The figures compared per group: (label, unit, getter, higher is better)."""


def format_seconds(seconds: float | None) -> str:
    """A wait for people: ``42 s``, ``3.50 min``, ``1.25 h``; ``-`` for None.

    Runtime complexity: O(1).

    >>> format_seconds(42.4), format_seconds(210.0), format_seconds(4500.0), format_seconds(None)
    ('42 s', '3.50 min', '1.25 h', '-')
    """
    if seconds is None:
        return "-"
    if seconds < 100:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.2f} min"
    return f"{seconds / 3600:.2f} h"


def _clock(seconds: float) -> str:
    # Scenarios and timestamped traces count seconds from midnight; past 24:00 is the next day.
    minutes = int(seconds // 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _share(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f} %"


def _format(unit: str, value: float | None) -> str:
    return format_seconds(value) if unit == "seconds" else _share(value)


def winner(values: Sequence[float | None], *, higher_is_better: bool, tie: float = 0.0) -> int | None:
    """The index of the best value, or None when no value is given or the
    best two are within ``tie`` of each other.  None values never win.

    Runtime complexity: O(k log k) for k values.

    >>> winner([30.0, 12.0, 50.0], higher_is_better=False), winner([0.9, 0.95], higher_is_better=True)
    (1, 1)
    >>> winner([10.0, 10.2], higher_is_better=False, tie=0.5) is None
    True
    """
    ranked = sorted(
        ((v, i) for i, v in enumerate(values) if v is not None and not math.isnan(v)),
        key=lambda pair: -pair[0] if higher_is_better else pair[0],
    )
    if not ranked:
        return None
    if len(ranked) > 1 and abs(ranked[0][0] - ranked[1][0]) <= tie:
        return None
    if len(values) < 2:
        return None
    return ranked[0][1]


def _labels(results: Sequence[SimulationResult]) -> list[str]:
    if not results:
        raise InvalidSimulation("results", results, "expected at least one simulation result")
    return [r.policy for r in results]


def _compared_row(  # noqa: PLR0917 - internal, one call per table row
    label: str,
    values: Sequence[float | None],
    texts: Sequence[str],
    higher: bool,
    tie: float,
    labels: Sequence[str],
    wins: list[int],
) -> str:
    # One markdown row: the best value in bold, its policy in a last column
    # when there are several, and the win counted by position.
    many = len(labels) > 1
    best = winner(values, higher_is_better=higher, tie=tie) if many else None
    cells = [f"**{text}**" if i == best else text for i, text in enumerate(texts)]
    verdict = ""
    if many:
        verdict = " | " + (labels[best] if best is not None else "tie")
        if best is not None:
            wins[best] += 1
    return f"| {label} | " + " | ".join(cells) + verdict + " |"


def _figures_table(labels: list[str], figures: Sequence[Figures | None], wins: list[int]) -> list[str]:
    many = len(labels) > 1
    header = "| figure | " + " | ".join(labels) + (" | best |" if many else " |")
    lines = [header, "|---" * (len(labels) + 1 + many) + "|"]
    counts = [f.count if f is not None else 0 for f in figures]
    lines.append("| tickets | " + " | ".join(str(c) for c in counts) + (" | |" if many else " |"))
    for label, unit, get, higher in FIGURES:
        values = [get(f) if f is not None else None for f in figures]
        if all(v is None for v in values):
            continue
        tie = _WAIT_TIE if unit == "seconds" else _SHARE_TIE
        lines.append(_compared_row(label, values, [_format(unit, v) for v in values], higher, tie, labels, wins))
    return lines


def _group_names(results: Sequence[SimulationResult], dimension: str) -> list[str]:
    names: set[str] = set()
    for r in results:
        names.update(r.figures_by(dimension))
    return sorted(names)


def markdown_report(
    results: Sequence[SimulationResult],
    *,
    title: str | None = None,
    description: str | None = None,
    plots: Mapping[str, str] | None = None,
    notes: Sequence[str] = (),
) -> str:
    """The comparison of ``results`` (one per policy, on the same day) as
    markdown: overall and per class, tier and severity tables, occupancy
    and fairness, and a tally of the figures each policy wins.  ``plots``
    maps a caption to an image path to embed; ``notes`` are listed under
    the title.

    Runtime complexity: O(p * g) for p policies and g groups.

    >>> from triage_queue.sim.results import SimulationResult
    >>> empty = SimulationResult.build(policy="p", day="d", start=0.0, end=0.0, outcomes=[], agents=[],
    ...                                queue_length=[], events=0)
    >>> markdown_report([empty]).splitlines()[0]
    '# Simulation of d: p'
    """
    labels = _labels(results)
    days = sorted({r.day for r in results})
    lines = [f"# {title or 'Simulation of ' + ', '.join(days) + ': ' + ' vs '.join(labels)}", ""]
    if description:
        lines += [description, ""]
    first = results[0]
    lines.append(
        f"Simulated {format_seconds(first.end - first.start)}, from {_clock(first.start)} to {_clock(first.end)} "
        f"({first.start:.0f} s to {first.end:.0f} s on the simulation clock), "
        f"{first.overall.count} tickets, {len(first.agents)} agents, "
        f"{sum(r.events for r in results)} events."
    )
    lines += [f"- {note}" for note in notes]
    lines.append("")
    # Tallied by position: two results may carry the same label (built by
    # hand, or simulated separately) and must not share one count.
    wins = [0] * len(results)
    lines += ["## Overall", ""]
    lines += _figures_table(labels, [r.overall for r in results], wins)
    lines.append("")
    for dimension, heading in (("class", "ticket class"), ("tier", "customer tier"), ("severity", "severity")):
        names = _group_names(results, dimension)
        if not names:
            continue
        lines += [f"## By {heading}", ""]
        for name in names:
            lines += [f"### {heading.capitalize()} `{name}`", ""]
            lines += _figures_table(labels, [r.figures_by(dimension).get(name) for r in results], wins)
            lines.append("")
    lines += ["## Staff and fairness", ""]
    many = len(labels) > 1
    lines.append("| figure | " + " | ".join(labels) + (" | best |" if many else " |"))
    lines.append("|---" * (len(labels) + 1 + many) + "|")
    occupancy = [_share(r.occupancy) for r in results]
    lines.append("| occupancy | " + " | ".join(occupancy) + (" | (same work) |" if many else " |"))
    fairness_rows: list[tuple[str, list[float | None], bool, str]] = [
        ("fairness: Jain index over class mean waits", [r.fairness.jain_index for r in results], True, "index"),
        ("fairness: max wait / median wait", [r.fairness.max_to_median for r in results], False, "ratio"),
    ]
    for label, values, higher, _ in fairness_rows:
        texts = ["-" if v is None else f"{v:.3f}" for v in values]
        lines.append(_compared_row(label, values, texts, higher, 1e-3, labels, wins))
    lines.append("")
    if many:
        lines += ["## Figures won", ""]
        shared = {label for label in labels if labels.count(label) > 1}
        ranked = sorted(range(len(labels)), key=lambda i: -wins[i])
        lines += [f"- **{labels[i]}**{f' (column {i + 1})' if labels[i] in shared else ''}: {wins[i]}" for i in ranked]
        lines.append("")
    if plots:
        lines += ["## Plots", ""]
        for caption, path in plots.items():
            lines += [f"![{caption}]({path})", ""]
    lines += [
        "Waits are from arrival to an agent answering, over answered tickets; percentiles are nearest-rank. "
        "SLA attainment counts abandoned and unanswered tickets as missed; fairness counts every ticket's wait, "
        "abandoned and unanswered included. Bold marks the best value.",
        "",
    ]
    return "\n".join(lines)


def summary_text(results: Sequence[SimulationResult]) -> str:
    """One line per policy: overall waits, SLA attainment, abandonment and
    occupancy.  Runtime complexity: O(p).
    """
    _labels(results)
    lines = []
    for r in results:
        f = r.overall
        lines.append(
            f"{r.policy}: {f.count} tickets, wait p50 {format_seconds(f.wait_p50)}, p90 {format_seconds(f.wait_p90)}, "
            f"max {format_seconds(f.wait_max)}; SLA {_share(f.sla_attainment)}; abandoned {_share(f.abandonment)}; "
            f"occupancy {_share(r.occupancy)}"
        )
    return "\n".join(lines)


def results_json(results: Sequence[SimulationResult], *, day: Day | None = None) -> dict[str, Any]:
    """Plain, JSON-ready data: each result's :meth:`~SimulationResult.summary`
    with its queue length samples, and a few facts about ``day``.

    Runtime complexity: O(p * (g + s)) for s queue samples.

    >>> from triage_queue.sim.results import SimulationResult
    >>> r = SimulationResult.build(policy="p", day="d", start=0.0, end=0.0, outcomes=[], agents=[],
    ...                            queue_length=[(0.0, 0)], events=0)
    >>> results_json([r])["policies"][0]["queue_length"]
    [[0.0, 0]]
    """
    data: dict[str, Any] = {}
    if day is not None:
        data["day"] = {"name": day.name, "arrivals": len(day.arrivals), "staff": len(day.staff), "end": day.end}
    _labels(results)
    policies = []
    for r in results:
        summary = r.summary()
        summary["queue_length"] = [[t, n] for t, n in r.queue_length]
        policies.append(summary)
    data["policies"] = policies
    return data


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # files only: never open a window, work without a display
    import matplotlib.pyplot as plt

    return plt


def plot_waits(results: Sequence[SimulationResult], path: str | os.PathLike[str]) -> None:
    """Draw the distribution of answered waits per ticket class, one panel
    per class and one step curve (empirical CDF) per policy, to a PNG.

    Raises ``ImportError`` without matplotlib.  Runtime complexity:
    O(n) points drawn for n tickets per policy.
    """
    labels = _labels(results)
    plt = _pyplot()
    classes = _group_names(results, "class") or ["(none)"]
    columns = min(3, len(classes))
    rows = math.ceil(len(classes) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(5 * columns, 3.6 * rows), squeeze=False)
    for index, name in enumerate(classes):
        ax = axes[index // columns][index % columns]
        for label, r in zip(labels, results, strict=True):
            figures = r.by_class.get(name)
            waits = figures.waits if figures is not None else ()
            if not waits:
                continue
            xs = [w / 60 for w in waits]
            ys = [(i + 1) / len(xs) for i in range(len(xs))]
            ax.step(xs, ys, where="post", label=label)
        ax.set_title(f"class {name}")
        ax.set_xlabel("wait (minutes)")
        ax.set_ylabel("share answered within")
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    for index in range(len(classes), rows * columns):
        axes[index // columns][index % columns].set_visible(False)
    fig.suptitle("Waits per ticket class (answered tickets)")
    fig.tight_layout()
    fig.savefig(os.fspath(path), dpi=90)
    plt.close(fig)


def plot_queue_length(results: Sequence[SimulationResult], path: str | os.PathLike[str]) -> None:
    """Draw the number of tickets waiting over the day, one line per
    policy (x in hours of the clock), to a PNG.

    Raises ``ImportError`` without matplotlib.  Runtime complexity: O(s)
    for s samples per policy.
    """
    labels = _labels(results)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(10, 4))
    for label, r in zip(labels, results, strict=True):
        if r.queue_length:
            ax.step([t / 3600 for t, _ in r.queue_length], [n for _, n in r.queue_length], where="post", label=label)
    busy = [t for r in results for t, n in r.queue_length if n > 0]
    if busy:
        # A long empty tail (customers' last follow-ups, agents finishing) hides the day's shape.
        last = max(r.end for r in results)
        ax.set_xlim(right=min(last, max(busy) + 3600) / 3600)
    ax.set_xlabel("time (hours since midnight)")
    ax.set_ylabel("tickets waiting")
    ax.set_title("Queue length over the day")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.fspath(path), dpi=90)
    plt.close(fig)


def write_report(
    results: Sequence[SimulationResult],
    out: str | os.PathLike[str],
    *,
    day: Day | None = None,
    plots: bool = True,
    title: str | None = None,
    description: str | None = None,
    notes: Sequence[str] = (),
) -> dict[str, Path]:
    """Write ``report.md``, ``results.json`` and (with ``plots``)
    ``waits.png`` and ``queue-length.png`` into directory ``out`` (created
    if missing); return the paths written by kind.  Without matplotlib the
    plots are skipped and the report says so.

    Runtime complexity: O(p * (n + g + s)).

    >>> import tempfile
    >>> from triage_queue.sim.results import SimulationResult
    >>> r = SimulationResult.build(policy="p", day="d", start=0.0, end=0.0, outcomes=[], agents=[],
    ...                            queue_length=[], events=0)
    >>> sorted(write_report([r], tempfile.mkdtemp(), plots=False))
    ['json', 'report']
    """
    _labels(results)
    directory = Path(out)
    directory.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    images: dict[str, str] = {}
    notes = list(notes)
    if plots:
        try:
            plot_waits(results, directory / "waits.png")
            plot_queue_length(results, directory / "queue-length.png")
        except ImportError:
            notes.append("Plots skipped: matplotlib is not installed (pip install 'triage-queue[sim]').")
        else:
            written["waits_plot"] = directory / "waits.png"
            written["queue_plot"] = directory / "queue-length.png"
            images = {"Waits per ticket class": "waits.png", "Queue length over the day": "queue-length.png"}
    report = directory / "report.md"
    report.write_text(markdown_report(results, title=title, description=description, plots=images, notes=notes), "utf-8")
    written["report"] = report
    data = directory / "results.json"
    data.write_text(json.dumps(results_json(results, day=day), indent=1, allow_nan=False) + "\n", "utf-8")
    written["json"] = data
    return dict(sorted(written.items()))
