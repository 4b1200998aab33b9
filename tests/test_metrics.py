"""The Prometheus collector (triage_queue.metrics) with the real
prometheus_client: what a scrape shows for a small desk driven by a manual
clock, events counted from many threads, bounded series, any desk offering
stats() and subscribe(), and the core never importing prometheus_client."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Any

import attrs
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from triage_queue import (
    Agent,
    AgentFigures,
    Dispatcher,
    Event,
    InvalidArgument,
    ManualClock,
    Statistics,
    Ticket,
    TicketQueue,
)
from triage_queue.metrics import DeskCollector

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(registry: CollectorRegistry) -> Samples:
    """Every sample of the text exposition, by name and sorted labels."""
    text = generate_latest(registry).decode()
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def small_desk() -> tuple[ManualClock, Dispatcher, CollectorRegistry, DeskCollector]:
    clock = ManualClock(0.0)
    desk = Dispatcher(
        TicketQueue(clock=clock),
        [Agent("ana", skills={"billing": 2}, capacity=2), Agent("bo", skills={"billing": 1}, status="away")],
        sla_warning=30,
        offer_timeout=None,
    )
    registry = CollectorRegistry()
    collector = DeskCollector(desk)
    registry.register(collector)
    return clock, desk, registry, collector


def test_a_scrape_shows_the_desk_now() -> None:
    """Waiting counts by class and skill group, oldest wait, wait percentiles,
    agents' load and status, occupancy, unroutable and events, as the desk has them."""
    clock, desk, registry, _ = small_desk()
    first = desk.submit(Ticket("T-1", 0.0, skills=["billing"], sla_due=600.0))
    assert first is not None
    desk.submit(Ticket("T-2", 0.0, skills=["german"], severity="high"))  # nobody speaks german
    clock.advance(40)
    desk.accept(first.id)
    desk.submit(Ticket("T-3", 40.0, skills=["billing"], severity="high"))  # offered to ana's second slot
    clock.advance(20)
    s = scrape(registry)
    assert value(s, "triage_stats_up") == 1
    assert value(s, "triage_waiting_tickets") == 1  # T-2 (T-3 is offered, out of the queue)
    assert value(s, "triage_class_waiting_tickets", **{"class": "high"}) == 1
    assert value(s, "triage_class_waiting_tickets", **{"class": "normal"}) == 0
    assert value(s, "triage_skill_group_waiting_tickets", skills="german") == 1
    assert value(s, "triage_skill_group_waiting_tickets", skills="billing") == 0
    assert value(s, "triage_oldest_wait_seconds") == 60
    assert value(s, "triage_skill_group_oldest_wait_seconds", skills="german") == 60
    assert value(s, "triage_skill_group_oldest_wait_seconds", skills="billing") is None  # nothing waits there
    for quantile in ("0.5", "0.9", "0.99"):
        assert value(s, "triage_wait_seconds", quantile=quantile) == pytest.approx(40, rel=0.01)
        assert value(s, "triage_class_wait_seconds", quantile=quantile, **{"class": "normal"}) == pytest.approx(40, rel=0.01)
    assert value(s, "triage_wait_max_seconds") == 40
    assert value(s, "triage_served_total") == 1
    assert value(s, "triage_unroutable_tickets") == 1
    assert value(s, "triage_occupancy_ratio") == 1.0  # ana holds 2 of 2; bo is away
    assert value(s, "triage_agent_load_tickets", agent="ana") == 2
    assert value(s, "triage_agent_capacity_tickets", agent="ana") == 2
    assert value(s, "triage_agent_status", agent="bo", status="away") == 1
    assert value(s, "triage_agent_status", agent="bo", status="available") == 0
    assert value(s, "triage_agent_offers_total", agent="ana") == 2
    assert value(s, "triage_agent_served_total", agent="ana") == 1
    assert value(s, "triage_events_total", kind="submitted") == 3
    assert value(s, "triage_events_total", kind="offered") == 2
    assert value(s, "triage_events_total", kind="accepted") == 1
    assert value(s, "triage_events_total", kind="unroutable") == 1
    assert value(s, "triage_events_total", kind="declined") == 0  # every kind is present
    assert value(s, "triage_answered_total") == 1
    assert value(s, "triage_sla_attainment_ratio") == 1.0


def test_sla_attainment_counts_tickets_answered_after_their_sla_ran_out() -> None:
    """A ticket accepted after an SLA breach counts as late; attainment is the share answered in time."""
    clock, desk, registry, _ = small_desk()
    desk.set_status("ana", "away")
    desk.submit(Ticket("late", 0.0, skills=["billing"], sla_due=60.0))
    desk.submit(Ticket("in-time", 0.0, skills=["billing"], sla_due=600.0))
    s = scrape(registry)
    assert value(s, "triage_sla_attainment_ratio") is None  # nothing answered yet
    clock.advance(100)
    desk.tick()
    desk.set_status("bo", "available")
    offer = desk.offers_for("bo")[0]
    desk.accept(offer)
    desk.complete(offer.ticket.id)
    desk.accept(desk.offers_for("bo")[0])
    s = scrape(registry)
    assert value(s, "triage_events_total", kind="sla_warning") == 1
    assert value(s, "triage_events_total", kind="sla_breached") == 1
    assert value(s, "triage_answered_total") == 2
    assert value(s, "triage_answered_late_total") == 1
    assert value(s, "triage_sla_attainment_ratio") == 0.5


def test_events_are_counted_from_many_threads() -> None:
    """Events from concurrent callers are all counted, none twice."""
    clock = ManualClock(0.0)
    desk = Dispatcher(TicketQueue(clock=clock))
    collector = DeskCollector(desk)
    registry = CollectorRegistry()
    registry.register(collector)

    def submit(worker: int) -> None:
        for n in range(200):
            desk.submit(Ticket(f"T-{worker}-{n}", 0.0))

    threads = [threading.Thread(target=submit, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    scrapes = [scrape(registry) for _ in range(5)]  # scraping meanwhile is safe
    for thread in threads:
        thread.join()
    s = scrape(registry)
    assert value(s, "triage_events_total", kind="submitted") == 1600
    assert value(s, "triage_waiting_tickets") == 1600
    assert all((value(x, "triage_events_total", kind="submitted") or 0) <= 1600 for x in scrapes)


def test_close_stops_counting_but_scrapes_still_answer() -> None:
    """After close() events are no longer counted; the figures from stats() still are."""
    _, desk, registry, collector = small_desk()
    desk.submit(Ticket("T-1", 0.0))
    collector.close()
    collector.close()
    desk.submit(Ticket("T-2", 0.0))
    s = scrape(registry)
    assert value(s, "triage_events_total", kind="submitted") == 1
    assert value(s, "triage_served_total") == 0
    assert value(s, "triage_agent_load_tickets", agent="ana") == 2


def test_group_series_are_bounded() -> None:
    """Over max_groups classes, the ones with most waiting are shown and the rest counted as omitted."""
    clock = ManualClock(0.0)
    desk = Dispatcher(TicketQueue(clock=clock), classify=lambda t: str(t.attributes["topic"]))
    registry = CollectorRegistry()
    registry.register(DeskCollector(desk, max_groups=3))
    for topic in range(10):
        for n in range(topic + 1):
            desk.submit(Ticket(f"T-{topic}-{n}", 0.0, attributes={"topic": f"topic{topic}"}))
    s = scrape(registry)
    shown = {dict(labels)["class"] for name, labels in s if name == "triage_class_waiting_tickets"}
    assert shown == {"topic7", "topic8", "topic9"}
    assert value(s, "triage_groups_omitted", by="class") == 7
    assert value(s, "triage_groups_omitted", by="skills") == 0


class SharedDeskHandle:
    """Not a Dispatcher: anything offering stats() and subscribe() will do."""

    def __init__(self, desk: Dispatcher) -> None:
        self._desk = desk

    def stats(self) -> Statistics:
        return self._desk.stats()

    def subscribe(self, listener: Callable[[Event], None]) -> Callable[[], None]:
        return self._desk.subscribe(listener)


def test_any_desk_with_stats_and_subscribe_works() -> None:
    """A stand-in for a shared desk's handle is collected like a Dispatcher."""
    desk = Dispatcher(TicketQueue(clock=ManualClock(0.0)))
    registry = CollectorRegistry()
    registry.register(DeskCollector(SharedDeskHandle(desk), namespace="helpdesk"))
    desk.submit(Ticket("T-1", 0.0))
    s = scrape(registry)
    assert value(s, "helpdesk_waiting_tickets") == 1
    assert value(s, "helpdesk_events_total", kind="submitted") == 1


def test_a_desk_without_statistics_still_counts_events() -> None:
    """stats() refusing (a desk made with stats=False) gives stats_up 0 and the event counts."""
    desk = Dispatcher(TicketQueue(clock=ManualClock(0.0)), stats=False)
    registry = CollectorRegistry()
    registry.register(DeskCollector(desk))
    desk.submit(Ticket("T-1", 0.0))
    s = scrape(registry)
    assert value(s, "triage_stats_up") == 0
    assert value(s, "triage_waiting_tickets") is None
    assert value(s, "triage_events_total", kind="submitted") == 1


@attrs.frozen(slots=True)
class LaterAgentFigures(AgentFigures):
    """Figures a later version might add (per-agent handle time, say)."""

    handle_p90: float | None = None


class FixedStats:
    def __init__(self, stats: Statistics) -> None:
        self._stats = stats

    def stats(self) -> Statistics:
        return self._stats

    def subscribe(self, listener: Callable[[Event], None]) -> Callable[[], None]:
        return lambda: None


def test_further_numeric_fields_are_shown_as_gauges() -> None:
    """A numeric field the collector does not know is shown under its own name; None is left out."""
    empty = Dispatcher(TicketQueue(clock=ManualClock(0.0))).stats().overall
    agents: dict[str, Any] = {
        "ana": LaterAgentFigures("available", 1, 2, 3, 0, 0, 2, handle_p90=95.5),
        "bo": LaterAgentFigures("away", 0, 1, 0, 0, 0, 0),
    }
    registry = CollectorRegistry()
    registry.register(DeskCollector(FixedStats(Statistics(0.0, empty, {}, {}, 0.5, agents))))
    s = scrape(registry)
    assert value(s, "triage_agent_handle_p90", agent="ana") == 95.5
    assert value(s, "triage_agent_handle_p90", agent="bo") is None
    assert value(s, "triage_occupancy_ratio") == 0.5


def test_a_registry_refuses_two_collectors_with_the_same_names() -> None:
    """describe() names the families, so a clash is refused at register time; another namespace is fine."""
    desk = Dispatcher(TicketQueue(clock=ManualClock(0.0)))
    registry = CollectorRegistry()
    registry.register(DeskCollector(desk))
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        registry.register(DeskCollector(desk))
    registry.register(DeskCollector(desk, namespace="other"))


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"namespace": "help desk"}, "namespace"),
        ({"namespace": "1x"}, "namespace"),
        ({"namespace": 5}, "namespace"),
        ({"max_groups": 0}, "max_groups"),
        ({"max_groups": True}, "max_groups"),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict[str, Any], field: str) -> None:
    """A bad namespace or bound raises InvalidArgument naming it, and subscribes nothing."""
    desk = Dispatcher(TicketQueue(clock=ManualClock(0.0)))
    with pytest.raises(InvalidArgument) as info:
        DeskCollector(desk, **kwargs)
    assert info.value.field == field
    assert desk._trail.listeners == []


def test_a_desk_must_offer_stats_and_subscribe() -> None:
    """Something that is not a desk is refused by name."""
    with pytest.raises(InvalidArgument) as info:
        DeskCollector(object())  # type: ignore[arg-type]
    assert info.value.field == "desk"


def test_the_core_never_imports_prometheus_client() -> None:
    """import triage_queue (and even triage_queue.metrics) leaves prometheus_client unimported."""
    code = (
        "import sys, triage_queue, triage_queue.metrics\n"
        "from triage_queue import Dispatcher, TicketQueue, Ticket\n"
        "d = Dispatcher(TicketQueue(clock=lambda: 0.0)); d.submit(Ticket('T', 0.0)); d.stats()\n"
        "assert 'prometheus_client' not in sys.modules, sorted(m for m in sys.modules if 'prometheus' in m)\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
