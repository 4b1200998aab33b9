"""``Dispatcher(stats=False)``: nothing is counted, everything else is the
same.  A desk without statistics makes the same offers, emits the same
events and reaches the same states as one with them, step for step, on the
long random script of tests/desk_script.py; ``stats()`` refuses; the setting
survives a snapshot and restore; ``classify`` is never called."""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import pytest

from triage_queue import Agent, Dispatcher, InvalidArgument, ManualClock, Policy, Ticket, TicketQueue

sys.path.insert(0, str(Path(__file__).parent))
import desk_script


def _start(seed: int, strategy: str, stats: bool) -> desk_script.Run:
    # desk_script.start, with the stats option.
    rng = random.Random(seed)
    clock = ManualClock(0.0)
    d = Dispatcher(
        TicketQueue(Policy.default(max_wait=600), clock=clock),
        [desk_script.agent(rng, f"a{i}") for i in range(5)],
        selection=desk_script.STRATEGIES[strategy](),
        offer_timeout=rng.choice([None, 30.0]),
        retry_after=rng.choice([None, 60.0]),
        sla_warning=10.0,
        affinity_wait=20.0,
        stats=stats,
    )
    return desk_script.Run(d, clock, rng, [], [a.id for a in d.roster], with_stats=False)


@pytest.mark.parametrize("strategy", ["longest_idle", "tied", "least_loaded"])
@pytest.mark.parametrize("seed", [3, 11])
def test_a_desk_without_statistics_behaves_as_one_with_them(seed: int, strategy: str) -> None:
    on, off = _start(seed, strategy, True), _start(seed, strategy, False)
    for step in range(400):
        assert off.line(step) == on.line(step), f"step {step}"
        if step % 50 == 49:
            off.d._check()
            on.d._check()


def test_stats_refuses_on_a_desk_without_statistics() -> None:
    d = Dispatcher(TicketQueue(clock=ManualClock(0.0)), [Agent("ana")], stats=False)
    d.submit(Ticket("T-1", 0.0))
    with pytest.raises(InvalidArgument, match="keeps no statistics"):
        d.stats()


def test_stats_must_be_a_bool() -> None:
    with pytest.raises(InvalidArgument, match="stats"):
        Dispatcher(TicketQueue(clock=ManualClock(0.0)), stats=1)  # type: ignore[arg-type]


def test_classify_is_never_called_without_statistics() -> None:
    def classify(ticket: Ticket) -> str:
        raise AssertionError("classify called")

    d = Dispatcher(TicketQueue(clock=ManualClock(0.0)), [Agent("ana")], classify=classify, stats=False)
    offer = d.submit(Ticket("T-1", 0.0))
    assert offer is not None
    d.submit(Ticket("T-2", 0.0))
    d.decline(offer)
    d.accept(d.offers_for("ana")[0] if d.offers_for("ana") else d.next_for("ana"))  # type: ignore[arg-type]
    d._check()


def test_the_setting_survives_a_snapshot_and_restore() -> None:
    clock = ManualClock(0.0)
    d = Dispatcher(TicketQueue(clock=clock), [Agent("ana")], stats=False)
    offer = d.submit(Ticket("T-1", 0.0))
    assert offer is not None
    d.accept(offer)
    d.submit(Ticket("T-2", 0.0))
    data = json.loads(json.dumps(d.snapshot()))
    assert data["settings"]["stats"] is False
    copy = Dispatcher.restore(data, clock=clock)
    with pytest.raises(InvalidArgument, match="keeps no statistics"):
        copy.stats()
    copy._check()
    assert copy.complete("T-1").id == "T-1" and copy.next_for("ana").ticket.id == "T-2"  # type: ignore[union-attr]


def test_a_snapshot_without_the_setting_restores_with_statistics() -> None:
    clock = ManualClock(0.0)
    d = Dispatcher(TicketQueue(clock=clock), [Agent("ana")])
    d.submit(Ticket("T-1", 0.0))
    data = json.loads(json.dumps(d.snapshot()))
    del data["settings"]["stats"]  # made before the option existed
    copy = Dispatcher.restore(data, clock=clock)
    assert copy.stats().overall.served == 0
