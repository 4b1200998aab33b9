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
    assert "IndexedHeap speed-up" in capsys.readouterr().out
