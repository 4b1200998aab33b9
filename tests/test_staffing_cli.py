"""`python -m triage_queue staff` and the forecast reader: the table, the
plot (with and without matplotlib), and one-line errors with status 2 for
every bad option or hostile forecast file."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from triage_queue import ForecastError, InvalidArgument, read_forecast, staffing, staffing_plan
from triage_queue.__main__ import main
from triage_queue.staffing import MAX_FORECAST_BYTES, MAX_FORECAST_INTERVALS, MAX_FORECAST_LINE_CHARS
from triage_queue.staffing_cli import add_arguments, run

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "forecasts" / "weekday.csv"


def _staff(*argv: str) -> tuple[int, str, str]:
    import argparse

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    out, err = io.StringIO(), io.StringIO()
    status = run(parser.parse_args(list(argv)), stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


def test_the_example_forecast_prints_one_line_per_interval() -> None:
    """The table has a line per interval of the example forecast, with the
    agents answering and scheduled the library computes, and a peak line."""
    status, out, err = _staff("--forecast", str(EXAMPLE), "--target", "80% in 20s", "--handle-time", "6m",
                              "--shrinkage", "30%", "--max-occupancy", "85%")
    assert status == 0, err
    plan = staffing_plan(read_forecast(EXAMPLE), "80% in 20s", handle_time=360.0, shrinkage=0.3, max_occupancy=0.85)
    lines = out.splitlines()
    assert lines[0].startswith("Erlang C: 80% in 20 s, handle time 6.0 min, shrinkage 30.0 %")
    rows = [line.split() for line in lines[2:-1]]
    assert len(rows) == len(plan) == 20
    assert [(r[0], int(r[3]), int(r[4])) for r in rows] == [
        (f"{int(p.start or 0) // 3600:02d}:{int(p.start or 0) % 3600 // 60:02d}", p.raw_agents, p.agents) for p in plan
    ]
    peak = max(p.agents for p in plan)
    assert lines[-1].startswith(f"peak: {peak} agents scheduled at ")


def test_patience_switches_to_erlang_a_and_shows_abandonment() -> None:
    """With --patience the model is Erlang A and the table has an abandonment
    column; fewer agents are needed than without (impatient callers leave)."""
    status, out, _ = _staff("--forecast", str(EXAMPLE), "--target", "80% in 20s", "--handle-time", "6m",
                            "--patience", "3m", "--max-abandonment", "5%")
    assert status == 0
    assert out.startswith("Erlang A:") and "abandoned" in out.splitlines()[1]
    _, plain, _ = _staff("--forecast", str(EXAMPLE), "--target", "80% in 20s", "--handle-time", "6m")
    hours = [float(text.split()[-5]) for text in (out.splitlines()[-1], plain.splitlines()[-1])]
    assert hours[0] < hours[1]


def test_an_average_wait_target_and_per_interval_handle_times(tmp_path: Path) -> None:
    """An average-wait target leaves the service-level column empty; a
    forecast's handle_time cells are used and --handle-time fills the gaps."""
    forecast = tmp_path / "f.csv"
    forecast.write_text("start,arrivals,handle_time\n08:00,100,180\n08:30,100,\n09:00,0,\n")
    status, out, err = _staff("--forecast", str(forecast), "--target", "avg wait < 30s", "--handle-time", "6m")
    assert status == 0, err
    rows = [line.split() for line in out.splitlines()[2:5]]
    assert rows[0][5] == "-" and int(rows[0][3]) < int(rows[1][3]) and rows[2][-2:] == ["no", "arrivals"]


def test_the_plot_is_written(tmp_path: Path) -> None:
    """--plot writes a PNG of the agents against the forecast."""
    pytest.importorskip("matplotlib")
    png = tmp_path / "staff.png"
    status, out, _ = _staff("--forecast", str(EXAMPLE), "--target", "80% in 20s", "--handle-time", "6m", "--plot", str(png))
    assert status == 0 and f"plot: {png}" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_without_matplotlib_the_table_is_still_printed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without matplotlib (the sim extra), --plot says so and the table is
    printed; the status is 0."""
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    png = tmp_path / "staff.png"
    status, out, _ = _staff("--forecast", str(EXAMPLE), "--target", "80% in 20s", "--handle-time", "6m", "--plot", str(png))
    assert status == 0
    assert "matplotlib is not installed" in out and "peak:" in out
    assert not png.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--target", "80% on 20s"], "--target '80% on 20s'"),
        (["--target", "80% in 20s", "--shrinkage", "100%"], "--shrinkage '100%'"),
        (["--target", "80% in 20s", "--max-occupancy", "0"], "--max-occupancy '0'"),
        (["--target", "80% in 20s", "--patience", "soon"], "--patience 'soon'"),
        (["--target", "80% in 20s", "--handle-time", "0s"], "--handle-time '0s'"),
        (["--target", "80% in 20s"], "--handle-time is required"),
    ],
)
def test_bad_options_give_one_line_and_status_2(args: list[str], message: str) -> None:
    """A bad option is one line on stderr naming it, status 2, no traceback."""
    status, out, err = _staff("--forecast", str(EXAMPLE), *args)
    assert status == 2 and out == ""
    assert err.startswith("staff: error: ") and message in err and err.count("\n") == 1


def _forecast(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "forecast.csv"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("", "line 1: '': empty file"),
        ("start,calls\n08:00,10\n", "line 1, column 'calls': 'calls': unknown column"),
        ("start,start,arrivals\n", "column 'start': 'start': column given twice"),
        ("arrivals\n10\n", "line 1, column 'start'"),
        ("start,arrivals\n", "line 2: '': no intervals"),
        ("start,arrivals\n08:00,-3\n08:30,1\n", "line 2, column 'arrivals': '-3': expected a number >= 0"),
        ("start,arrivals\n08:00,nan\n08:30,1\n", "line 2, column 'arrivals': 'nan'"),
        ("start,arrivals\n8h,10\n08:30,1\n", "line 2, column 'start': '8h'"),
        ("start,arrivals\n08:00,10\n07:30,1\n", "line 3, column 'start': '07:30': starts must increase"),
        ("start,arrivals\n08:00,10,3\n", "line 2: '08:00,10,3': expected 2 cells"),
        ("start,arrivals,handle_time\n08:00,10,-5\n08:30,1,\n", "line 2, column 'handle_time': '-5'"),
        ("start,arrivals\n08:00,10\n08:30,1\n08:40,1\n", None),  # a 10-minute gap: the interval is 10 minutes
        ("start,arrivals\n" + "x" * (MAX_FORECAST_LINE_CHARS + 1) + "\n", "MAX_FORECAST_LINE_CHARS"),
        ("start,arrivals\n" + "".join(f"{i},1\n" for i in range(MAX_FORECAST_INTERVALS + 1)), "MAX_FORECAST_INTERVALS"),
        (b"start,arrivals\n08:00,\xff\n", "not UTF-8"),
        (b"start,arrivals\n" + b"0" * MAX_FORECAST_BYTES, "MAX_FORECAST_BYTES"),
    ],
)
def test_hostile_forecasts_are_refused_with_the_place(tmp_path: Path, text: str | bytes, where: str | None) -> None:
    """Each bad or oversized forecast gives one line naming the file, line,
    column and value (or the bound), status 2; reading is bounded."""
    path = _forecast(tmp_path, text)
    status, _, err = _staff("--forecast", str(path), "--target", "80% in 20s", "--handle-time", "3m")
    if where is None:
        assert status == 0, err
        return
    assert status == 2, err
    assert where in err and err.count("\n") == 1


def test_read_forecast_errors_are_typed(tmp_path: Path) -> None:
    """read_forecast raises ForecastError (an InvalidArgument) with the path,
    line and column; a missing file is InvalidArgument on ``path``; one row
    needs an interval length."""
    path = _forecast(tmp_path, "start,arrivals\n08:00,x\n")
    with pytest.raises(ForecastError) as caught:
        read_forecast(path, interval=1800)
    assert (caught.value.line, caught.value.column, caught.value.field) == (2, "arrivals", "arrivals")
    with pytest.raises(InvalidArgument) as missing:
        read_forecast(tmp_path / "none.csv")
    assert missing.value.field == "path"
    one = _forecast(tmp_path, "start,arrivals\n08:00,10\n")
    with pytest.raises(InvalidArgument, match="interval"):
        read_forecast(one)
    assert read_forecast(one, interval=900)[0].length == 900.0


def test_clock_and_second_starts(tmp_path: Path) -> None:
    """Starts are HH:MM[:SS] (past 24:00 for a second day) or seconds; blank
    lines are skipped; a byte order mark is ignored."""
    path = _forecast(tmp_path, "\ufeffstart,arrivals\n23:30,5\n\n24:00:00,6\n")
    assert [(i.start, i.length, i.arrivals) for i in read_forecast(path)] == [(84600.0, 1800.0, 5.0), (86400.0, 1800.0, 6.0)]
    path = _forecast(tmp_path, "start,arrivals\n0,5\n3600,6\n")
    assert [i.start for i in read_forecast(path)] == [0.0, 3600.0]


def test_an_interval_that_cannot_be_staffed_is_named(tmp_path: Path) -> None:
    """A load beyond MAX_AGENTS is refused naming the interval."""
    path = _forecast(tmp_path, "start,arrivals\n08:00,10\n08:30,400000\n")
    status, _, err = _staff("--forecast", str(path), "--target", "80% in 20s", "--handle-time", "3m")
    assert status == 2 and "interval at 08:30" in err and "MAX_AGENTS" in err


def test_a_plan_over_its_work_budget_is_one_line_naming_the_interval(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A forecast whose Erlang A plan needs more than MAX_PLAN_TERMS terms
    exits 2 with one line naming the interval it stopped at, without
    planning again interval by interval (review 13a #3)."""
    monkeypatch.setattr(staffing, "MAX_PLAN_TERMS", 60_000)
    rows = "".join(f"{60 * i},{600 + i}\n" for i in range(50))
    path = _forecast(tmp_path, "start,arrivals\n" + rows)
    status, out, err = _staff("--forecast", str(path), "--target", "95% in 5s", "--handle-time", "10s",
                              "--patience", "10m")
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and "interval at 00:0" in err and "MAX_PLAN_TERMS" in err


def test_the_staff_command_runs() -> None:
    """`python -m triage_queue staff` is registered, exits 0 and prints the
    table; a missing file exits 2."""
    result = subprocess.run(
        [sys.executable, "-m", "triage_queue", "staff", "--forecast", str(EXAMPLE), "--target", "90% within 1m",
         "--handle-time", "360"],
        capture_output=True, text=True, check=False, cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert "peak:" in result.stdout
    assert main(["staff", "--forecast", "no/such.csv", "--target", "80% in 20s"]) == 2
