"""The desk is a function of its operations and the clock readings it is
given: the same operations give the same results, events and state in any
process, whatever ``PYTHONHASHSEED`` (which changes string hashing, set
order and memory layout)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from triage_queue import Agent, Dispatcher, ManualClock, Ticket, TicketQueue

SCRIPT = Path(__file__).with_name("desk_script.py")


def digests(seed: int, steps: int, strategy: str, hash_seed: str) -> list[str]:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    done = subprocess.run(
        [sys.executable, str(SCRIPT), str(seed), str(steps), strategy],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.split()


@pytest.mark.parametrize(
    ("seed", "strategy"),
    [(1, "longest_idle"), (2, "tied"), (3, "by_skill_count"), (4, "least_loaded"), (5, "round_robin"), (6, "most_proficient")],
)
def test_the_same_operations_give_the_same_desk_in_every_process(seed: int, strategy: str) -> None:
    runs = [digests(seed, 400, strategy, hash_seed) for hash_seed in ("0", "1", "4242")]
    assert len(runs[0]) == 400
    for other in runs[1:]:
        first_difference = next((i for i, (a, b) in enumerate(zip(runs[0], other, strict=True)) if a != b), None)
        assert first_difference is None, f"processes diverge at step {first_difference}"


def test_reads_do_not_write_with_advance_on_read_false() -> None:
    """Reads at later clock readings report the desk as of the last operation
    and change nothing; tick() then applies what fell due."""
    clock = ManualClock(0.0)
    d = Dispatcher(TicketQueue(clock=clock), [Agent("ana"), Agent("bo", status="away")], offer_timeout=30, advance_on_read=False)
    offer = d.submit(Ticket("T-1", 0.0, sla_due=20.0))
    assert offer is not None
    events = len(d.events)
    clock.advance(100)
    assert d.status("T-1") == "offered"  # the offer expired at 30, but no operation has run
    assert [o.id for o in d.offers_for("ana")] == [offer.id]
    assert d.stats().now == 0.0 and d.stats().overall.waiting == 0
    assert d.explain_assignment("T-1").now == 0.0
    assert len(d.events) == events  # nothing happened
    assert d.next_due() == 20.0  # the SLA breach comes first
    d.tick()
    assert d.status("T-1") == "waiting" and d.stats().now == 100.0
    assert [(e.kind.value, e.time) for e in d.events][-2:] == [("sla_breached", 100.0), ("expired", 100.0)]


def test_offer_ids_carry_the_desks_name() -> None:
    d = Dispatcher(TicketQueue(clock=lambda: 0.0), [Agent("ana")], name="eu-desk")
    offer = d.submit(Ticket("T-1", 0.0))
    assert offer is not None and offer.id == "eu-desk-1"
