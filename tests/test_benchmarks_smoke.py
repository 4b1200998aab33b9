"""The benchmark suite runs end to end (tiny sizes) and reports every figure.

No time is asserted: speed is measured in benchmarks/, not in tests.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.fixture()
def bench_modules(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(BENCH))


def test_heap_plan_is_exact(bench_modules: None) -> None:
    """The recorded heap workload only re-prioritises live keys and keeps its 40/30/30 mix."""
    import bench_heap

    fill, plan = bench_heap.make_plan(200, 3000)
    live = {k for k, _ in fill}
    kinds = [kind for kind, _, _ in plan]
    for kind, key, _ in plan:
        if kind == bench_heap.UPDATE:
            assert key in live
        elif kind == bench_heap.PUSH:
            assert key not in live
            live.add(key)
    assert 0.35 < kinds.count(bench_heap.UPDATE) / len(plan) < 0.45
    assert 0.25 < kinds.count(bench_heap.POP) / len(plan) < 0.35


def test_quick_run_reports_every_figure(bench_modules: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`benchmarks/run.py --quick --json` writes every structure, size, ratio input and memory figure."""
    import run

    out = tmp_path / "bench.json"
    assert run.main(["--quick", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["machine"]["python"] == sys.version.split()[0]
    for size, row in report["heap"]["sizes"].items():
        assert {"IndexedHeap", "heapq recipe", "SortedList+dict", "heapq tuple push/pop"} <= set(row), size
        assert all(value > 0 for value in row.values())
    for size, row in report["queue"]["sizes"].items():
        assert row["TicketQueue"] > 0 and row["heapq tuple push/pop"] > 0, size
    assert report["heap"]["memory_bytes_per_entry"]["IndexedHeap"] > 0
    memory = report["queue"]["memory_bytes_per_ticket"]
    assert memory["queue_overhead"] > 0 and memory["ticket_object"] > 0
    assert report["queue"]["positions"]["per_poll_us"] > 0
    dispatch = report["dispatch"]
    assert dispatch["points"], "no dispatch point was measured"
    for point, row in dispatch["points"].items():
        assert row["waiting"] == dispatch["waiting"], point
        assert row["dispatcher_us_per_cycle"] > 0 and row["queue_us_per_cycle"] > 0, point
        assert "pqdict_us_per_cycle" in row and "speedup_vs_pqdict" in row, point
    assert dispatch["assign_all"]["maximal"] is True
    out_text = capsys.readouterr().out
    assert "IndexedHeap speed-up" in out_text
    assert "Dispatcher cycle at" in out_text and "assign_all at a shift start" in out_text


def test_dispatch_benchmark_without_pqdict(bench_modules: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the bench extra (as in CI) the pqdict anchor is left out, not failed."""
    import bench_dispatch

    monkeypatch.setattr(bench_dispatch, "_have_pqdict", lambda: False)
    results = bench_dispatch.run(200, [(2, 3)], cycles=40, repeat=1, anchor_budget=0.05, shift=(10, 2, 100), log=lambda line: None)
    row = results["points"]["2x3"]
    assert row["pqdict_us_per_cycle"] is None and row["speedup_vs_pqdict"] is None
    assert row["dispatcher_us_per_cycle"] > 0 and row["queue_us_per_cycle"] > 0
    assert "n/a (pqdict not installed)" in "\n".join(bench_dispatch.markdown(results))


def test_dispatch_benchmark_tiny_run(bench_modules: None) -> None:
    """bench_dispatch.run at tiny sizes: every key of every point, a constant
    backlog, every agent served, and a maximal shift-start assignment."""
    import bench_dispatch

    lines: list[str] = []
    results = bench_dispatch.run(300, [(1, 3), (4, 5)], cycles=80, repeat=2, anchor_budget=0.05, shift=(20, 4, 300), log=lines.append)
    assert set(results["points"]) == {"1x3", "4x5"}
    assert len(lines) == 3
    for key, row in results["points"].items():
        assert {
            "groups",
            "agents",
            "waiting",
            "agent_profiles",
            "agent_skill_sets",
            "first_route_of_a_requirement_us",
            "cycles",
            "dispatcher_us_per_cycle",
            "dispatcher_us_per_call",
            "dispatcher_breakdown_us",
            "misses",
            "queue_us_per_cycle",
            "ratio_vs_queue",
            "pqdict_us_per_cycle",
            "pqdict_cycles",
            "pqdict_scanned_per_cycle",
            "speedup_vs_pqdict",
        } <= set(row), key
        assert row["waiting"] == 300, "the backlog was not topped up to exactly n"
        assert row["misses"] == 0, "an agent found nothing to take"
        assert row["dispatcher_us_per_call"] == pytest.approx(row["dispatcher_us_per_cycle"] / 4)
        assert set(row["dispatcher_breakdown_us"]) == {"complete (offers the next ticket)", "next_for", "accept", "submit"}
        if row["pqdict_cycles"] is not None:  # the bench extra is installed
            assert 1 <= row["pqdict_cycles"] <= 80
            assert row["pqdict_scanned_per_cycle"] >= 1
    shift = results["assign_all"]
    assert {"assign_all_seconds", "set_status_seconds", "offered", "capacity", "room_left", "maximal", "violations", "check_seconds"} <= set(shift)
    assert shift["maximal"] and shift["violations"] == 0
    assert 0 < shift["offered"] <= shift["capacity"]
    text = "\n".join(bench_dispatch.markdown(results))
    assert "| 4 | 5 |" in text and "assign_all" in text


def test_dispatch_plan_is_stationary(bench_modules: None) -> None:
    """Each planned ticket needs a group its agent holds, at a level it has;
    the same seed gives the same plan under another prefix."""
    import bench_dispatch

    agents = bench_dispatch.make_agents(30, 8)
    by_id = {a.id: a for a in agents}
    plan = bench_dispatch.make_cycles(agents, 200, "N")
    for agent_id, ticket in plan:
        assert ticket.skills.satisfied_by(by_id[agent_id].skills)
    again = bench_dispatch.make_cycles(agents, 200, "P")
    assert [(a, t.skills, t.severity) for a, t in plan] == [(a, t.skills, t.severity) for a, t in again]
    assert {t.id for _, t in plan}.isdisjoint(t.id for _, t in again)


def test_maximality_check_agrees_with_the_full_check(bench_modules: None) -> None:
    """The per-lane check finds a free qualified agent exactly when the
    dispatcher's own O(n*A) check does."""
    import bench_dispatch
    from triage_queue import Agent, Dispatcher, ManualClock, SkillSet, Ticket, TicketQueue

    d = Dispatcher(TicketQueue(clock=ManualClock(0.0)), offer_timeout=None, affinity_wait=0)
    with d.paused():
        d.add_agent(Agent("ana", skills={"group0": 3}, capacity={"chat": 1}))
        d.add_agent(Agent("bo", skills={"group1": 2}))
        d.submit(Ticket("T-1", 0.0, skills={"group0": 2}, channel="chat"))
        d.submit(Ticket("T-2", 0.0, skills={"group0": 2}, channel="email"))  # ana takes no email
        d.submit(Ticket("T-3", 0.0, skills={"group1": 3}))  # bo's level is too low
        assert sorted(bench_dispatch.free_lane_violations(d)) == [("ana", SkillSet({"group0": 2}), "chat")]
        with pytest.raises(AssertionError):
            d._check_work_conserving()
    assert bench_dispatch.free_lane_violations(d) == []
    d._check_work_conserving()
    assert d.status("T-1") == "offered" and d.status("T-2") == d.status("T-3") == "waiting"
