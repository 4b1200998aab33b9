"""How many agents each interval of a forecast needs to meet a service level.

The forecast is a CSV file with a header line: start (HH:MM or seconds),
arrivals (expected in the interval) and optionally handle_time (seconds)
per interval; see docs/staffing.md.  Erlang C, or Erlang A with --patience
(customers give up after that mean wait).  Prints one line per interval:
the agents answering (the model's N), the agents to schedule after
shrinkage, and the predicted service level, average wait (ASA), occupancy
and abandonment; --plot FILE also draws the agents against the forecast
(needs matplotlib, the `sim` extra; without it the table is still printed).

Durations: 20s, 6m, 1.5h (no unit: seconds).  Shares: 30% or 0.3.

examples:
  python -m triage_queue staff --forecast examples/forecasts/weekday.csv \\
      --target "80% in 20s" --handle-time 6m
  python -m triage_queue staff --forecast examples/forecasts/weekday.csv \\
      --target "80% in 20s" --handle-time 6m --patience 3m --shrinkage 30% \\
      --max-occupancy 85% --plot staffing.png

exit status: 0 done, 2 bad arguments or input file (one-line message).
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from triage_queue.errors import InvalidArgument, TriageError
from triage_queue.staffing import ForecastInterval, ServiceTarget, _parse_duration, _parse_share, _plan, read_forecast

__all__ = ["add_arguments", "format_plan", "main", "plot_plan", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the ``staff`` options on ``parser``.  Runtime complexity: O(1).

    >>> parser = argparse.ArgumentParser()
    >>> add_arguments(parser)
    >>> parser.parse_args(["--forecast", "f.csv", "--target", "80% in 20s"]).shrinkage
    '0%'
    """
    parser.add_argument("--forecast", metavar="FILE", required=True,
                        help="forecast CSV: start,arrivals[,handle_time] (see docs/staffing.md)")
    parser.add_argument("--target", metavar="TEXT", required=True,
                        help='service-level target: "80%% in 20s", "90%% within 1m", "80/20" or "avg wait < 1m"')
    parser.add_argument("--handle-time", metavar="DURATION",
                        help="mean handling time (e.g. 6m) for intervals without a handle_time cell")
    parser.add_argument("--patience", metavar="DURATION",
                        help="mean time a waiting customer waits before giving up: Erlang A (default: Erlang C)")
    parser.add_argument("--shrinkage", metavar="SHARE", default="0%",
                        help="share of scheduled time not spent answering: breaks, training... (default 0%%)")
    parser.add_argument("--max-occupancy", metavar="SHARE", default="100%",
                        help="agents busy at most this share of their time (default 100%%)")
    parser.add_argument("--max-abandonment", metavar="SHARE", default="100%",
                        help="with --patience: at most this share of customers may give up (default 100%%)")
    parser.add_argument("--interval", metavar="DURATION",
                        help="length of each interval (default: the smallest gap between two starts)")
    parser.add_argument("--plot", metavar="FILE", help="write a PNG of the agents needed against the forecast")


class _Usage(Exception):
    """A bad command-line option."""


_LONGEST_MESSAGE = 1000


def _one_line(message: str) -> str:
    flat = " ".join(message.splitlines())
    if len(flat) > _LONGEST_MESSAGE:
        flat = flat[: _LONGEST_MESSAGE - 25] + f"... ({len(flat)} characters)"
    return flat


def run(args: argparse.Namespace, *, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """Run ``staff`` with parsed ``args``; return the exit status (0, or 2
    with a one-line ``staff: error: ...`` on ``stderr`` for a bad argument
    or file).

    Runtime complexity: that of :func:`triage_queue.staffing_plan`, plus
    O(intervals) to print and plot.

    >>> parser = argparse.ArgumentParser()
    >>> add_arguments(parser)
    >>> run(parser.parse_args(["--forecast", "no/such.csv", "--target", "80% in 20s"]), stderr=sys.stdout)
    staff: error: path='no/such.csv': cannot read it: No such file or directory
    2
    """
    out = stdout if stdout is not None else sys.stdout
    err = stderr if stderr is not None else sys.stderr
    try:
        return _run(args, out)
    except (TriageError, _Usage) as exc:
        print(f"staff: error: {_one_line(str(exc))}", file=err)
        return 2
    except OSError as exc:
        target = f" {exc.filename}" if exc.filename else ""
        print(f"staff: error: cannot write{target}: {_one_line(str(exc.strerror or exc))}", file=err)
        return 2


def _option(name: str, convert: Any, value: str | None) -> Any:
    if value is None:
        return None
    try:
        return convert(name, value)
    except InvalidArgument as exc:
        raise _Usage(f"--{name.replace('_', '-')} {value!r}: {exc.reason}") from None


def _run(args: argparse.Namespace, out: TextIO) -> int:
    try:
        target = ServiceTarget.parse(args.target)
    except InvalidArgument as exc:
        raise _Usage(f"--target {args.target!r}: {exc.reason}") from None
    handle = _option("handle_time", _parse_duration, args.handle_time)
    patience = _option("patience", _parse_duration, args.patience)
    interval = _option("interval", _parse_duration, args.interval)
    for name, value in (("handle_time", handle), ("patience", patience), ("interval", interval)):
        if value is not None and value <= 0:
            raise _Usage(f"--{name.replace('_', '-')} {getattr(args, name)!r}: expected a duration > 0")
    shrinkage = _option("shrinkage", lambda n, v: _parse_share(n, v, high_open=True), args.shrinkage)
    occupancy = _option("max_occupancy", lambda n, v: _parse_share(n, v, high_open=False), args.max_occupancy)
    abandonment = _option("max_abandonment", lambda n, v: _parse_share(n, v, high_open=False), args.max_abandonment)
    if args.plot and Path(args.plot).is_dir():
        raise _Usage(f"--plot {args.plot}: is a directory")

    forecast = read_forecast(args.forecast, interval=interval)
    if handle is None and any(i.handle_time is None for i in forecast):
        raise _Usage("--handle-time is required: the forecast has intervals without a handle_time")
    reached: list[ForecastInterval] = []
    try:
        plan = _plan(forecast, target, handle_time=handle, patience=patience, max_occupancy=occupancy,
                     max_abandonment=abandonment, shrinkage=shrinkage, reached=reached)
    except InvalidArgument as exc:
        # Name the interval: the plan stops at the first one that cannot be staffed.
        where = f"{args.forecast}, interval at {_clock(reached[0].start)}: " if reached else ""
        raise _Usage(f"{where}{exc}") from None
    model = "Erlang A" if patience is not None else "Erlang C"
    settings = [str(target)]
    if handle is not None:
        settings.append(f"handle time {_duration(handle)}")
    if patience is not None:
        settings.append(f"patience {_duration(patience)}")
    settings += [f"shrinkage {_pct(shrinkage)}", f"occupancy <= {_pct(occupancy)}"]
    if patience is not None and abandonment < 1:
        settings.append(f"abandonment <= {_pct(abandonment)}")
    print(f"{model}: {', '.join(settings)}", file=out)
    print(format_plan(plan, show_abandonment=patience is not None), file=out)
    if args.plot:
        try:
            plot_plan(plan, args.plot, title=f"{model}: {', '.join(settings)}")
        except ImportError:
            print("plot: skipped, matplotlib is not installed (pip install 'triage-queue[sim]')", file=out)
        else:
            print(f"plot: {args.plot}", file=out)
    return 0


def _clock(seconds: float) -> str:
    minutes = math.floor(seconds / 60)
    sign = "-" if minutes < 0 else ""
    minutes = abs(minutes)
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def _duration(seconds: float) -> str:
    if seconds == math.inf:
        return "-"
    if seconds < 100:
        return f"{seconds:.0f} s" if seconds >= 10 or seconds == 0 else f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _pct(share: float) -> str:
    return f"{100 * share:.1f} %"


def format_plan(plan: Sequence[Any], *, show_abandonment: bool = False) -> str:
    """The plan as a text table: one line per interval, then the peak and
    the agent-hours scheduled.  Runtime complexity: O(intervals).

    >>> from triage_queue import ForecastInterval, staffing_plan
    >>> print(format_plan(staffing_plan([ForecastInterval(8 * 3600, 1800, 100)], "80% in 20s", handle_time=180.0)))
    start  arrivals  load (E)  agents  scheduled  service level  avg wait  occupancy  limited by
    08:00       100      10.0      14         14         88.8 %     7.8 s     71.4 %  target
    peak: 14 agents scheduled at 08:00; 7.0 agent-hours over 1 interval
    """
    headers = ["start", "arrivals", "load (E)", "agents", "scheduled", "service level", "avg wait", "occupancy"]
    if show_abandonment:
        headers.append("abandoned")
    headers.append("limited by")
    rows = []
    for r in plan:
        level = "-" if r.target.average_wait is not None else _pct(r.service_level)
        row = [
            _clock(r.start) if r.start is not None else "-",
            f"{r.arrivals:g}" if r.arrivals is not None else f"{r.arrival_rate:g}/s",
            f"{r.load:.1f}",
            str(r.raw_agents),
            str(r.agents),
            level,
            _duration(r.average_wait),
            _pct(r.occupancy),
        ]
        if show_abandonment:
            row.append(_pct(r.abandonment))
        row.append(r.limited_by)
        rows.append(row)
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) if i in (0, len(headers) - 1) else h.rjust(w)
                       for i, (h, w) in enumerate(zip(headers, widths, strict=True))).rstrip()]
    for row in rows:
        lines.append("  ".join(c.ljust(w) if i in (0, len(row) - 1) else c.rjust(w)
                               for i, (c, w) in enumerate(zip(row, widths, strict=True))).rstrip())
    if plan:
        peak = max(plan, key=lambda r: r.agents)
        hours = math.fsum(r.agents * (r.length or 0.0) for r in plan) / 3600
        count = len(plan)
        at = f" at {_clock(peak.start)}" if peak.start is not None else ""
        lines.append(f"peak: {peak.agents} agents scheduled{at}; {hours:.1f} agent-hours over {count} "
                     f"interval{'s' if count != 1 else ''}")
    return "\n".join(lines)


def plot_plan(plan: Sequence[Any], path: str, *, title: str = "") -> None:
    """Draw the agents needed (scheduled and answering, steps) against
    the forecast arrivals (bars, right axis) over the clock, to a PNG.
    Imports matplotlib (the ``sim`` extra) when called; raises
    ``ImportError`` without it.  Runtime complexity: O(intervals).
    """
    import matplotlib  # noqa: PLC0415 (an optional extra, imported only to draw)

    matplotlib.use("Agg")  # files only: never open a window, work without a display
    import matplotlib.pyplot as plt  # noqa: PLC0415

    starts = [(r.start or 0.0) / 3600 for r in plan]
    widths = [(r.length or 3600.0) / 3600 for r in plan]
    fig, ax = plt.subplots(figsize=(10, 4.5))
    right = ax.twinx()
    right.bar(starts, [r.arrivals or 0.0 for r in plan], width=widths, align="edge", color="#c8d7ea",
              label="forecast arrivals")
    right.set_ylabel("arrivals per interval")
    right.set_ylim(0, 1.6 * max([r.arrivals or 0.0 for r in plan] + [1.0]))  # bars below the agents' steps
    edges = [*starts, starts[-1] + widths[-1]] if plan else []
    ax.stairs([r.agents for r in plan], edges, baseline=None, color="#c0392b", linewidth=2, label="agents scheduled")
    ax.stairs([r.raw_agents for r in plan], edges, baseline=None, color="#2c3e50", linewidth=1.5, linestyle="--",
              label="agents answering")
    ax.set_zorder(right.get_zorder() + 1)
    ax.patch.set_visible(False)
    ax.set_xlabel("hour of the day")
    ax.set_ylabel("agents")
    ax.set_ylim(bottom=0)
    handles = ax.get_legend_handles_labels()
    more = right.get_legend_handles_labels()
    ax.legend(handles[0] + more[0], handles[1] + more[1], loc="upper left")
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> int:
    """``staff`` as a stand-alone command (for tests and scripts).
    Runtime complexity: as :func:`run`.

    >>> main(["--forecast", "no/such.csv", "--target", "80% in 20s"])
    2
    """
    parser = argparse.ArgumentParser(prog="python -m triage_queue staff", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    return run(parser.parse_args(None if argv is None else list(argv)))
