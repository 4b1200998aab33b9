"""`python -m triage_queue simulate` end to end on tiny inputs, and the
report it writes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from triage_queue import Agent, FeedbackOrder, Policy, Ticket
from triage_queue.__main__ import main
from triage_queue.sim import (
    Arrival,
    Day,
    Staff,
    build_scenario,
    compare,
    default_staff,
    markdown_report,
    read_trace,
    write_report,
)
from triage_queue.sim.report import winner

ROOT = Path(__file__).resolve().parent.parent
VIP = str(ROOT / "examples" / "policies" / "vip-first.toml")
FIFO = str(ROOT / "examples" / "policies" / "fifo-sla.toml")
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def tiny(tmp_path: Path) -> tuple[Path, Path]:
    """A 12-ticket trace (two classes, a gold customer, an emergency) and a two-agent staff file."""
    rows = ["id,created,class,severity,tier,skills,channel,handling_time,patience"]
    for i in range(12):
        cls = "billing" if i % 3 else "tech"
        severity = "critical" if i == 7 else "normal"
        tier = "gold" if i == 4 else ""
        skills = "billing:2" if cls == "billing" else "tech:1"
        rows.append(f"T-{i},{28800 + 20 * i},{cls},{severity},{tier},{skills},chat,{300 + 10 * i},{'200' if i == 11 else ''}")
    trace = tmp_path / "day.csv"
    trace.write_text("\n".join(rows) + "\n")
    staff = tmp_path / "staff.toml"
    staff.write_text(
        '[[agent]]\nid = "ana"\nskills = "billing:3;tech:2"\nshifts = [{start = "08:00", end = "12:00"}]\n'
        '[[agent]]\nid = "bo"\nskills = "billing:2"\n'
    )
    return trace, staff


def test_two_policies_on_a_trace_write_report_json_and_plots(
    tiny: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Both policies run on the same 12 tickets; the report compares them per
    class with a winner column; results.json holds both; both plots are PNGs;
    stdout summarises each policy."""
    trace, staff = tiny
    out = tmp_path / "out"
    status = main(["simulate", "--policy", VIP, "--compare", FIFO, "--trace", str(trace), "--staff", str(staff),
                   "--out", str(out), "--quiet"])
    assert status == 0
    assert capsys.readouterr().out == "", "--quiet prints nothing"
    report = (out / "report.md").read_text()
    assert "| figure | vip-first | fifo-sla | best |" in report
    for section in ("### Ticket class `billing`", "### Ticket class `tech`", "### Customer tier `gold`",
                    "### Severity `critical`", "occupancy", "Jain index", "## Figures won", "![Waits per ticket class](waits.png)"):
        assert section in report, section
    data = json.loads((out / "results.json").read_text())
    assert [p["policy"] for p in data["policies"]] == ["vip-first", "fifo-sla"]
    assert all(p["overall"]["count"] == 12 for p in data["policies"])
    assert data["day"] == {"name": "day", "arrivals": 12, "staff": 2, "end": data["day"]["end"]}
    assert sorted(data["policies"][0]["agents"]) == ["ana", "bo"]
    assert data["policies"][0]["queue_length"][0][0] == 28800.0
    for plot in ("waits.png", "queue-length.png"):
        assert (out / plot).read_bytes().startswith(PNG)


def test_scenario_run_prints_a_summary_and_can_skip_plots(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A small scenario run prints one line per policy and the report path;
    --no-plots writes no PNG; the same file twice gets two labels."""
    out = tmp_path / "mmc"
    status = main(["simulate", "--policy", FIFO, "--compare", FIFO, "--scenario", "mmc", "--scale", "0.05",
                   "--seed", "3", "--out", str(out), "--no-plots"])
    assert status == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("fifo-sla: ") and printed[1].startswith("fifo-sla (2): ")
    assert printed[-1] == f"report: {out / 'report.md'}"
    assert sorted(p.name for p in out.iterdir()) == ["report.md", "results.json"]
    data = json.loads((out / "results.json").read_text())
    assert data["policies"][0]["overall"] == data["policies"][1]["overall"], "same policy, same day, same figures"


def test_a_repeated_policy_never_takes_another_policy_s_label(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A file already named "fifo-sla (2)" keeps its name, and the second copy of fifo-sla becomes "fifo-sla (3)"."""
    named_like_a_copy = tmp_path / "other.toml"
    text = Path(FIFO).read_text()
    assert 'name = "fifo-sla"' in text
    named_like_a_copy.write_text(text.replace('name = "fifo-sla"', 'name = "fifo-sla (2)"', 1))
    out = tmp_path / "mmc"
    status = main(["simulate", "--policy", FIFO, "--compare", str(named_like_a_copy), FIFO, "--scenario", "mmc",
                   "--scale", "0.05", "--seed", "3", "--out", str(out), "--no-plots", "--quiet"])
    assert status == 0, capsys.readouterr().err
    labels = [policy["policy"] for policy in json.loads((out / "results.json").read_text())["policies"]]
    assert labels == ["fifo-sla", "fifo-sla (2)", "fifo-sla (3)"]


def test_trace_without_staff_gets_a_default_roster(tiny: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Without --staff a trace is worked by generalists, and the report says so."""
    trace, _ = tiny
    assert main(["simulate", "--policy", VIP, "--trace", str(trace), "--out", str(tmp_path / "o"), "--no-plots"]) == 0
    assert "No --staff given" in capsys.readouterr().out
    report = (tmp_path / "o" / "report.md").read_text()
    assert "No --staff given" in report
    data = json.loads((tmp_path / "o" / "results.json").read_text())
    roster = default_staff(read_trace(trace).arrivals)
    assert data["day"]["staff"] == len(roster) > 1
    assert data["policies"][0]["agents"].keys() == {s.agent.id for s in roster}


def test_save_trace_alone_writes_the_scenario_day(tmp_path: Path) -> None:
    """--save-trace without a policy writes the scenario's arrivals and stops."""
    path = tmp_path / "s.jsonl"
    assert main(["simulate", "--scenario", "surge", "--seed", "2", "--scale", "0.1", "--save-trace", str(path), "--quiet"]) == 0
    assert read_trace(path).arrivals == build_scenario("surge", seed=2, scale=0.1).arrivals


def test_list_scenarios(capsys: pytest.CaptureFixture[str]) -> None:
    """--list-scenarios names every scenario and needs no other option."""
    assert main(["simulate", "--list-scenarios"]) == 0
    names = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert names == ["helpdesk-day", "mmc", "surge"]


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--policy", "missing.toml"], "missing.toml"),
        (["--trace", "{bad}"], "line 3, column 'severity'"),
        (["--trace", "{tiny}", "--staff", "{bad}"], "not valid TOML"),
        (["--scenario", "weekend"], "scenario='weekend'"),
        (["--scenario", "mmc", "--scale", "-1"], "scale=-1.0"),
        (["--trace", "{tiny}", "--trace-format", "jsonl"], "not valid JSON"),
        (["--policy", "{bad}"], "bad.csv, line 1"),
    ],
)
def test_bad_input_gives_one_line_and_status_2(
    tiny: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], expected: str
) -> None:
    """A missing or bad file or name is one line on stderr and exit status 2;
    no report is written."""
    bad = tmp_path / "bad.csv"
    bad.write_text("created,handling_time,severity\n0,10,high\n5,3,urgent\n")
    values = {"{bad}": str(bad), "{tiny}": str(tiny[0])}
    args = [values.get(a, a) for a in extra]
    if "--policy" not in args:
        args = ["--policy", VIP, *args]
    out = tmp_path / "out"
    assert main(["simulate", *args, "--out", str(out)]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("simulate: error: ")
    assert expected in lines[0]
    assert "Traceback" not in captured.err
    assert not (out / "report.md").exists()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--out", "x"], "--policy FILE is required"),
        (["--policy", VIP], "--out DIR is required"),
    ],
)
def test_missing_options_give_status_2(capsys: pytest.CaptureFixture[str], args: list[str], expected: str) -> None:
    """Missing --policy or --out is reported, with status 2."""
    assert main(["simulate", *args]) == 2
    assert expected in capsys.readouterr().err


def test_out_must_be_a_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--out naming a file is refused."""
    target = tmp_path / "file"
    target.write_text("")
    assert main(["simulate", "--policy", VIP, "--scenario", "mmc", "--scale", "0.01", "--out", str(target)]) == 2
    assert "not a directory" in capsys.readouterr().err


def test_entry_point_runs_as_a_module(tmp_path: Path) -> None:
    """The real `python -m triage_queue simulate` prints the error line and exits 2."""
    done = subprocess.run(
        [sys.executable, "-m", "triage_queue", "simulate", "--policy", str(tmp_path / "none.toml"), "--out", str(tmp_path)],
        capture_output=True, text=True, check=False,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("simulate: error: ") and done.stderr.count("\n") == 1


# -- the report from Python ------------------------------------------------------------


def _day() -> Day:
    arrivals = [Arrival(Ticket(f"T-{i}", float(i), channel="chat"), 60.0, ticket_class="normal") for i in range(3)]
    arrivals.append(Arrival(Ticket("T-9", 3.0, severity="critical"), 60.0, ticket_class="outage"))
    return Day(arrivals, [Staff(Agent("ana"))])


def test_report_names_the_policy_that_serves_emergencies_first() -> None:
    """On a day where an emergency arrives last, the emergency-first policy
    wins the outage class and FIFO loses it; bold marks the winning value."""
    fifo, default = compare(_day(), [Policy.lexicographic(FeedbackOrder()), Policy.default()], names=["fifo", "default"])
    fifo_wait, default_wait = fifo.by_class["outage"].wait_max, default.by_class["outage"].wait_max
    assert fifo_wait is not None and default_wait is not None and default_wait < fifo_wait
    report = markdown_report([fifo, default])
    outage = report.split("### Ticket class `outage`")[1].split("###")[0]
    wait_max = next(line for line in outage.splitlines() if line.startswith("| wait max |"))
    assert wait_max.endswith("| default |")
    assert wait_max.split("|")[3].strip().startswith("**")


def test_figures_won_are_tallied_per_policy_even_under_one_label() -> None:
    """The tally counts each result's column, so two results that happen
    to share a label (simulated separately) keep their own counts, and the
    counts add up to the figures that had a winner."""
    day = _day()
    fifo = compare(day, [Policy.lexicographic(FeedbackOrder())], names=["x"])[0]
    default = compare(day, [Policy.default()], names=["x"])[0]
    distinct = markdown_report(compare(day, [Policy.lexicographic(FeedbackOrder()), Policy.default()], names=["fifo", "default"]))
    report = markdown_report([fifo, default])

    def tally(text: str) -> list[str]:
        return text.split("## Figures won")[1].split("##", maxsplit=1)[0].split("\n\n")[1].splitlines()

    won = {"fifo": 0, "default": 0}
    for line in distinct.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 4 and cells[3] in won:
            won[cells[3]] += 1
    assert won["fifo"] > 0 and won["default"] > 0  # a merged tally would show one line, their sum
    expected = sorted([("default", won["default"], 2), ("fifo", won["fifo"], 1)], key=lambda t: -t[1])
    assert tally(distinct) == [f"- **{name}**: {count}" for name, count, _ in expected]
    assert tally(report) == [f"- **x** (column {column}): {count}" for _, count, column in expected]


def test_write_report_without_matplotlib_still_writes_the_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """When matplotlib cannot be imported the plots are skipped and the report says so."""
    import builtins

    real_import = builtins.__import__

    def no_matplotlib(name: str, *args: object, **kwargs: object) -> object:
        if name.startswith("matplotlib"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    results = compare(_day(), [Policy.default()])
    written = write_report(results, tmp_path, plots=True)
    assert sorted(written) == ["json", "report"]
    assert "matplotlib is not installed" in (tmp_path / "report.md").read_text()


def test_winner_rules() -> None:
    """Lower or higher wins as asked; ties and missing values give no winner;
    a single policy never 'wins'."""
    assert winner([3.0, 1.0, 2.0], higher_is_better=False) == 1
    assert winner([0.5, None, 0.7], higher_is_better=True) == 2
    assert winner([1.0, 1.2], higher_is_better=False, tie=0.5) is None
    assert winner([None, None], higher_is_better=False) is None
    assert winner([1.0], higher_is_better=False) is None
