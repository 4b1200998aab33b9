"""The benchmark suite runs end to end (``bench --quick``) and reports every figure.

No time is asserted: speed is measured by ``python -m triage_queue bench``,
not in tests.  The quick run happens once per test session (module fixture)
and the tests read its output.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import math
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from triage_queue.__main__ import main
from triage_queue.bench import cli, dispatch_suite, heap_suite, lifecycle_suite
from triage_queue.bench.anchors import HeapqRecipe, SortedListDict, structures


def _present() -> set[str]:
    """NAME of every scenario module in this build of the package (the runner
    must report each one: a module there but not run is a failure)."""
    names = set()
    for stem in cli.MODULES:
        if importlib.util.find_spec(f"triage_queue.bench.{stem}") is not None:
            names.add(importlib.import_module(f"triage_queue.bench.{stem}").NAME)
    return names


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, Any]]]:
    out = tmp_path_factory.mktemp("bench")
    status = main(["bench", "--quick", "--quiet", "--out", str(out)])
    report = json.loads((out / "results.json").read_text())
    assert status == 0, report["errors"]
    yield out, report


def _numbers(value: Any, path: str = "") -> Iterator[tuple[str, float]]:
    if isinstance(value, bool):
        return
    if isinstance(value, int | float):
        yield path, float(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _numbers(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _numbers(item, f"{path}[{i}]")


def test_every_scenario_in_the_package_is_reported(quick_run: tuple[Path, dict[str, Any]]) -> None:
    """results.json has a section for every scenario module present, with its
    parameters and wall time; the machine and commit are recorded."""
    _, report = quick_run
    assert {"heap", "queue", "scale", "dispatch", "lifecycle"} <= _present()
    assert set(report["scenarios"]) == _present()
    assert report["errors"] == {} and report["non_finite"] == []
    for name, entry in report["scenarios"].items():
        assert entry["params"] and entry["result"], name
        assert entry["wall_seconds"] > 0, name
    assert report["machine"]["python"] == sys.version.split()[0]
    assert report["machine"]["cpu_count"] >= 1
    assert report["commit"] and report["quick"] is True


def test_every_figure_is_finite_and_not_negative(quick_run: tuple[Path, dict[str, Any]]) -> None:
    """No NaN, infinity or negative number anywhere in the report."""
    _, report = quick_run
    figures = list(_numbers(report["scenarios"]))
    assert len(figures) > 100
    bad = [(path, value) for path, value in figures if not math.isfinite(value) or value < 0]
    assert bad == []


def test_data_structure_figures(quick_run: tuple[Path, dict[str, Any]]) -> None:
    """Every installed structure and the heapq floor at every size, positive,
    with each anchor's ratio to IndexedHeap; memory for each structure."""
    _, report = quick_run
    heap = report["scenarios"]["heap"]["result"]
    installed = {name for name, factory in structures().items() if factory is not None}
    assert set(heap["not_installed"]) == set(structures()) - installed
    assert [int(n) for n in heap["sizes"]] == heap["params"]["sizes"]
    for n, row in heap["sizes"].items():
        assert set(row["us_per_op"]) == installed | {"heapq tuple push/pop"}, n
        assert all(value > 0 for value in row["us_per_op"].values()), n
        for name, ratio in row["ratio_to_IndexedHeap"].items():
            assert ratio == pytest.approx(row["us_per_op"][name] / row["us_per_op"]["IndexedHeap"]), (n, name)
    assert set(heap["memory_bytes_per_entry"]) == installed
    assert all(value > 0 for value in heap["memory_bytes_per_entry"].values())
    queue = report["scenarios"]["queue"]["result"]
    for n, row in queue["sizes"].items():
        assert row["TicketQueue"] > 0 and row["heapq tuple push/pop"] > 0, n
    assert all(value > 0 for value in queue["positions"].values())


def test_scale_figures(quick_run: tuple[Path, dict[str, Any]]) -> None:
    """Per size: memory adds up, every kind of call was timed in both GC
    modes, and percentiles are ordered."""
    _, report = quick_run
    scale = report["scenarios"]["scale"]["result"]
    assert [int(n) for n in scale["sizes"]] == scale["params"]["sizes"]
    for n, row in scale["sizes"].items():
        memory = row["memory_bytes_per_ticket"]
        assert memory["queue_overhead"] > 0 and memory["ticket_object"] > 0, n
        assert memory["total"] == pytest.approx(memory["queue_overhead"] + memory["ticket_object"])
        for structure in ("TicketQueue", "IndexedHeap"):
            for mode in ("gc_on", "gc_frozen"):
                figures = row[structure][mode]
                assert set(figures) == {"push", "update", "pop"}, (n, structure, mode)
                assert sum(f["calls"] for f in figures.values()) == scale["params"]["ops"]
                for kind, f in figures.items():
                    assert 0 < f["p50"] <= f["p99"] <= f["p99.9"] <= f["max"], (n, structure, mode, kind)


def test_dispatch_figures(quick_run: tuple[Path, dict[str, Any]]) -> None:
    """Every point measured at a constant backlog, no agent left without work,
    a maximal shift-start assignment."""
    _, report = quick_run
    dispatch = report["scenarios"]["dispatch"]["result"]
    assert len(dispatch["points"]) == len(dispatch["params"]["points"])
    for key, row in dispatch["points"].items():
        assert row["waiting"] == dispatch["waiting"], key
        assert row["misses"] == 0, key
        assert row["dispatcher_us_per_cycle"] > 0 and row["queue_us_per_cycle"] > 0, key
        assert row["dispatcher_us_per_call"] == pytest.approx(row["dispatcher_us_per_cycle"] / 4)
        if dispatch["pqdict_installed"]:
            assert row["pqdict_us_per_cycle"] > 0 and row["speedup_vs_pqdict"] > 0, key
    shift = dispatch["assign_all"]
    assert shift["maximal"] is True and shift["violations"] == 0
    assert 0 < shift["offered"] <= shift["capacity"]


def test_lifecycle_figures(quick_run: tuple[Path, dict[str, Any]]) -> None:
    """Every contender timed at every waiting size, ratios to the minimal
    desk, calls counted, restore measured or reported not available yet."""
    _, report = quick_run
    lifecycle = report["scenarios"]["lifecycle"]["result"]
    assert [int(n) for n in lifecycle["sizes"]] == lifecycle["params"]["waiting"]
    for n, row in lifecycle["sizes"].items():
        us = row["us_per_lifecycle"]
        assert set(us) == set(lifecycle_suite.CONTENDERS) and all(value > 0 for value in us.values()), n
        assert row["ratios"]["default_vs_minimal"] == pytest.approx(us["dispatcher_default"] / us["minimal"]), n
        assert row["ratios"]["lean_vs_minimal"] == pytest.approx(us["dispatcher_lean"] / us["minimal"]), n
        for kind in lifecycle_suite.CONTENDERS:
            calls = row["calls_per_lifecycle"][kind]
            assert 4 <= calls["python"] <= calls["all"], (n, kind)  # at least the four calls themselves
        assert row["calls_per_lifecycle"]["dispatcher_default"]["top"], n
    assert lifecycle["lean_options"]["audit"] == 0
    restore = lifecycle["restore"]
    assert restore["status"] in {"measured", "not available yet", "failed"}, restore  # failed: an API to adapt to
    assert (restore["seconds"] is None) == (restore["status"] != "measured")


def test_load_accounting_found_nothing_lost(quick_run: tuple[Path, dict[str, Any]]) -> None:
    """In every threaded run of the load scenario each ticket was served exactly once."""
    _, report = quick_run
    if "load" not in _present():
        pytest.skip("the load scenario is not in this build")
    accounting = report["scenarios"]["load"]["result"]["accounting"]
    assert accounting["by_run"], "no run was accounted for"
    for run_name, entry in accounting["by_run"].items():
        assert entry["lost"] == 0 and entry["duplicated"] == 0 and entry["unknown"] == 0, run_name
        assert entry["served_once"] == entry["submitted"] > 0, run_name
        assert all(entry["checks"].values()), run_name
    assert accounting["ok"] is True


def test_summary_and_plots_are_written(quick_run: tuple[Path, dict[str, Any]]) -> None:
    """summary.md has a section per scenario and links every plot, which exists."""
    out, report = quick_run
    text = (out / "summary.md").read_text()
    for entry in report["scenarios"].values():
        assert f"## {entry['title']}" in text
    pytest.importorskip("matplotlib")
    assert report["plots"], "no plot was drawn"
    for name in report["plots"]:
        assert (out / name).stat().st_size > 0, name
        assert f"]({name})" in text, name
    assert {"heap_scaling.png", "scale_mean.png", "scale_memory.png", "dispatch_cycle.png"} <= set(report["plots"])


def test_every_target_gets_a_verdict_in_the_summary(quick_run: tuple[Path, dict[str, Any]]) -> None:
    """Each scenario with performance targets yields rows, each met, MISSED or n/a,
    and summary.md lists them in its Targets table."""
    out, report = quick_run
    rows = cli.targets(report)
    assert {"heap", "queue", "scale", "lifecycle", "load"} <= {row[0] for row in rows}
    assert all(met in (True, False, None) for *_, met in rows)
    text = (out / "summary.md").read_text()
    assert "## Targets" in text
    for name, target, measured, met in rows:
        assert f"| {name} | {target} | {measured} | {'met' if met else 'MISSED' if met is False else 'n/a'} |" in text


def test_quick_prints_the_short_table_not_the_markdown(
    quick_run: tuple[Path, dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``bench --quick`` prints one line per target (met / MISSED with its ratio),
    not the markdown, which is still written in full to summary.md."""
    _, report = quick_run
    monkeypatch.setattr(cli, "run_suite", lambda *a, **k: _written(report, k["out_dir"]))
    assert main(["bench", "--quick", "--no-plots", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "# triage-queue benchmarks" not in out and "|" not in out
    lines = out.splitlines()
    assert lines[0].startswith("quick run,")
    for name, target, measured, _ in cli.targets(report):
        assert any(line.startswith(name) and target in line and measured in line for line in lines), target
    verdicts = [line.rsplit(None, 1)[-1] for line in lines[3:] if line and not line[0].isdigit()]
    assert verdicts and set(verdicts) <= {"met", "MISSED", "n/a"}
    assert lines[-1].endswith("targets met (quick sizes: indicative only; the full run measures them).")
    assert len(lines) < 40


def _written(report: dict[str, Any], out_dir: Path) -> dict[str, Any]:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "summary.md").write_text("# triage-queue benchmarks (quick run)\n")
    return report


TINY_DISPATCH = {"waiting": 100, "points": [[2, 3]], "cycles": 20, "repeat": 1, "anchor_budget": 0.02, "shift": [5, 2, 50]}


def test_only_selects_scenarios_and_no_plots(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--only runs just the scenarios named; --no-plots draws none."""
    monkeypatch.setattr(dispatch_suite, "params", lambda quick: TINY_DISPATCH)
    status = main(["bench", "--quick", "--quiet", "--only", "dispatch", "--no-plots", "--out", str(tmp_path)])
    report = json.loads((tmp_path / "results.json").read_text())
    assert status == 0
    assert list(report["scenarios"]) == ["dispatch"] and report["plots"] == []
    assert report["scenarios"]["dispatch"]["params"] == TINY_DISPATCH
    assert not list(tmp_path.glob("*.png"))


def test_scenarios_can_be_named_by_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """``--only`` also takes the module's short name (``sim`` for ``sim_suite``);
    without --quiet, progress goes to stderr and (with --full-summary) the whole markdown summary to stdout."""
    monkeypatch.setattr(dispatch_suite, "params", lambda quick: TINY_DISPATCH)
    monkeypatch.setattr(dispatch_suite, "NAME", "cycle")
    assert main(["bench", "--quick", "--full-summary", "--only", "dispatch", "--no-plots", "--out", str(tmp_path)]) == 0
    assert list(json.loads((tmp_path / "results.json").read_text())["scenarios"]) == ["cycle"]
    out, err = capsys.readouterr()
    assert "[1/1] cycle" in err and "dispatch cycle at 100 waiting" in err
    assert out.startswith("# triage-queue benchmarks (quick run)") and "### assign_all at a shift start" in out


def test_unknown_scenario_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A misspelt --only is a usage error: exit status 2 and one line naming
    the scenarios there are, before anything runs."""
    assert main(["bench", "--quick", "--quiet", "--only", "haep", "--out", str(tmp_path)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("bench: error: unknown scenario 'haep'"), lines
    assert "available: heap" in lines[0]
    assert not (tmp_path / "results.json").exists()


def test_a_failing_scenario_is_reported_and_the_others_still_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One scenario raising does not lose the others' figures; the exit status says so."""

    def broken(params: dict[str, Any], progress: Any) -> dict[str, Any]:
        raise RuntimeError("deliberately broken")

    monkeypatch.setattr(heap_suite, "run", broken)
    monkeypatch.setattr(dispatch_suite, "params", lambda quick: TINY_DISPATCH)
    status = main(["bench", "--quick", "--quiet", "--only", "heap", "--only", "dispatch", "--no-plots", "--out", str(tmp_path)])
    report = json.loads((tmp_path / "results.json").read_text())
    assert status == 1
    assert "deliberately broken" in report["errors"]["heap"]
    assert list(report["scenarios"]) == ["dispatch"]
    assert "| heap | FAILED |" in (tmp_path / "summary.md").read_text()


def test_heap_plan_is_exact() -> None:
    """The recorded heap workload only re-prioritises live keys and keeps its 40/30/30 mix."""
    fill, plan = heap_suite.make_plan(200, 3000)
    live = {k for k, _ in fill}
    kinds = [kind for kind, _, _ in plan]
    for kind, key, _ in plan:
        if kind == heap_suite.UPDATE:
            assert key in live
        elif kind == heap_suite.PUSH:
            assert key not in live
            live.add(key)
    assert 0.35 < kinds.count(heap_suite.UPDATE) / len(plan) < 0.45
    assert 0.25 < kinds.count(heap_suite.POP) / len(plan) < 0.35


@pytest.mark.parametrize("factory", [HeapqRecipe, SortedListDict], ids=["heapq recipe", "SortedList+dict"])
def test_anchor_adapters_pop_in_priority_order(factory: Any) -> None:
    """The anchors' adapters are correct priority queues (re-prioritising included),
    so the comparison is between equals."""
    import random

    rnd = random.Random(4)
    q = factory()
    model: dict[int, float] = {}
    for _ in range(2000):
        if model and rnd.random() < 0.3:
            key, priority = q.popitem()
            assert priority == min(model.values()) and model.pop(key) == priority
        else:
            key, priority = rnd.randrange(300), rnd.random()
            q[key] = priority
            model[key] = priority
        assert len(q) == len(model)


def test_dispatch_scenario_without_pqdict(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the bench extra the pqdict anchor is left out and reported
    "not installed", not failed."""
    from triage_queue._progress import Progress

    monkeypatch.setattr(dispatch_suite, "_have_pqdict", lambda: False)
    tiny = {"waiting": 200, "points": [[2, 3]], "cycles": 40, "repeat": 1, "anchor_budget": 0.05, "shift": [10, 2, 100]}
    result = dispatch_suite.run(tiny, Progress(enabled=False))
    row = result["points"]["2x3"]
    assert row["pqdict_us_per_cycle"] is None and row["speedup_vs_pqdict"] is None
    assert row["dispatcher_us_per_cycle"] > 0 and row["queue_us_per_cycle"] > 0
    assert "not installed" in "\n".join(dispatch_suite.markdown(result))


def test_heap_scenario_without_optional_anchors(monkeypatch: pytest.MonkeyPatch) -> None:
    """pqdict and heapdict missing: the run names them "not installed" and measures the rest."""
    from triage_queue._progress import Progress
    from triage_queue.bench import anchors

    real = anchors.structures

    def without_extras() -> dict[str, Any]:
        return {name: (None if name in {"pqdict", "heapdict"} else factory) for name, factory in real().items()}

    monkeypatch.setattr(heap_suite, "structures", without_extras)
    result = heap_suite.run({"sizes": [100, 200], "ops": 200, "repeat": 1, "memory_n": 100}, Progress(enabled=False))
    assert result["not_installed"] == ["heapdict", "pqdict"]
    assert set(result["sizes"]["100"]["us_per_op"]) == {"IndexedHeap", "heapq recipe", "SortedList+dict", "heapq tuple push/pop"}
    text = "\n".join(heap_suite.markdown(result))
    assert "| pqdict | not installed |" in text and "| heapdict | not installed |" in text


def test_simulator_scenario_without_simpy(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """SimPy missing: the simulator scenario still measures ours, says SimPy is not installed, and plots ours alone."""
    from triage_queue._progress import Progress
    from triage_queue.bench import sim_suite

    monkeypatch.setitem(sys.modules, "simpy", None)  # makes `import simpy` raise ImportError
    params = {**sim_suite.params(True), "tickets": 300, "day_agents": 5, "day_tickets": 200}
    result = sim_suite.run(params, Progress(enabled=False))
    assert result["simpy"] is None and result["speed_ratio"] is None
    assert result["ours"]["events_per_s"] > 0 and result["mean_wait"] >= 0
    assert "| SimPy | not installed |" in "\n".join(sim_suite.markdown(result))
    assert [p.name for p in sim_suite.plots(result, tmp_path)] == ["simulator_speed.png"]


def test_dispatch_plan_is_stationary() -> None:
    """Each planned ticket needs a group its agent holds, at a level it has;
    the same seed gives the same plan under another prefix."""
    agents = dispatch_suite.make_agents(30, 8)
    by_id = {a.id: a for a in agents}
    plan = dispatch_suite.make_cycles(agents, 200, "N")
    for agent_id, ticket in plan:
        assert ticket.skills.satisfied_by(by_id[agent_id].skills)
    again = dispatch_suite.make_cycles(agents, 200, "P")
    assert [(a, t.skills, t.severity) for a, t in plan] == [(a, t.skills, t.severity) for a, t in again]
    assert {t.id for _, t in plan}.isdisjoint(t.id for _, t in again)


def test_maximality_check_agrees_with_the_full_check() -> None:
    """The per-lane check finds a free qualified agent exactly when the
    dispatcher's own O(n*A) check does."""
    from triage_queue import Agent, Dispatcher, ManualClock, SkillSet, Ticket, TicketQueue

    d = Dispatcher(TicketQueue(clock=ManualClock(0.0)), offer_timeout=None, affinity_wait=0)
    with d.paused():
        d.add_agent(Agent("ana", skills={"group0": 3}, capacity={"chat": 1}))
        d.add_agent(Agent("bo", skills={"group1": 2}))
        d.submit(Ticket("T-1", 0.0, skills={"group0": 2}, channel="chat"))
        d.submit(Ticket("T-2", 0.0, skills={"group0": 2}, channel="email"))  # ana takes no email
        d.submit(Ticket("T-3", 0.0, skills={"group1": 3}))  # bo's level is too low
        assert sorted(dispatch_suite.free_lane_violations(d)) == [("ana", SkillSet({"group0": 2}), "chat")]
        with pytest.raises(AssertionError):
            d._desk.check_work_conserving()
    assert dispatch_suite.free_lane_violations(d) == []
    d._desk.check_work_conserving()
    assert d.status("T-1") == "offered" and d.status("T-2") == d.status("T-3") == "waiting"


def test_old_entry_point_still_works(tmp_path: Path) -> None:
    """``python benchmarks/run.py`` (old instructions) forwards to the new command."""
    import runpy

    script = Path(__file__).resolve().parent.parent / "benchmarks" / "run.py"
    namespace = runpy.run_path(str(script))
    argv, copy_to = namespace["translate"](["--quick", "--only", "heap", "--json", str(tmp_path / "x.json")])
    assert argv[:4] == ["bench", "--quick", "--only", "heap"] and argv[4] == "--out"
    assert copy_to == tmp_path / "x.json"
    assert namespace["translate"]([]) == (["bench"], None)


def test_docs_embed_every_plot_and_every_embedded_plot_exists(quick_run: tuple[Path, dict[str, Any]]) -> None:
    """docs/benchmarks.md shows every plot the suite draws, from docs/bench/, and none is missing there."""
    import re

    pytest.importorskip("matplotlib")
    _, report = quick_run
    docs = Path(__file__).resolve().parent.parent / "docs"
    linked = set(re.findall(r"\]\(bench/([\w.-]+\.png)\)", (docs / "benchmarks.md").read_text()))
    assert set(report["plots"]) <= linked
    assert [name for name in sorted(linked) if not (docs / "bench" / name).is_file()] == []
