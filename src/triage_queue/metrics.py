"""A Prometheus collector of a desk's live figures (the ``metrics`` extra:
``pip install 'triage-queue[metrics]'``, which brings the official
``prometheus-client``).

:class:`DeskCollector` reads ``desk.stats()`` at every scrape (waiting
counts by class and skill group, oldest wait, wait percentiles, agents'
load and status, occupancy, unroutable tickets) and counts the desk's
events by kind through a listener, from which it also derives the SLA
attainment.  ``docs/metrics.md`` lists every metric with a sample
exposition.

>>> from prometheus_client import CollectorRegistry, generate_latest
>>> from triage_queue import Agent, Dispatcher, ManualClock, Ticket, TicketQueue
>>> desk = Dispatcher(TicketQueue(clock=ManualClock(0.0)), [Agent("ana", status="away")])
>>> registry = CollectorRegistry()
>>> registry.register(DeskCollector(desk))
>>> desk.submit(Ticket("T-1", 0.0))
>>> 'triage_waiting_tickets 1.0' in generate_latest(registry).decode()
True

The core never imports this module, and this module imports
``prometheus_client`` only when a collector is made or described, so
``import triage_queue`` works without the extra.
"""

from __future__ import annotations

import collections
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Final, Protocol

import attrs

from triage_queue.agents import AgentStatus
from triage_queue.errors import InvalidArgument, TriageError
from triage_queue.events import Event, EventKind
from triage_queue.stats import AgentFigures, GroupFigures, Statistics

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

__all__ = ["MAX_REMEMBERED_BREACHES", "DeskCollector", "StatsSource"]

MAX_REMEMBERED_BREACHES: Final = 100_000
"""How many tickets whose SLA ran out while they waited a collector
remembers (to count them as answered late when accepted); beyond it the
oldest are forgotten, so memory stays bounded on a desk that never answers."""

_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_QUANTILES: Final = (("0.5", "wait_p50"), ("0.9", "wait_p90"), ("0.99", "wait_p99"))
# GroupFigures and AgentFigures fields shown under their own metric names;
# any other numeric field (a later version's) is shown as a gauge named after it.
_KNOWN_GROUP_FIELDS: Final = frozenset(
    {"waiting", "oldest_wait", "served", "wait_p50", "wait_p90", "wait_p99", "wait_max", "declined", "expired"}
)
_KNOWN_AGENT_FIELDS: Final = frozenset({"status", "load", "capacity", "offered", "declined", "expired", "served"})
_KNOWN_STATS_FIELDS: Final = frozenset({"now", "overall", "by_class", "by_skills", "occupancy", "agents", "unroutable"})
# The scopes of the group figures: (metric name infix, label name, Statistics attribute).
_SCOPES: Final = (("", None, "overall"), ("class_", "class", "by_class"), ("skill_group_", "skills", "by_skills"))


class StatsSource(Protocol):
    """What :class:`DeskCollector` needs of a desk: a
    :class:`~triage_queue.Dispatcher`, or anything offering its
    ``stats()`` and ``subscribe()`` (a shared desk's handle, say).
    Runtime complexity: that of the desk's own methods.

    >>> from triage_queue import Dispatcher, TicketQueue
    >>> source: StatsSource = Dispatcher(TicketQueue(clock=lambda: 0.0))
    >>> source.stats().overall.waiting
    0
    """

    def stats(self) -> Statistics:
        """A snapshot of the live figures.  Runtime complexity: the desk's
        ``stats()``, O(groups + agents) for a Dispatcher."""
        ...

    def subscribe(self, listener: Callable[[Event], None]) -> Callable[[], None]:
        """Call ``listener(event)`` for every event; return an unsubscribe
        function.  Runtime complexity: O(1) for a Dispatcher."""
        ...


def _prometheus() -> Any:
    try:
        import prometheus_client.core  # noqa: PLC0415 - the optional extra, imported only when used
    except ImportError:  # pragma: no cover - the extra is installed in the test environment
        raise ImportError(
            "triage_queue.metrics needs prometheus-client: pip install 'triage-queue[metrics]'"
        ) from None
    return prometheus_client.core


@attrs.define(slots=True)
class _Counts:
    """The event counts a collector's listener keeps, under its lock."""

    events: dict[EventKind, int] = attrs.field(factory=lambda: dict.fromkeys(EventKind, 0))
    answered: int = 0
    answered_late: int = 0
    # Tickets whose SLA ran out while they waited, oldest first (bounded).
    breached: collections.OrderedDict[str, None] = attrs.field(factory=collections.OrderedDict)


def _fixed_specs() -> list[tuple[bool, str, str, list[str], str]]:
    """(is a counter, name without the namespace, help, labels, key) of every
    family a collector always exposes."""
    specs: list[tuple[bool, str, str, list[str], str]] = [
        (False, "stats_up", "1 if the desk's stats() answered this scrape, else 0", [], "stats_up")
    ]
    for infix, label, _ in _SCOPES:
        labels = [label] if label is not None else []
        of = {"": "all tickets", "class_": "per ticket class", "skill_group_": "per skill group"}[infix]
        specs += [
            (False, infix + "waiting_tickets", f"Tickets waiting in the queue, {of}", labels, infix + "waiting"),
            (False, infix + "oldest_wait_seconds", f"Longest wait of a waiting ticket, {of}", labels, infix + "oldest_wait"),
            (
                False,
                infix + "wait_seconds",
                f"Wait from first contact to acceptance of served tickets, by quantile, {of}",
                [*labels, "quantile"],
                infix + "wait",
            ),
            (False, infix + "wait_max_seconds", f"Longest wait of a served ticket, {of}", labels, infix + "wait_max"),
            (True, infix + "served", f"Tickets accepted by an agent, {of}", labels, infix + "served"),
            (True, infix + "offers_declined", f"Offers declined, {of}", labels, infix + "declined"),
            (True, infix + "offers_expired", f"Offers let expire, {of}", labels, infix + "expired"),
        ]
    specs += [
        (False, "groups_omitted", "Classes or skill groups left out (over max_groups)", ["by"], "groups_omitted"),
        (False, "occupancy_ratio", "Share of the capacity of available agents in use", [], "occupancy"),
        (False, "unroutable_tickets", "Waiting tickets no agent on the roster could ever take", [], "unroutable"),
        (False, "agent_load_tickets", "Tickets an agent holds (offered or assigned)", ["agent"], "agent_load"),
        (False, "agent_capacity_tickets", "Tickets an agent may hold at once", ["agent"], "agent_capacity"),
        (False, "agent_status", "1 for the agent's status, 0 for the others", ["agent", "status"], "agent_status"),
        (True, "agent_offers", "Offers made to an agent", ["agent"], "agent_offered"),
        (True, "agent_offers_declined", "Offers an agent declined", ["agent"], "agent_declined"),
        (True, "agent_offers_expired", "Offers an agent let expire", ["agent"], "agent_expired"),
        (True, "agent_served", "Tickets an agent accepted", ["agent"], "agent_served"),
        (True, "events", "Desk events since the collector was made, by kind", ["kind"], "events"),
        (True, "answered", "Tickets accepted by an agent since the collector was made", [], "answered"),
        (True, "answered_late", "Tickets accepted after their SLA ran out while they waited", [], "answered_late"),
        (False, "sla_attainment_ratio", "Share of answered tickets answered before their SLA ran out", [], "sla_attainment"),
    ]
    return specs


class DeskCollector:
    """A Prometheus collector (register it with a
    ``prometheus_client.CollectorRegistry``) exposing a desk's figures at
    scrape time, every name prefixed with ``namespace`` and ``_``.

    From ``desk.stats()``, at each scrape:

    - ``waiting_tickets``, ``oldest_wait_seconds``, ``wait_seconds``
      (quantile 0.5, 0.9, 0.99 of the wait from first contact to acceptance),
      ``wait_max_seconds``, ``served_total``, ``offers_declined_total``,
      ``offers_expired_total``; the same per ticket class with the prefix
      ``class_`` (label ``class``) and per skill group with ``skill_group_``
      (label ``skills``); figures that are None (no ticket waiting, none
      served) are left out;
    - ``occupancy_ratio``, ``unroutable_tickets``;
    - per agent (label ``agent``): ``agent_load_tickets``,
      ``agent_capacity_tickets``, ``agent_status`` (label ``status``, 1 for
      the agent's status and 0 for the others), ``agent_offers_total``,
      ``agent_offers_declined_total``, ``agent_offers_expired_total``,
      ``agent_served_total``;
    - ``stats_up``: 1 if ``stats()`` answered, 0 if it raised a
      :class:`~triage_queue.TriageError` (then only the event counts follow).

    From the events since the collector was made (it subscribes a listener,
    which :meth:`close` removes): ``events_total`` by ``kind`` (every
    :class:`~triage_queue.EventKind`, one series each),
    ``answered_total`` (tickets accepted), ``answered_late_total`` (accepted
    after their SLA ran out while they waited) and ``sla_attainment_ratio``
    (``1 - late / answered``, left out before the first answer; a ticket
    with no SLA counts as answered in time).

    Per-group series are bounded by ``max_groups``: when a desk has more
    classes or skill groups, those with the most waiting tickets (then by
    name) are shown and ``groups_omitted`` (label ``by``) counts the rest.
    Agents are all shown (one series set each).

    Any further numeric field a later :class:`~triage_queue.GroupFigures`,
    :class:`~triage_queue.AgentFigures` or
    :class:`~triage_queue.Statistics` carries is shown as a gauge named after
    the field (``class_<field>``, ``agent_<field>``...).

    The listener is thread-safe; a scrape costs one ``stats()`` call plus
    O(groups + agents).  Bad arguments raise
    :class:`~triage_queue.InvalidArgument`.

    Runtime complexity: construction O(1); :meth:`collect` O(stats() + G + A)
    for G groups and A agents; the listener O(1) per event.

    >>> from triage_queue import Dispatcher, TicketQueue
    >>> DeskCollector(Dispatcher(TicketQueue(clock=lambda: 0.0)), namespace="help desk")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    triage_queue.errors.InvalidArgument: namespace='help desk': expected a Prometheus name: letters, digits, _ and :...
    """

    def __init__(self, desk: StatsSource, *, namespace: str = "triage", max_groups: int = 200) -> None:
        if not isinstance(namespace, str) or not _NAME.fullmatch(namespace) or len(namespace) > 100:
            raise InvalidArgument(
                "namespace", namespace, "expected a Prometheus name: letters, digits, _ and :, not starting with a digit"
            )
        if isinstance(max_groups, bool) or not isinstance(max_groups, int) or max_groups < 1:
            raise InvalidArgument("max_groups", max_groups, "expected an int >= 1")
        if not callable(getattr(desk, "stats", None)) or not callable(getattr(desk, "subscribe", None)):
            raise InvalidArgument("desk", desk, "expected a desk offering stats() and subscribe() (a Dispatcher, say)")
        self._core = _prometheus()
        self._desk = desk
        self._prefix = namespace + "_"
        self._max_groups = max_groups
        self._lock = threading.Lock()
        self._counts = _Counts()
        self._unsubscribe: Callable[[], None] | None = desk.subscribe(self._on_event)

    # -- the listener ----------------------------------------------------------

    def _on_event(self, event: Event) -> None:
        kind = event.kind
        with self._lock:
            counts = self._counts
            counts.events[kind] = counts.events.get(kind, 0) + 1
            ticket_id = event.ticket_id
            if ticket_id is None:
                return
            if kind is EventKind.SLA_BREACHED:
                counts.breached[ticket_id] = None
                counts.breached.move_to_end(ticket_id)
                if len(counts.breached) > MAX_REMEMBERED_BREACHES:
                    counts.breached.popitem(last=False)
            elif kind is EventKind.ACCEPTED:
                counts.answered += 1
                if ticket_id in counts.breached:
                    del counts.breached[ticket_id]
                    counts.answered_late += 1
            elif kind is EventKind.CANCELLED:
                counts.breached.pop(ticket_id, None)

    def close(self) -> None:
        """Stop counting events (unsubscribe the listener); the stats part
        still answers scrapes.  Idempotent.  Runtime complexity: O(listeners).

        >>> from triage_queue import Dispatcher, TicketQueue
        >>> c = DeskCollector(Dispatcher(TicketQueue(clock=lambda: 0.0))); c.close(); c.close()
        """
        unsubscribe, self._unsubscribe = self._unsubscribe, None
        if unsubscribe is not None:
            unsubscribe()

    # -- the collector protocol -------------------------------------------------

    def describe(self) -> list[Metric]:
        """The metric families this collector always exposes (without
        samples), so a registry can refuse a clash without a scrape.

        Runtime complexity: O(1).

        >>> from triage_queue import Dispatcher, TicketQueue
        >>> c = DeskCollector(Dispatcher(TicketQueue(clock=lambda: 0.0)))
        >>> "triage_stats_up" in {family.name for family in c.describe()}
        True
        >>> c.close()
        """
        families: list[Metric] = [family for family, _ in self._fixed_families()]
        return families

    def collect(self) -> Iterator[Metric]:
        """The metric families with their samples now.  Runtime complexity:
        O(stats() + G + A).

        >>> from triage_queue import Dispatcher, TicketQueue
        >>> c = DeskCollector(Dispatcher(TicketQueue(clock=lambda: 0.0)))
        >>> [s.value for f in c.collect() if f.name == "triage_stats_up" for s in f.samples]
        [1.0]
        >>> c.close()
        """
        fixed = self._fixed_families()
        families = {name: family for family, name in fixed}
        extra: dict[str, Any] = {}
        try:
            stats: Statistics | None = self._desk.stats()
        except TriageError:
            stats = None
        families["stats_up"].add_metric([], 0.0 if stats is None else 1.0)
        if stats is not None:
            self._add_stats(stats, families, extra)
        self._add_events(families)
        for family, _ in fixed:
            yield family
        yield from extra.values()

    # -- building the families ---------------------------------------------------

    def _fixed_families(self) -> list[tuple[Any, str]]:
        # (family, key): the key is how _add_* find the family.
        core = self._core
        out: list[tuple[Any, str]] = []
        for counter, name, text, labels, key in _fixed_specs():
            make = core.CounterMetricFamily if counter else core.GaugeMetricFamily
            out.append((make(self._prefix + name, text, labels=labels), key))
        return out

    def _add_stats(self, stats: Statistics, families: dict[str, Any], extra: dict[str, Any]) -> None:
        for infix, label, attribute in _SCOPES:
            if label is None:
                self._add_group(families, extra, infix, names=[], labels=[], g=stats.overall)
                continue
            groups: Mapping[str, GroupFigures] = getattr(stats, attribute)
            names = sorted(groups)
            if len(names) > self._max_groups:
                names = sorted(names, key=lambda n: (-groups[n].waiting, n))[: self._max_groups]
                names.sort()
            families["groups_omitted"].add_metric([label], float(len(groups) - len(names)))
            for name in names:
                self._add_group(families, extra, infix, names=[label], labels=[name], g=groups[name])
        if stats.occupancy is not None:
            families["occupancy"].add_metric([], float(stats.occupancy))
        families["unroutable"].add_metric([], float(stats.unroutable))
        statuses = [status.value for status in AgentStatus]
        for agent_id in sorted(stats.agents):
            figures: AgentFigures = stats.agents[agent_id]
            labels = [agent_id]
            families["agent_load"].add_metric(labels, float(figures.load))
            families["agent_capacity"].add_metric(labels, float(figures.capacity))
            for status in (statuses if figures.status in statuses else [*statuses, figures.status]):
                families["agent_status"].add_metric([agent_id, status], 1.0 if status == figures.status else 0.0)
            families["agent_offered"].add_metric(labels, float(figures.offered))
            families["agent_declined"].add_metric(labels, float(figures.declined))
            families["agent_expired"].add_metric(labels, float(figures.expired))
            families["agent_served"].add_metric(labels, float(figures.served))
            self._add_extra(extra, "agent_", names=["agent"], labels=labels, figures=figures, known=_KNOWN_AGENT_FIELDS)
        self._add_extra(extra, "", names=[], labels=[], figures=stats, known=_KNOWN_STATS_FIELDS)

    def _add_group(
        self, families: dict[str, Any], extra: dict[str, Any], infix: str, *, names: list[str], labels: list[str], g: GroupFigures
    ) -> None:
        families[infix + "waiting"].add_metric(labels, float(g.waiting))
        if g.oldest_wait is not None:
            families[infix + "oldest_wait"].add_metric(labels, float(g.oldest_wait))
        for quantile, field in _QUANTILES:
            value = getattr(g, field)
            if value is not None:
                families[infix + "wait"].add_metric([*labels, quantile], float(value))
        if g.wait_max is not None:
            families[infix + "wait_max"].add_metric(labels, float(g.wait_max))
        families[infix + "served"].add_metric(labels, float(g.served))
        families[infix + "declined"].add_metric(labels, float(g.declined))
        families[infix + "expired"].add_metric(labels, float(g.expired))
        self._add_extra(extra, infix, names=names, labels=labels, figures=g, known=_KNOWN_GROUP_FIELDS)

    def _add_extra(
        self, extra: dict[str, Any], infix: str, *, names: list[str], labels: list[str], figures: Any, known: frozenset[str]
    ) -> None:
        # A field a later version of the figures adds: a gauge named after it.
        for field in attrs.fields(type(figures)):
            if field.name in known:
                continue
            value = getattr(figures, field.name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                continue
            name = self._prefix + infix + field.name
            family = extra.get(name)
            if family is None:
                text = f"{field.name} ({type(figures).__name__})"
                family = extra[name] = self._core.GaugeMetricFamily(name, text, labels=names)
            family.add_metric(labels, float(value))

    def _add_events(self, families: dict[str, Any]) -> None:
        with self._lock:
            events = dict(self._counts.events)
            answered, late = self._counts.answered, self._counts.answered_late
        for kind in EventKind:
            families["events"].add_metric([kind.value], float(events.get(kind, 0)))
        families["answered"].add_metric([], float(answered))
        families["answered_late"].add_metric([], float(late))
        if answered:
            families["sla_attainment"].add_metric([], 1.0 - late / answered)
