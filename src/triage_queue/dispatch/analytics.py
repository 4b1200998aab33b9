"""The analytics part of a desk: per-agent performance (handle times,
occupancy, SLA attainment), recurring issues per category, and hourly
trends of arrivals and SLA attainment per category, in bounded memory.

The desk tells it what happened (a ticket arrived, was accepted, an
assignment ended, an agent changed); reads (:meth:`Analytics.agent_figures`,
:meth:`Analytics.recurring_figures`, :meth:`Analytics.trend_figures`)
change nothing, so replicas that read at different moments stay identical.

Invariants (``_check``): every agent book belongs to an agent on the
roster; each recurring window holds at most ``recurring_count`` arrivals;
at most ``max_categories`` named trends and recurring counters are kept;
no trend keeps an hour older than ``trend_hours`` before the latest.

>>> from triage_queue.analytics import AnalyticsOptions
>>> from triage_queue.ticket import Ticket
>>> seen = []
>>> a = Analytics(AnalyticsOptions(category="topic", recurring_count=2), lambda *e, **k: seen.append(e[2:6]))
>>> for i in range(2):
...     a.arrived(Ticket(f"T-{i}", 0.0, attributes={"topic": "refund"}), "normal", 60.0 * i)
>>> seen, a.recurring_figures(60.0)["refund"].detected
([('T-1', None, None, 'refund: 2 in 1h')], 1)
"""

from __future__ import annotations

import collections
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from triage_queue.agents import Agent, AgentStatus
from triage_queue.analytics import NO_CATEGORY, OTHER_CATEGORY, AnalyticsOptions
from triage_queue.errors import InvalidArgument
from triage_queue.events import EventKind
from triage_queue.stats import HourFigures, RecurringFigures, WaitHistogram
from triage_queue.ticket import Ticket
from triage_queue.wire import Reader

__all__ = ["AgentBook", "Analytics", "NoAnalytics"]

_HOUR = 3600.0
_MAX_LABEL = 200


class AgentBook:
    """One agent's running performance figures."""

    __slots__ = ("busy", "handle", "rate", "since", "sla_met", "sla_missed", "staffed")

    def __init__(self, since: float, rate: int) -> None:
        """Runtime complexity: O(1)."""
        self.handle = WaitHistogram()  # seconds from acceptance to completion
        self.busy = 0.0  # seconds of assignments that ended
        self.staffed = 0.0  # capacity-seconds while not offline, up to ``since``
        self.since = since
        self.rate = rate  # capacity counted per second from ``since`` (0 when offline)
        self.sla_met = 0
        self.sla_missed = 0


class _Recurring:
    __slots__ = ("detected", "last_at", "times")

    def __init__(self, size: int) -> None:
        self.times: collections.deque[float] = collections.deque(maxlen=size)
        self.detected = 0
        self.last_at: float | None = None


def _rate(agent: Agent) -> int:
    return 0 if agent.status is AgentStatus.OFFLINE else sum(agent.capacity.values())


def _label(value: Any) -> str:
    if value is None:
        return NO_CATEGORY
    text = value if isinstance(value, str) else repr(value)
    return text[:_MAX_LABEL] or NO_CATEGORY


class Analytics:
    """The analytics of one desk (see the module docstring); ``emit`` records
    an event as :meth:`AuditTrail.emit` does."""

    def __init__(self, options: AnalyticsOptions, emit: Callable[..., None]) -> None:
        """Runtime complexity: O(1)."""
        self.options = options
        self.emit = emit
        self.agents: dict[str, AgentBook] = {}
        # Least recently arrived first: the one forgotten to make room.
        self.recurring: collections.OrderedDict[str, _Recurring] = collections.OrderedDict()
        # category -> hour number -> [arrivals, sla met, sla missed]
        self.trends: dict[str, dict[int, list[int]]] = {}
        self.hour: int | None = None  # the latest hour recorded

    # -- what happened ------------------------------------------------------------

    def category(self, ticket: Ticket, cls: str) -> str:
        """The ticket's category: its attribute named by the options, or its
        class ``cls`` when none is named.  Runtime complexity: O(1)."""
        name = self.options.category
        if name is None:
            return cls
        return _label(ticket.attributes.get(name))

    def arrived(self, ticket: Ticket, cls: str, now: float) -> None:
        """A ticket was submitted: count it, and detect a recurring issue.
        Runtime complexity: O(1) amortised (O(categories) once per hour)."""
        category = self.category(ticket, cls)
        self._hour(category, now)[0] += 1
        if self.options.category is None or category == NO_CATEGORY:
            return
        options = self.options
        rec = self.recurring.get(category)
        if rec is None:
            rec = self.recurring[category] = _Recurring(options.recurring_count)
            if len(self.recurring) > options.max_categories:
                self.recurring.popitem(last=False)
        else:
            self.recurring.move_to_end(category)
        times = rec.times
        times.append(now)
        if len(times) == options.recurring_count and now - times[0] <= options.recurring_window:
            times.clear()
            rec.detected += 1
            rec.last_at = now
            self.emit(
                EventKind.RECURRING,
                now,
                ticket.id,
                None,
                None,
                f"{category}: {options.describe_recurring()}",
                {"category": category, "count": options.recurring_count, "window": options.recurring_window},
            )

    def accepted(self, agent_id: str, ticket: Ticket, cls: str, now: float) -> None:
        """An agent accepted a ticket: its SLA was met or missed.
        Runtime complexity: O(1) amortised."""
        due = ticket.sla_due
        if due is None:
            return
        met = now <= due
        book = self.agents.get(agent_id)
        if book is not None:
            if met:
                book.sla_met += 1
            else:
                book.sla_missed += 1
        self._hour(self.category(ticket, cls), now)[1 if met else 2] += 1

    def ended(self, agent_id: str, assigned_at: float | None, now: float, completed: bool) -> None:
        """An offer or assignment ended (completed with ``completed``, else
        cancelled or transferred); only assignments count.
        Runtime complexity: O(1)."""
        if assigned_at is None:
            return
        book = self.agents.get(agent_id)
        if book is None:
            return
        spent = now - assigned_at
        if not spent > 0.0:
            spent = 0.0
        book.busy += spent
        if completed:
            book.handle.add(spent)

    def agent_changed(self, agent_id: str, agent: Agent | None, now: float) -> None:
        """An agent joined (``agent`` new here), changed, or left (None).
        Runtime complexity: O(1)."""
        if agent is None:
            self.agents.pop(agent_id, None)
            return
        book = self.agents.get(agent_id)
        if book is None:
            self.agents[agent_id] = AgentBook(now, _rate(agent))
            return
        if now > book.since:
            book.staffed += (now - book.since) * book.rate
            book.since = now
        book.rate = _rate(agent)

    def _hour(self, category: str, now: float) -> list[int]:
        hour = math.floor(now / _HOUR) if math.isfinite(now) else 0
        if self.hour is None or hour > self.hour:
            self.hour = hour
            oldest = hour - self.options.trend_hours + 1
            for name in list(self.trends):
                hours = self.trends[name]
                for h in [h for h in hours if h < oldest]:
                    del hours[h]
                if not hours:
                    del self.trends[name]
        found = self.trends.get(category)
        if found is not None:
            hours = found
        elif len(self.trends) - (OTHER_CATEGORY in self.trends) >= self.options.max_categories:
            hours = self.trends.setdefault(OTHER_CATEGORY, {})
        else:
            hours = self.trends[category] = {}
        counts = hours.get(hour)
        if counts is None:
            counts = hours[hour] = [0, 0, 0]
        return counts

    # -- reading ----------------------------------------------------------------

    def agent_figures(self, agent_id: str, open_seconds: float, now: float) -> dict[str, Any]:
        """The performance fields of an agent's
        :class:`~triage_queue.stats.AgentFigures` (``open_seconds``: time
        spent so far on its assignments not yet ended).  Runtime complexity: O(B log B)."""
        book = self.agents.get(agent_id)
        if book is None:
            return {}
        handle = book.handle
        staffed = book.staffed + (now - book.since) * book.rate if now > book.since else book.staffed
        answered = book.sla_met + book.sla_missed
        return {
            "handled": handle.count,
            "handle_mean": handle.mean,
            "handle_p90": handle.percentile(90),
            "occupancy": min(1.0, (book.busy + open_seconds) / staffed) if staffed > 0 else None,
            "sla_met": book.sla_met,
            "sla_missed": book.sla_missed,
            "sla_attainment": book.sla_met / answered if answered else None,
        }

    def recurring_figures(self, now: float) -> dict[str, RecurringFigures]:
        """Per category, its recurring-issue figures as of ``now``, sorted by
        category.  Runtime complexity: O(categories · (log + recurring_count))."""
        window = self.options.recurring_window
        return {
            name: RecurringFigures(rec.detected, rec.last_at, sum(1 for t in rec.times if now - t <= window))
            for name, rec in sorted(self.recurring.items())
        }

    def trend_figures(self, now: float) -> dict[str, tuple[HourFigures, ...]]:
        """Per category, its hours within ``trend_hours`` of ``now`` with any
        arrival or answer, oldest first.  Runtime complexity: O(categories · trend_hours)."""
        hour = math.floor(now / _HOUR) if math.isfinite(now) else 0
        oldest = hour - self.options.trend_hours + 1
        out = {}
        for name in sorted(self.trends):
            hours = self.trends[name]
            kept = tuple(HourFigures(h * _HOUR, *hours[h]) for h in sorted(hours) if h >= oldest)
            if kept:
                out[name] = kept
        return out

    # -- saving and restoring -------------------------------------------------------

    def export(self) -> dict[str, Any]:
        """What the analytics counted, as plain data.  Runtime complexity:
        O(agents · B + categories · (trend_hours + recurring_count))."""
        return {
            "agents": {
                agent_id: {
                    "busy": b.busy,
                    "staffed": b.staffed,
                    "since": b.since,
                    "rate": b.rate,
                    "sla_met": b.sla_met,
                    "sla_missed": b.sla_missed,
                    "handle": b.handle.to_dict(),
                }
                for agent_id, b in self.agents.items()
            },
            "recurring": [[name, list(r.times), r.detected, r.last_at] for name, r in self.recurring.items()],
            "trends": {name: [[h, *counts] for h, counts in hours.items()] for name, hours in self.trends.items()},
            "hour": self.hour,
        }

    def load(self, data: Reader | None, agents: Iterable[tuple[str, Agent]], now: float) -> None:
        """Take what :meth:`export` gave (None: a snapshot from before
        analytics, when every agent starts afresh at ``now``); agents on the
        roster without a book get one.  Runtime complexity: as :meth:`export`."""
        roster = dict(agents)
        if data is not None:
            table = data.table("agents")
            for agent_id in table.data:
                if agent_id not in roster:
                    raise InvalidArgument(table.path, agent_id, "analytics of an agent not on the roster")
                r = table.table(agent_id)
                book = AgentBook(r.real("since"), r.integer("rate"))
                book.busy, book.staffed = r.real("busy"), r.real("staffed")
                book.sla_met, book.sla_missed = r.integer("sla_met"), r.integer("sla_missed")
                book.handle = WaitHistogram.from_dict(r.raw("handle"), path=r.path + ".handle")
                if not (math.isfinite(book.since) and book.busy >= 0 and book.staffed >= 0 and math.isfinite(book.staffed)):
                    raise InvalidArgument(r.path, r.data, "expected finite, non-negative times")
                self.agents[agent_id] = book
            size = self.options.recurring_count
            for entry in data.seq("recurring").items():
                name, times, detected, last_at = entry.fields(str, list, int, (float, int, type(None)))
                rec = _Recurring(size)
                if len(times) > size or name in self.recurring or detected < 0:
                    raise InvalidArgument(entry.path, entry.data, "expected a new category, a window of at most recurring_count")
                rec.times.extend(Reader(times, entry.path + "[1]").reals())
                rec.detected = detected
                rec.last_at = None if last_at is None else float(last_at)
                self.recurring[name] = rec
            if len(self.recurring) > self.options.max_categories:
                raise InvalidArgument(data.path + ".recurring", len(self.recurring), "more categories than max_categories")
            trends = data.table("trends")
            for name in trends.data:
                hours: dict[int, list[int]] = {}
                for entry in trends.seq(name).items():
                    h, arrivals, met, missed = entry.fields(int, int, int, int)
                    if min(arrivals, met, missed) < 0 or h in hours:
                        raise InvalidArgument(entry.path, entry.data, "expected a new hour with counts >= 0")
                    hours[h] = [arrivals, met, missed]
                self.trends[name] = hours
            hour = data.raw("hour")
            if hour is not None and (isinstance(hour, bool) or not isinstance(hour, int)):
                raise InvalidArgument(data.path + ".hour", hour, "expected an hour number or None")
            self.hour = hour
        for agent_id, agent in roster.items():
            if agent_id not in self.agents:
                self.agents[agent_id] = AgentBook(now, _rate(agent))

    def _check(self, agent_ids: Mapping[str, Any]) -> None:
        """Assert the invariants (see the module docstring)."""
        assert set(self.agents) <= set(agent_ids), "analytics of an agent not on the roster"
        options = self.options
        assert len(self.recurring) <= options.max_categories
        for rec in self.recurring.values():
            assert len(rec.times) < options.recurring_count or rec.times[-1] - rec.times[0] > options.recurring_window
        assert len(self.trends) <= options.max_categories + 1
        if self.hour is not None:
            for hours in self.trends.values():
                assert all(self.hour - options.trend_hours < h <= self.hour for h in hours), "a trend hour out of range"


class NoAnalytics(Analytics):
    """The analytics of a desk made with ``stats=False``: nothing is counted.

    >>> from triage_queue.analytics import AnalyticsOptions
    >>> a = NoAnalytics(AnalyticsOptions(), lambda *e: None); a.arrived(Ticket("T-1", 0.0), "normal", 0.0); a.trends
    {}
    """

    def arrived(self, ticket: Ticket, cls: str, now: float) -> None:
        """Nothing is counted.  Runtime complexity: O(1)."""

    def accepted(self, agent_id: str, ticket: Ticket, cls: str, now: float) -> None:
        """Nothing is counted.  Runtime complexity: O(1)."""

    def ended(self, agent_id: str, assigned_at: float | None, now: float, completed: bool) -> None:
        """Nothing is counted.  Runtime complexity: O(1)."""

    def agent_changed(self, agent_id: str, agent: Agent | None, now: float) -> None:
        """Nothing is counted.  Runtime complexity: O(1)."""

    def load(self, data: Reader | None, agents: Iterable[tuple[str, Agent]], now: float) -> None:
        """Nothing to take.  Runtime complexity: O(1)."""
