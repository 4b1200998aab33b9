"""Overflow: when one skill group surges, its tickets may also go to backup agents.

A rule says "tickets needing ``billing`` may also go to agents with
``general`` >= 2 when more than 20 billing tickets wait, or when the
expected wait of the billing group exceeds 5 minutes", and when to stop
(hysteresis: below lower thresholds, so that it does not flap)::

    OverflowRule("billing", {"general": 2}, waiting_above=20, waiting_below=10,
                 wait_above=300, wait_below=120)

The desk reviews its rules at the start of every operation (and
:meth:`~triage_queue.Dispatcher.tick`), before the operation itself, and
again at its end on the figures it left.  A
rule starts when any of its upper thresholds is exceeded, and ends when
every one of its measures is at or below its lower threshold.  While a rule
is on, a ticket whose requirement includes the rule's skill goes first to
a free agent who has it, as always; if none is free, to a free *backup*
agent: one whose skills satisfy the rule's ``backup`` and the ticket's
other required skills.  A backup agent who frees up takes the best waiting
ticket it may take, its own kind or the surging one, in the queue's order.
Offers already made stand when a rule ends.

Expected wait of a skill group (the tickets needing skill *s*)::

    W(s) = n(s) * h(s) / c(s)

``n(s)``: tickets needing *s* waiting now (not offered); ``h(s)``: the mean
handling time (accepted to completed) of the last :data:`SAMPLES` tickets
needing *s* completed, or the rule's ``handle_time`` before any; ``c(s)``:
the capacity (concurrent tickets, summed over capacity keys) of the
available agents who hold *s* themselves (backups and agents cooling down
not counted).  It is the
time the group's own agents need to clear what waits; with no such
capacity and tickets waiting it is infinite; with no such capacity a rule
with ``wait_above`` does not end (even with nothing waiting), so that it does
not flap at every ticket.

Invariants (``_check``): rules have distinct skills; a rule is on exactly
when it has a start time; the flag ``active`` says whether any rule is on;
the memos hold only results for the current set of active rules.

Determinism: rules are reviewed and tried in the order given; agents in
roster order; no wall time (the desk's time only).

>>> rule = OverflowRule("billing", {"general": 2}, waiting_above=20)
>>> rule.waiting_below, expected_wait(34, 300.0, 10)
(10, 1020.0)
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Container, Iterable, Mapping
from typing import Any

import attrs

from triage_queue.agents import AgentState, AgentStatus
from triage_queue.errors import InvalidArgument, TriageError
from triage_queue.events import EventKind
from triage_queue.stats import OverflowFigures
from triage_queue.ticket import SkillSet
from triage_queue.wire import Reader, number

__all__ = ["SAMPLES", "Overflow", "OverflowRule", "clock_text", "expected_wait", "span_text"]

SAMPLES = 50
"""How many recent handling times per rule the expected wait averages."""

_TOP_LEVEL = 5  # the highest skill level (SkillSet levels are 1..5)
_INF = math.inf


def expected_wait(waiting: int, handle_time: float, capacity: int) -> float:
    """The expected wait of a skill group, ``waiting * handle_time / capacity``
    (see the module docstring): infinite with tickets waiting and no
    capacity, 0 with nothing waiting.

    Runtime complexity: O(1).

    >>> expected_wait(30, 240.0, 12), expected_wait(3, 240.0, 0), expected_wait(0, 240.0, 0)
    (600.0, inf, 0.0)
    """
    if waiting <= 0:
        return 0.0
    if capacity <= 0:
        return _INF
    return waiting * handle_time / capacity


def span_text(seconds: float) -> str:
    """A duration in words: ``"45 s"``, ``"2 min 30 s"``, ``"90 min"``, ``"1 h"``, ``"inf"``.

    Runtime complexity: O(1).

    >>> span_text(45), span_text(150), span_text(5400), span_text(3600), span_text(float("inf"))
    ('45 s', '2 min 30 s', '90 min', '1 h', 'inf')
    """
    if not math.isfinite(seconds):
        return "inf"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds % 3600 == 0:
        return f"{seconds / 3600:.0f} h"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if rest else f"{minutes} min"


def clock_text(instant: float) -> str:
    """A desk time as a time of day, ``HH:MM`` (``HH:MM:SS`` off the minute):
    the seconds since midnight of the day it falls in (for epoch clocks,
    UTC).

    Runtime complexity: O(1).

    >>> clock_text(38520.0), clock_text(38525.0), clock_text(1_700_000_000.0)
    ('10:42', '10:42:05', '22:13:20')
    """
    if not math.isfinite(instant):
        return "never" if instant > 0 else "-inf"
    seconds = math.floor(instant) % 86400
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours:02d}:{minutes:02d}" + (f":{secs:02d}" if secs else "")


def _skills(value: Any) -> SkillSet:
    if isinstance(value, SkillSet):
        return value
    try:
        return SkillSet(value, field="backup")
    except TriageError as exc:
        raise InvalidArgument("backup", value, f"expected skills such as {{'general': 2}}: {exc}") from None


def _count(field: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**31:
        raise InvalidArgument(field, value, "expected a count (an int >= 0), or None")
    return value


def _seconds(field: str, value: Any, *, positive: bool = False) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidArgument(field, value, "expected seconds (a number), or None")
    try:
        seconds = float(value)
    except OverflowError:
        seconds = _INF
    if not math.isfinite(seconds) or seconds < 0 or (positive and seconds == 0):
        raise InvalidArgument(field, value, "expected a finite number of seconds " + ("> 0" if positive else ">= 0"))
    return seconds


@attrs.frozen(slots=True, init=False)
class OverflowRule:
    """Tickets needing ``skill`` may also go to agents whose skills satisfy
    ``backup`` (and the ticket's other required skills) while the rule is on.

    It starts when more than ``waiting_above`` tickets needing ``skill``
    wait, or when the group's expected wait exceeds ``wait_above`` seconds
    (either may be None, not both); it ends when at most ``waiting_below``
    wait (default: half of ``waiting_above``) and the expected wait is at
    most ``wait_below`` (default: half of ``wait_above``).  ``handle_time``:
    the mean handling time assumed before any ticket of the group has been
    completed.  Bad values raise :class:`InvalidArgument` naming the field.

    Runtime complexity: construction O(k) for k backup skills.

    >>> OverflowRule("billing", {"general": 2}, wait_above=300).wait_below
    150.0
    >>> OverflowRule("billing", {"general": 2})
    Traceback (most recent call last):
    ...
    triage_queue.errors.InvalidArgument: waiting_above=None: a rule needs waiting_above or wait_above (or both)
    """

    skill: str
    backup: SkillSet
    waiting_above: int | None
    waiting_below: int | None
    wait_above: float | None
    wait_below: float | None
    handle_time: float

    def __init__(
        self,
        skill: str,
        backup: Mapping[str, int] | Iterable[str] | SkillSet,
        *,
        waiting_above: int | None = None,
        waiting_below: int | None = None,
        wait_above: float | None = None,
        wait_below: float | None = None,
        handle_time: float = 300.0,
    ) -> None:
        """Runtime complexity: O(k)."""
        if not isinstance(skill, str) or not skill or len(skill) > 200:
            raise InvalidArgument("skill", skill, "expected a skill name (a non-empty string)")
        backup_set = _skills(backup)
        if not backup_set:
            raise InvalidArgument("backup", backup, "expected at least one skill the backup agents hold, such as {'general': 2}")
        if skill in backup_set:
            raise InvalidArgument("backup", backup, f"the backup skills must not include the rule's own skill {skill!r}")
        above = _count("waiting_above", waiting_above)
        below = _count("waiting_below", waiting_below)
        wait_hi = _seconds("wait_above", wait_above)
        wait_lo = _seconds("wait_below", wait_below)
        if above is None and wait_hi is None:
            raise InvalidArgument("waiting_above", waiting_above, "a rule needs waiting_above or wait_above (or both)")
        if above is None and below is not None:
            raise InvalidArgument("waiting_below", waiting_below, "given without waiting_above")
        if wait_hi is None and wait_lo is not None:
            raise InvalidArgument("wait_below", wait_below, "given without wait_above")
        if above is not None:
            if below is None:
                below = above // 2
            elif below > above:
                raise InvalidArgument("waiting_below", waiting_below, f"expected at most waiting_above ({above})")
        if wait_hi is not None:
            if wait_lo is None:
                wait_lo = wait_hi / 2
            elif wait_lo > wait_hi:
                raise InvalidArgument("wait_below", wait_below, f"expected at most wait_above ({wait_hi:g})")
        handle = _seconds("handle_time", handle_time, positive=True)
        assert handle is not None
        set_field = object.__setattr__
        set_field(self, "skill", skill)
        set_field(self, "backup", backup_set)
        set_field(self, "waiting_above", above)
        set_field(self, "waiting_below", below)
        set_field(self, "wait_above", wait_hi)
        set_field(self, "wait_below", wait_lo)
        set_field(self, "handle_time", handle)

    def alternative(self, requirement: SkillSet) -> SkillSet:
        """What a backup agent must hold to take a ticket of ``requirement``
        (which includes the rule's skill): the other required skills and the
        backup skills, at the higher level where both name one.

        Runtime complexity: O(k).

        >>> OverflowRule("billing", {"general": 2}, waiting_above=5).alternative(SkillSet({"billing": 3, "german": 1}))
        SkillSet({'general': 2, 'german': 1})
        """
        levels = {name: level for name, level in requirement.items() if name != self.skill}
        for name, level in self.backup.items():
            levels[name] = max(level, levels.get(name, 0))
        return SkillSet(levels)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (:meth:`from_dict` reads it back).  Runtime complexity: O(k).

        >>> OverflowRule.from_dict(OverflowRule("billing", ["general"], waiting_above=3).to_dict()).waiting_below
        1
        """
        return {
            "skill": self.skill,
            "backup": dict(self.backup.items()),
            "waiting_above": self.waiting_above,
            "waiting_below": self.waiting_below,
            "wait_above": self.wait_above,
            "wait_below": self.wait_below,
            "handle_time": self.handle_time,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OverflowRule:
        """The rule :meth:`to_dict` describes (unknown keys refused).  Runtime complexity: O(k)."""
        if not isinstance(data, Mapping):
            raise InvalidArgument("overflow", data, "expected a mapping describing an overflow rule")
        known = ("skill", "backup", "waiting_above", "waiting_below", "wait_above", "wait_below", "handle_time")
        for key in data:
            if key not in known:
                raise InvalidArgument(str(key), data[key], f"unknown overflow rule key; expected one of {', '.join(known)}")
        if "skill" not in data or "backup" not in data:
            raise InvalidArgument("skill" if "skill" not in data else "backup", None, "missing")
        options = {key: data[key] for key in known[2:] if key in data}
        return cls(data["skill"], data["backup"], **options)

    def describe(self) -> str:
        """The rule in words.  Runtime complexity: O(k).

        >>> print(OverflowRule("billing", {"general": 2}, waiting_above=20, wait_above=300).describe())
        billing -> general>=2 when waiting > 20 or expected wait > 5 min (off at <= 10 and <= 2 min 30 s)
        """
        backup = ", ".join(f"{name}>={level}" for name, level in self.backup.items())
        on: list[str] = []
        off: list[str] = []
        if self.waiting_above is not None:
            on.append(f"waiting > {self.waiting_above}")
            off.append(f"<= {self.waiting_below}")
        if self.wait_above is not None:
            on.append(f"expected wait > {span_text(self.wait_above)}")
            off.append(f"<= {span_text(self.wait_below or 0.0)}")
        return f"{self.skill} -> {backup} when {' or '.join(on)} (off at {' and '.join(off)})"


class _RuleState:
    """The live state of one rule."""

    __slots__ = ("capacity", "episodes", "expected", "offers", "samples", "since", "waiting")

    def __init__(self) -> None:
        self.since: float | None = None  # on since (None: off)
        self.episodes = 0
        self.offers = 0
        self.samples: deque[float] = deque(maxlen=SAMPLES)  # recent handling times
        self.waiting = 0  # figures at the last review
        self.expected = 0.0
        self.capacity = 0


class Overflow:
    """The overflow part of a desk: its rules, which are on, and the
    figures they are judged by.  ``emit`` is the audit trail's.  Not
    thread-safe on its own: the desk's lock guards it."""

    __slots__ = ("_alternatives", "_augmented", "active", "capacity_stale", "emit", "rules", "states")

    def __init__(self, rules: Iterable[OverflowRule], emit: Callable[..., None]) -> None:
        """Runtime complexity: O(rules)."""
        self.rules: tuple[OverflowRule, ...] = tuple(rules)
        seen: set[str] = set()
        for index, rule in enumerate(self.rules):
            if not isinstance(rule, OverflowRule):
                raise InvalidArgument(f"overflow[{index}]", rule, "expected a triage_queue.OverflowRule")
            if rule.skill in seen:
                raise InvalidArgument(f"overflow[{index}].skill", rule.skill, "two overflow rules for one skill")
            seen.add(rule.skill)
        self.emit = emit
        self.states = [_RuleState() for _ in self.rules]
        self.active = False  # whether any rule is on
        self.capacity_stale = True  # the roster changed since capacities were counted
        self._augmented: dict[SkillSet, SkillSet | None] = {}
        self._alternatives: dict[SkillSet, tuple[tuple[int, SkillSet], ...]] = {}

    # -- reviewing ------------------------------------------------------------------

    def review(
        self, now: float, groups: Mapping[str, Any], states: Mapping[str, AgentState], resting: Container[str] = ()
    ) -> bool:
        """Judge every rule on the live figures (``groups``: the books' skill
        groups, each with a ``waiting`` count; ``states``: the roster's;
        ``resting``: agents cooling down, whose capacity does not count)
        and start or end rules, with their events.  Return whether some rule
        started.  Runtime complexity: O(rules · groups), plus O(A) after a
        roster change."""
        if self.capacity_stale:
            self._count_capacity(states, resting)
        waiting = [0] * len(self.rules)
        index_of = {rule.skill: i for i, rule in enumerate(self.rules)}
        for name, book in groups.items():
            if not book.waiting:
                continue
            # The group's skill names as the books know them (a label joins them
            # with "+", which a skill name may contain; "-" may be a skill).
            skills = getattr(book, "skills", None)
            if skills is None:  # a book no ticket was counted in since it was loaded
                skills = frozenset(name.split("+")) if name != "-" else frozenset()
            for skill in skills:
                i = index_of.get(skill)
                if i is not None:
                    waiting[i] += book.waiting
        started = changed = False
        for i, rule in enumerate(self.rules):
            st = self.states[i]
            st.waiting = waiting[i]
            handle = sum(st.samples) / len(st.samples) if st.samples else rule.handle_time
            st.expected = expected_wait(st.waiting, handle, st.capacity)
            if st.since is None:
                why = self._start_reason(rule, st)
                if why is not None:
                    st.since = now
                    st.episodes += 1
                    started = changed = True
                    self.emit(EventKind.OVERFLOW_STARTED, now, detail=f"overflow: {why}; backup {_backup_text(rule)}")
            elif self._may_stop(rule, st):
                st.since = None
                changed = True
                self.emit(EventKind.OVERFLOW_ENDED, now, detail=f"overflow of {rule.skill} ended: {self._figures_text(st)}")
        if changed:
            self.active = any(st.since is not None for st in self.states)
            self._augmented.clear()
            self._alternatives.clear()
        return started

    def _count_capacity(self, states: Mapping[str, AgentState], resting: Container[str]) -> None:
        capacity = [0] * len(self.rules)
        for agent_id, state in states.items():
            agent = state.agent
            if agent.status is not AgentStatus.AVAILABLE or agent_id in resting:
                continue
            for i, rule in enumerate(self.rules):
                if agent.skills.get(rule.skill, 0) >= 1:
                    capacity[i] += state.total_capacity
        for st, value in zip(self.states, capacity, strict=True):
            st.capacity = value
        self.capacity_stale = False

    @staticmethod
    def _start_reason(rule: OverflowRule, st: _RuleState) -> str | None:
        if rule.waiting_above is not None and st.waiting > rule.waiting_above:
            return f"{rule.skill} has {st.waiting} waiting > {rule.waiting_above}"
        if rule.wait_above is not None and st.expected > rule.wait_above:
            return f"{rule.skill} expected wait {span_text(st.expected)} > {span_text(rule.wait_above)}"
        return None

    @staticmethod
    def _may_stop(rule: OverflowRule, st: _RuleState) -> bool:
        if rule.waiting_below is not None and st.waiting > rule.waiting_below:
            return False
        # With no capacity of its own the group's next ticket would wait for
        # ever: a wait rule stays on (or it would flap at every ticket).
        return rule.wait_below is None or (st.capacity > 0 and st.expected <= rule.wait_below)

    @staticmethod
    def _figures_text(st: _RuleState) -> str:
        return f"{st.waiting} waiting, expected wait {span_text(st.expected)}"

    def roster_changed(self) -> None:
        """An agent joined, left or changed: count the capacities again at
        the next review.  Runtime complexity: O(1)."""
        self.capacity_stale = True

    def served(self, skills: SkillSet, handled: float) -> None:
        """A ticket requiring ``skills`` was completed after ``handled``
        seconds of handling: a sample for the rules of its skills.
        Runtime complexity: O(rules)."""
        if handled < 0 or not math.isfinite(handled):
            return
        for i, rule in enumerate(self.rules):
            if rule.skill in skills:
                self.states[i].samples.append(handled)

    # -- routing ---------------------------------------------------------------------

    def augmented(self, skills: SkillSet) -> SkillSet | None:
        """The skills an agent holding ``skills`` is routed with while rules
        are on: its own plus, for each rule on whose backup it satisfies,
        the rule's skill at the top level; None if no rule applies.
        Runtime complexity: O(1) memoised, else O(rules · k)."""
        memo = self._augmented
        if skills in memo:
            return memo[skills]
        levels: dict[str, int] | None = None
        for i, rule in enumerate(self.rules):
            if self.states[i].since is not None and rule.backup.satisfied_by(skills):
                if levels is None:
                    levels = dict(skills.items())
                levels[rule.skill] = _TOP_LEVEL
        result = None if levels is None else SkillSet(levels)
        if len(memo) >= 4096:
            memo.clear()
        memo[skills] = result
        return result

    def alternatives(self, requirement: SkillSet) -> tuple[tuple[int, SkillSet], ...]:
        """For a ticket of ``requirement``: ``(rule index, what a backup must
        hold)`` for each rule on whose skill it requires, in rule order.
        Runtime complexity: O(1) memoised, else O(rules · k)."""
        memo = self._alternatives
        found = memo.get(requirement)
        if found is None:
            found = tuple(
                (i, rule.alternative(requirement))
                for i, rule in enumerate(self.rules)
                if self.states[i].since is not None and rule.skill in requirement
            )
            if len(memo) >= 4096:
                memo.clear()
            memo[requirement] = found
        return found

    def rule_used(self, requirement: SkillSet, skills: SkillSet) -> int | None:
        """The rule that lets an agent holding ``skills`` take a ticket of
        ``requirement`` it does not qualify for by its own skills (the first
        such rule on), or None.  Runtime complexity: O(rules · k)."""
        for i, alternative in self.alternatives(requirement):
            if alternative.satisfied_by(skills):
                return i
        return None

    def could_take(self, requirement: SkillSet, skills: SkillSet) -> bool:
        """Whether some rule (on or off) would let an agent holding
        ``skills`` take a ticket of ``requirement``: how an offer made
        through overflow stays valid after the rule ends.  Runtime complexity: O(rules · k)."""
        return any(rule.skill in requirement and rule.alternative(requirement).satisfied_by(skills) for rule in self.rules)

    def note(self, index: int) -> str:
        """Why a ticket went to a backup agent through rule ``index``
        ("overflow: billing has 34 waiting > 20"), and counts the offer.
        Runtime complexity: O(1)."""
        rule, st = self.rules[index], self.states[index]
        st.offers += 1
        why = self._start_reason(rule, st)
        if why is None:  # between the thresholds: on until the surge passes
            why = f"{rule.skill} surge since {clock_text(st.since or 0.0)} ({self._figures_text(st)})"
        return f"overflow: {why}"

    # -- reading -------------------------------------------------------------------------

    def figures(self) -> dict[str, OverflowFigures]:
        """Each rule's figures, by skill, in rule order.  Runtime complexity: O(rules)."""
        return {
            rule.skill: OverflowFigures(
                st.since is not None,
                st.since,
                st.waiting,
                st.expected if math.isfinite(st.expected) else None,
                st.capacity,
                st.episodes,
                st.offers,
            )
            for rule, st in zip(self.rules, self.states, strict=True)
        }

    # -- saving and restoring ---------------------------------------------------------------

    def export(self) -> dict[str, Any]:
        """The rules and their live state as plain data.  Runtime complexity: O(rules · SAMPLES)."""
        return {
            "rules": [rule.to_dict() for rule in self.rules],
            "state": [
                {
                    "since": None if st.since is None else number(st.since),
                    "episodes": st.episodes,
                    "offers": st.offers,
                    "samples": [number(x) for x in st.samples],
                    "waiting": st.waiting,
                    "expected": number(st.expected),
                    "capacity": st.capacity,
                }
                for st in self.states
            ],
        }

    @classmethod
    def load(cls, data: Reader, emit: Callable[..., None]) -> Overflow:
        """The part :meth:`export` described, checked.  Runtime complexity: O(rules · SAMPLES)."""
        rules = []
        for item in data.seq("rules").items():
            try:
                rules.append(OverflowRule.from_dict(item.data))
            except InvalidArgument as exc:
                raise InvalidArgument(f"{item.path}.{exc.field}", exc.value, exc.reason) from None
        try:
            part = cls(rules, emit)
        except InvalidArgument as exc:
            raise InvalidArgument(f"{data.path}.{exc.field}", exc.value, exc.reason) from None
        states = list(data.seq("state").items())
        if len(states) != len(rules):
            raise InvalidArgument(f"{data.path}.state", len(states), f"expected one state per rule ({len(rules)})")
        for st, item in zip(part.states, states, strict=True):
            st.since = item.real("since", allow_none=True)
            st.episodes = item.integer("episodes")
            st.offers = item.integer("offers")
            samples = item.seq("samples").reals()
            if len(samples) > SAMPLES or any(not 0 <= x < _INF for x in samples):
                raise InvalidArgument(f"{item.path}.samples", samples, f"expected at most {SAMPLES} finite times >= 0")
            st.samples.extend(samples)
            st.waiting = item.integer("waiting")
            st.expected = item.real("expected")
            st.capacity = item.integer("capacity")
            if (st.since is not None and not math.isfinite(st.since)) or not st.expected >= 0:
                raise InvalidArgument(item.path, item.data, "a start time must be finite, an expected wait >= 0")
            if st.since is not None and st.episodes == 0:
                raise InvalidArgument(f"{item.path}.episodes", 0, "a rule on (since set) has started at least once")
        part.active = any(st.since is not None for st in part.states)
        return part

    def _check(self) -> None:
        """Assert the part's invariants (used by the test suite)."""
        assert len({rule.skill for rule in self.rules}) == len(self.rules), "two rules for one skill"
        assert self.active == any(st.since is not None for st in self.states), "the active flag is out of step"
        for st in self.states:
            assert st.episodes >= (st.since is not None), "a rule on that never started"
            assert len(st.samples) <= SAMPLES
        for skills, augmented in self._augmented.items():
            assert augmented == self._fresh_augmented(skills), "a stale augmented-skills memo"

    def _fresh_augmented(self, skills: SkillSet) -> SkillSet | None:
        levels = dict(skills.items())
        applied = False
        for i, rule in enumerate(self.rules):
            if self.states[i].since is not None and rule.backup.satisfied_by(skills):
                levels[rule.skill] = _TOP_LEVEL
                applied = True
        return SkillSet(levels) if applied else None


def _backup_text(rule: OverflowRule) -> str:
    return ", ".join(f"{name}>={level}" for name, level in rule.backup.items())
