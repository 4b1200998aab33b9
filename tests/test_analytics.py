"""Analytics (docs/analytics.md): per-agent performance in stats(), recurring
issues per category, hourly trends per category, their export, snapshot and
restore, and their bounds."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from triage_queue import (
    Agent,
    AgentFigures,
    AnalyticsOptions,
    Dispatcher,
    EventKind,
    HourFigures,
    InvalidArgument,
    ManualClock,
    RecurringFigures,
    Statistics,
    Ticket,
    TicketQueue,
)
from triage_queue.analytics import OTHER_CATEGORY

HOUR = 3600.0


def desk(agents: list[Agent] | None = None, **options: Any) -> tuple[Dispatcher, ManualClock]:
    clock = ManualClock(0.0)
    d = Dispatcher(TicketQueue(clock=clock), agents if agents is not None else [Agent("ana")], offer_timeout=None, **options)
    return d, clock


def topic(ticket_id: str, at: float, category: str, **fields: Any) -> Ticket:
    return Ticket(ticket_id, at, attributes={"topic": category}, **fields)


# -- per-agent performance ---------------------------------------------------------


def test_an_agents_handle_times_count_only_completed_tickets() -> None:
    """handled, handle_mean and handle_p90 come from acceptance to completion
    of the tickets the agent completed; a cancelled one does not count."""
    d, clock = desk([Agent("ana", capacity=5)])
    for i, handle in enumerate([10.0, 20.0, 30.0, 40.0]):
        clock.set(100.0 * i)
        d.accept(d.submit(Ticket(f"T-{i}", clock())))  # type: ignore[arg-type]
        clock.advance(handle)
        d.complete(f"T-{i}")
    d.accept(d.submit(Ticket("C", clock())))  # type: ignore[arg-type]
    clock.advance(500.0)
    d.cancel("C")
    ana = d.stats().agents["ana"]
    assert ana.handled == 4
    assert ana.handle_mean == pytest.approx(25.0)
    assert ana.handle_p90 == pytest.approx(40.0, rel=0.02)
    assert ana.served == 5  # accepted, including the cancelled one


def test_occupancy_is_time_on_assigned_tickets_over_capacity_time_not_offline() -> None:
    """One ticket held for 30 of the 60 seconds at capacity 1 is 0.5; time
    offline is not counted as staffed."""
    d, clock = desk([Agent("ana")])
    assert d.stats().agents["ana"].occupancy is None  # no time yet
    clock.set(10.0)
    d.accept(d.submit(Ticket("T-1", 10.0)))  # type: ignore[arg-type]
    clock.set(40.0)
    d.complete("T-1")
    clock.set(60.0)
    assert d.stats().agents["ana"].occupancy == pytest.approx(0.5)
    d.set_status("ana", "offline")
    clock.set(1000.0)  # offline: not staffed
    assert d.stats().agents["ana"].occupancy == pytest.approx(0.5)
    d.set_status("ana", "available")
    clock.set(1060.0)  # 60 more staffed seconds, idle
    assert d.stats().agents["ana"].occupancy == pytest.approx(30.0 / 120.0)


def test_occupancy_counts_an_open_assignment_up_to_now() -> None:
    """A ticket still assigned counts for the time it has been held so far."""
    d, clock = desk([Agent("ana", capacity=2)])
    d.accept(d.submit(Ticket("T-1", 0.0)))  # type: ignore[arg-type]
    clock.set(50.0)
    assert d.stats().agents["ana"].occupancy == pytest.approx(50.0 / 100.0)


def test_sla_attainment_of_an_agents_tickets() -> None:
    """A ticket with an SLA deadline accepted by it is met, after it missed;
    tickets without a deadline do not count."""
    d, clock = desk([Agent("ana", capacity=3)])
    d.submit(Ticket("met", 0.0, sla_due=50.0))
    d.submit(Ticket("missed", 0.0, sla_due=5.0))
    d.submit(Ticket("none", 0.0))
    clock.set(10.0)
    for offer in d.offers_for("ana"):
        d.accept(offer)
    ana = d.stats().agents["ana"]
    assert (ana.sla_met, ana.sla_missed, ana.sla_attainment) == (1, 1, 0.5)


def test_declines_and_expiries_are_in_the_agents_figures() -> None:
    """The agent's declined and expired offers are counted (the roster's counters)."""
    clock = ManualClock(0.0)
    d = Dispatcher(TicketQueue(clock=clock), [Agent("ana"), Agent("bo", status="away")], offer_timeout=30.0)
    d.decline(d.submit(Ticket("T-1", 0.0)))  # type: ignore[arg-type]
    d.submit(Ticket("T-2", 0.0))
    clock.set(31.0)
    d.tick()
    ana = d.stats().agents["ana"]
    assert (ana.declined, ana.expired) == (1, 1)


def test_an_agent_leaving_takes_its_figures_with_it() -> None:
    """Figures are kept for agents on the roster only (bounded by the roster)."""
    d, _ = desk([Agent("ana"), Agent("bo")])
    d.remove_agent("bo")
    assert set(d.stats().agents) == {"ana"}
    assert set(d._desk.analytics.agents) == {"ana"}
    d.add_agent(Agent("bo"))
    assert d.stats().agents["bo"].handled == 0


# -- recurring issues ----------------------------------------------------------------


def test_five_tickets_of_one_category_within_the_window_are_a_recurring_issue() -> None:
    """The fifth refund-delay ticket within an hour emits a recurring event,
    worded "refund-delay: 5 in 1h", and the category counts one detection."""
    d, clock = desk([], analytics=AnalyticsOptions(category="topic", recurring_count=5, recurring_window=HOUR))
    for i in range(5):
        clock.set(600.0 * i)
        d.submit(topic(f"T-{i}", clock(), "refund-delay"))
        d.submit(topic(f"O-{i}", clock(), f"other-{i}"))
    recurring = [e for e in d.events if e.kind is EventKind.RECURRING]
    assert [(e.ticket_id, e.detail) for e in recurring] == [("T-4", "refund-delay: 5 in 1h")]
    assert recurring[0].changes == {"category": "refund-delay", "count": 5, "window": HOUR}
    figures = d.stats().recurring
    assert figures["refund-delay"] == RecurringFigures(1, 2400.0, 0)
    assert figures["other-0"] == RecurringFigures(0, None, 1)


def test_arrivals_spread_wider_than_the_window_are_not_recurring() -> None:
    """Three tickets, each 40 minutes apart, never fall within one half-hour window."""
    d, clock = desk([], analytics=AnalyticsOptions(category="topic", recurring_count=2, recurring_window=1800))
    for i in range(3):
        clock.set(2400.0 * i)
        d.submit(topic(f"T-{i}", clock(), "login"))
    assert not [e for e in d.events if e.kind is EventKind.RECURRING]
    assert d.stats().recurring["login"] == RecurringFigures(0, None, 1)


def test_the_count_starts_again_after_a_detection() -> None:
    """Six quick arrivals with a count of 3 are two detections, not four."""
    d, _ = desk([], analytics=AnalyticsOptions(category="topic", recurring_count=3))
    for i in range(6):
        d.submit(topic(f"T-{i}", 0.0, "outage"))
    assert d.stats().recurring["outage"].detected == 2


def test_tickets_without_the_category_attribute_are_never_recurring() -> None:
    """A ticket lacking the attribute is counted in the trends under "(none)"
    but takes no part in recurring detection."""
    d, _ = desk([], analytics=AnalyticsOptions(category="topic", recurring_count=2))
    for i in range(4):
        d.submit(Ticket(f"T-{i}", 0.0))
    s = d.stats()
    assert s.recurring == {}
    assert s.trends["(none)"][0].arrivals == 4


def test_without_a_category_no_recurring_issue_is_detected_and_trends_are_per_class() -> None:
    """The default options keep trends per ticket class (severity) only."""
    d, _ = desk([])
    for i in range(10):
        d.submit(Ticket(f"T-{i}", 0.0, severity="high" if i % 2 else "normal"))
    s = d.stats()
    assert s.recurring == {}
    assert {k: v[0].arrivals for k, v in s.trends.items()} == {"high": 5, "normal": 5}


# -- trends ----------------------------------------------------------------------------


def test_trends_count_arrivals_and_sla_attainment_per_category_and_hour() -> None:
    """Arrivals fall in the hour they arrive; SLA outcomes in the hour the
    ticket is accepted."""
    d, clock = desk([Agent("ana", capacity=10, status="away")], analytics=AnalyticsOptions(category="topic"))
    d.submit(topic("A", 100.0, "billing", sla_due=4000.0))
    d.submit(topic("B", 200.0, "billing", sla_due=300.0))
    clock.set(HOUR + 10.0)
    d.submit(topic("C", HOUR + 10.0, "billing"))
    d.set_status("ana", "available")
    for offer in d.offers_for("ana"):
        d.accept(offer)
    hours = d.stats().trends["billing"]
    assert hours == (HourFigures(0.0, 2, 0, 0), HourFigures(HOUR, 1, 1, 1))
    assert hours[1].sla_attainment == 0.5
    assert hours[0].sla_attainment is None


def test_trends_keep_only_the_last_trend_hours() -> None:
    """With trend_hours=3 an arrival in hour 5 drops hours 0 to 2, from the
    report and from memory."""
    d, clock = desk([], analytics=AnalyticsOptions(trend_hours=3))
    for hour in range(6):
        clock.set(hour * HOUR)
        d.submit(Ticket(f"T-{hour}", clock()))
    assert [h.start for h in d.stats().trends["normal"]] == [3 * HOUR, 4 * HOUR, 5 * HOUR]
    assert sorted(d._desk.analytics.trends["normal"]) == [3, 4, 5]
    clock.set(7 * HOUR)  # a read: hours 3 and 4 fall out of the report, memory untouched
    assert [h.start for h in d.stats().trends["normal"]] == [5 * HOUR]
    assert sorted(d._desk.analytics.trends["normal"]) == [3, 4, 5]


def test_categories_beyond_the_cap_are_summed_under_other() -> None:
    """With max_categories=2 the third and later categories share one trend."""
    d, _ = desk([], analytics=AnalyticsOptions(category="topic", max_categories=2))
    for i in range(5):
        d.submit(topic(f"T-{i}", 0.0, f"c{i}"))
    trends = d.stats().trends
    assert set(trends) == {"c0", "c1", OTHER_CATEGORY}
    assert trends[OTHER_CATEGORY][0].arrivals == 3
    assert len(d._desk.analytics.recurring) == 2  # the least recently arrived forgotten


def test_memory_stays_bounded_under_many_categories_and_hours() -> None:
    """A month of tickets in a thousand categories keeps at most
    max_categories + 1 trends of trend_hours hours each."""
    options = AnalyticsOptions(category="topic", trend_hours=5, max_categories=20, recurring_count=3)
    d, clock = desk([], analytics=options)
    for i in range(3000):
        clock.set(i * 900.0)
        d.submit(topic(f"T-{i}", clock(), f"c{i % 1000}"))
        if i % 50 == 0:
            d.cancel(f"T-{i}")
    analytics = d._desk.analytics
    assert len(analytics.trends) <= 21
    assert all(len(hours) <= 5 for hours in analytics.trends.values())
    assert len(analytics.recurring) <= 20
    d._check()


# -- export ------------------------------------------------------------------------


def busy_desk() -> tuple[Dispatcher, ManualClock]:
    d, clock = desk(
        [Agent("ana", capacity=2), Agent("bo")],
        analytics=AnalyticsOptions(category="topic", recurring_count=3, recurring_window=HOUR),
    )
    for i in range(8):
        clock.set(500.0 * i)
        offer = d.submit(topic(f"T-{i}", clock(), "refund" if i % 2 else "login", sla_due=clock() + 100.0))
        if offer is not None:
            d.accept(offer)
        if i % 3 == 2:
            for agent_id in ("ana", "bo"):
                for ticket in d.assigned(agent_id)[:1]:
                    d.complete(ticket.id)
    return d, clock


def test_to_dict_carries_every_figure_as_strict_json_and_reads_back() -> None:
    """stats().to_dict() has the agents' performance, the recurring issues
    and the trends; json with allow_nan=False takes it; from_dict reads it back equal."""
    d, _ = busy_desk()
    s = d.stats()
    data = json.loads(json.dumps(s.to_dict(), allow_nan=False))
    assert set(data["agents"]["ana"]) >= {"handled", "handle_mean", "handle_p90", "occupancy", "sla_attainment"}
    assert data["recurring"]["refund"]["detected"] >= 1
    assert data["trends"]["login"][0]["arrivals"] >= 1
    assert "sla_attainment" in data["trends"]["login"][0]
    assert Statistics.from_dict(data) == s


def test_statistics_written_before_analytics_still_read() -> None:
    """A Statistics dict without the new fields reads, with their empty values."""
    d, _ = busy_desk()
    data = d.stats().to_dict()
    del data["recurring"], data["trends"]
    for figures in data["agents"].values():
        for name in ("handled", "handle_mean", "handle_p90", "occupancy", "sla_met", "sla_missed", "sla_attainment"):
            del figures[name]
    old = Statistics.from_dict(data)
    assert old.recurring == {} and old.trends == {}
    assert old.agents["ana"] == AgentFigures("available", *[data["agents"]["ana"][k] for k in list(data["agents"]["ana"])[1:]])


def test_bad_figures_are_refused_naming_the_path() -> None:
    """A negative count in a trend, or a trend that is not a list, names its path."""
    d, _ = busy_desk()
    data = d.stats().to_dict()
    data["trends"]["login"][0]["arrivals"] = -1
    with pytest.raises(InvalidArgument, match=r"trends\['login'\]\[0\]\.arrivals"):
        Statistics.from_dict(data)
    data["trends"]["login"] = 3
    with pytest.raises(InvalidArgument, match=r"trends\['login'\]"):
        Statistics.from_dict(data)


# -- snapshot and restore ----------------------------------------------------------------


def restore(data: Any, at: float) -> tuple[Dispatcher, ManualClock]:
    clock = ManualClock(at)
    return Dispatcher.restore(json.loads(json.dumps(data)), clock=clock), clock


def test_a_restored_desk_reports_and_continues_exactly_as_the_original() -> None:
    """Same stats after restore, and the same events and stats after the same
    further operations (a recurring detection that needs arrivals from before
    the snapshot included)."""
    d, clock = busy_desk()
    copy, copy_clock = restore(d.snapshot(), clock())
    assert copy.stats() == d.stats()
    for desk_, c in ((d, clock), (copy, copy_clock)):
        c.set(4000.0)
        desk_.submit(topic("N-1", 4000.0, "refund"))
        desk_.submit(topic("N-2", 4000.0, "refund"))
        c.set(4100.0)
        for agent_id in ("ana", "bo"):
            for ticket in desk_.assigned(agent_id):
                desk_.complete(ticket.id)
    assert copy.stats() == d.stats()
    assert [str(e) for e in copy.events][-10:] == [str(e) for e in d.events][-10:]
    assert copy.snapshot() == d.snapshot()
    copy._check()


def test_a_snapshot_made_before_analytics_still_loads() -> None:
    """Without the analytics sections and settings, a snapshot loads with the
    default options, nothing counted, agents starting afresh at the snapshot's time."""
    d, clock = busy_desk()
    data = d.snapshot()
    del data["analytics"], data["finished"], data["settings"]["analytics"], data["settings"]["finished_memory"]
    copy, copy_clock = restore(data, clock())
    s = copy.stats()
    assert s.recurring == {} and s.trends == {}
    assert s.agents["ana"].handled == 0 and s.agents["ana"].occupancy is None
    copy_clock.advance(10.0)
    assert copy.stats().agents["ana"].occupancy is not None
    copy._check()


def test_a_snapshot_with_bad_analytics_is_refused_naming_the_path() -> None:
    """Analytics of an agent not on the roster, or a bad option, raise InvalidArgument with the path."""
    d, clock = busy_desk()
    data = d.snapshot()
    data["analytics"]["agents"]["zed"] = data["analytics"]["agents"]["ana"]
    with pytest.raises(InvalidArgument, match=r"snapshot\.analytics\.agents"):
        restore(data, clock())
    data = d.snapshot()
    data["settings"]["analytics"]["trend_hours"] = 0
    with pytest.raises(InvalidArgument, match="trend_hours"):
        restore(data, clock())


def test_reads_change_nothing_so_replicas_that_read_at_different_moments_agree() -> None:
    """With advance_on_read=False, stats() at any moment leaves the snapshot unchanged."""
    d, clock = desk([Agent("ana")], analytics=AnalyticsOptions(category="topic", trend_hours=2), advance_on_read=False)
    d.submit(topic("T-1", 0.0, "x"))
    before = d.snapshot()
    clock.set(10 * HOUR)
    d.stats()
    assert d.snapshot() == before


# -- options -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"category": ""}, "category"),
        ({"category": 3}, "category"),
        ({"recurring_count": 1}, "recurring_count"),
        ({"recurring_count": True}, "recurring_count"),
        ({"recurring_window": 0}, "recurring_window"),
        ({"recurring_window": math.inf}, "recurring_window"),
        ({"trend_hours": 0}, "trend_hours"),
        ({"max_categories": 10**6}, "max_categories"),
    ],
)
def test_bad_options_are_refused_naming_the_field(options: dict[str, Any], field: str) -> None:
    """Each bad option raises InvalidArgument naming it."""
    with pytest.raises(InvalidArgument) as info:
        AnalyticsOptions(**options)
    assert info.value.field == field


def test_the_dispatcher_checks_its_analytics_option() -> None:
    """A non-options value is refused; plain data as to_dict gives it is taken."""
    with pytest.raises(InvalidArgument, match="analytics"):
        Dispatcher(TicketQueue(clock=lambda: 0.0), analytics="topic")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match=r"analytics\.colour"):
        Dispatcher(TicketQueue(clock=lambda: 0.0), analytics={"colour": "red"})
    d = Dispatcher(TicketQueue(clock=lambda: 0.0), analytics={"category": "topic"})
    assert d._desk.analytics.options == AnalyticsOptions(category="topic")


def test_a_desk_without_statistics_keeps_no_analytics() -> None:
    """stats=False: nothing is counted, and snapshot and restore still work."""
    d, clock = desk([Agent("ana")], stats=False, analytics=AnalyticsOptions(category="topic", recurring_count=2))
    for i in range(4):
        d.submit(topic(f"T-{i}", 0.0, "x"))
    assert not [e for e in d.events if e.kind is EventKind.RECURRING]
    assert d._desk.analytics.trends == {} and d._desk.analytics.agents == {}
    copy, _ = restore(d.snapshot(), clock())
    copy._check()


# -- against a reference model ---------------------------------------------------------


def reference_recurring(arrivals: list[tuple[float, str]], count: int, window: float) -> dict[str, int]:
    """Detections per category: after each arrival, the category's arrivals
    since its last detection are considered; the last ``count`` of them
    within ``window`` seconds make one, and the count starts again."""
    since: dict[str, list[float]] = {}
    detected: dict[str, int] = {}
    for at, category in arrivals:
        times = since.setdefault(category, [])
        times.append(at)
        detected.setdefault(category, 0)
        if len(times) >= count and at - times[-count] <= window:
            detected[category] += 1
            times.clear()
    return detected


@given(
    st.lists(st.tuples(st.floats(0, 4000), st.sampled_from("abc")), max_size=60),
    st.integers(2, 5),
    st.sampled_from([60.0, 600.0, 3600.0]),
)
def test_recurring_detection_and_arrival_trends_agree_with_a_reference_model(
    steps: list[tuple[float, str]], count: int, window: float
) -> None:
    """For any arrivals (in time order), detections per category equal the
    reference model's, every detection is one recurring event, and the
    trends count each arrival once in its hour."""
    steps = sorted(steps)
    d, clock = desk([], analytics=AnalyticsOptions(category="topic", recurring_count=count, recurring_window=window))
    for i, (at, category) in enumerate(steps):
        clock.set(at)
        d.submit(topic(f"T-{i}", at, category))
    s = d.stats()
    expected = reference_recurring(steps, count, window)
    assert {k: v.detected for k, v in s.recurring.items()} == expected
    assert len([e for e in d.events if e.kind is EventKind.RECURRING]) == sum(expected.values())
    per_hour: dict[tuple[str, float], int] = {}
    for at, category in steps:
        key = (category, math.floor(at / HOUR) * HOUR)
        per_hour[key] = per_hour.get(key, 0) + 1
    assert {(k, h.start): h.arrivals for k, hours in s.trends.items() for h in hours} == per_hour
    d._check()


@given(st.lists(st.tuples(st.floats(0, 500), st.floats(0, 500), st.booleans()), min_size=1, max_size=20))
def test_handle_figures_agree_with_a_reference_model(tickets: list[tuple[float, float, bool]]) -> None:
    """For tickets taken one at a time (wait, then handle for some seconds,
    then complete or cancel), handled and handle_mean are the reference's,
    and occupancy is the handled share of the time."""
    d, clock = desk([Agent("ana")])
    completed: list[float] = []
    busy = 0.0
    for i, (wait, handle, complete) in enumerate(tickets):
        clock.advance(wait)
        d.accept(d.submit(Ticket(f"T-{i}", clock())))  # type: ignore[arg-type]
        clock.advance(handle)
        (d.complete if complete else d.cancel)(f"T-{i}")
        busy += handle
        if complete:
            completed.append(handle)
    ana = d.stats().agents["ana"]
    assert ana.handled == len(completed)
    if completed:
        assert ana.handle_mean == pytest.approx(sum(completed) / len(completed))
        assert ana.handle_p90 is not None and min(completed) - 0.01 <= ana.handle_p90 <= max(completed) + 0.01
    else:
        assert ana.handle_mean is None
    if clock() > 0:
        assert ana.occupancy == pytest.approx(busy / clock())


# -- the policy file ---------------------------------------------------------------


def test_a_policy_file_declares_the_analytics_and_builds_a_desk_with_them() -> None:
    """[analytics] in TOML gives AnalyticsOptions, which build() passes to the
    Dispatcher; to_toml writes it back equal."""
    from triage_queue import parse_policy

    pf = parse_policy(
        '[[rules]]\nkind = "feedback_order"\n'
        '[analytics]\ncategory = "topic"\nrecurring_count = 3\nrecurring_window = "30m"\ntrend_hours = 48\n'
    )
    assert pf.analytics == AnalyticsOptions(category="topic", recurring_count=3, recurring_window=1800, trend_hours=48)
    assert parse_policy(pf.to_toml()) == pf
    d = pf.build(ManualClock(0.0))
    for i in range(3):
        d.submit(topic(f"T-{i}", 0.0, "vpn"))
    assert [e.detail for e in d.events if e.kind is EventKind.RECURRING] == ["vpn: 3 in 30m"]
    assert parse_policy('[[rules]]\nkind = "feedback_order"\n').analytics is None


@pytest.mark.parametrize(
    ("table", "field"),
    [
        ('recurring_count = 1', "analytics.recurring_count"),
        ('recurring_window = "0s"', "analytics.recurring_window"),
        ('category = ""', "analytics.category"),
        ('colour = "red"', "analytics.colour"),
    ],
)
def test_a_bad_analytics_table_is_refused_naming_the_key(table: str, field: str) -> None:
    """Each mistake in [analytics] raises InvalidPolicy naming analytics.<key>."""
    from triage_queue import InvalidPolicy, parse_policy

    with pytest.raises(InvalidPolicy) as info:
        parse_policy(f'[[rules]]\nkind = "feedback_order"\n[analytics]\n{table}\n')
    assert info.value.field == field
