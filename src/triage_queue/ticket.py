"""The ticket model: :class:`Ticket`, :class:`Severity` with its fixed
classification criteria, and :class:`SkillSet`, the immutable skill-to-level
mapping used both for what a ticket requires and for what an agent can do.

>>> t = Ticket("T-1", created_at=100.0, severity="critical", skills={"payments": 3})
>>> t.severity, t.skills["payments"], t.contacts
(<Severity.CRITICAL: 4>, 3, 1)

Times are clock seconds; a timezone-aware :class:`datetime.datetime` is
converted to them (its POSIX timestamp, the clock of :func:`time.time`):

>>> from datetime import datetime, timezone
>>> Ticket("T-2", datetime(2024, 5, 1, 9, 30, tzinfo=timezone.utc)).created_at
1714555800.0
"""

from __future__ import annotations

import datetime
import enum
import operator
from collections.abc import Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import Any, TypeAlias

import attrs

from triage_queue.errors import (
    _MISSING,
    InvalidArgument,
    InvalidTicket,
    _bad_key,
    _brief,
    _finite,
    _json_data,
    _unknown_field,
    _wire_items,
)

__all__ = [
    "Impact",
    "IssueKind",
    "Severity",
    "SkillSet",
    "SkillsLike",
    "Ticket",
    "classify_severity",
]

MIN_LEVEL = 1
MAX_LEVEL = 5
# The most contacts a ticket may count: the largest int a float holds
# exactly, so rules can do arithmetic with it.
MAX_CONTACTS = 2**53


class Severity(enum.IntEnum):
    """How badly a ticket hurts the customer, ordered LOW < NORMAL < HIGH < CRITICAL.

    CRITICAL is the *emergency* class: the customer's business is stopped.
    Use :func:`classify_severity` to decide it from fixed criteria.

    >>> Severity.HIGH > Severity.NORMAL
    True
    >>> Severity.parse("critical")
    <Severity.CRITICAL: 4>
    """

    LOW = 1
    NORMAL = 2
    HIGH = 3
    CRITICAL = 4

    @classmethod
    def parse(cls, value: Severity | str | int) -> Severity:
        """Accept a member, its name (any case) or its number.

        Runtime complexity: O(1).

        >>> Severity.parse(3)
        <Severity.HIGH: 3>
        """
        if isinstance(value, Severity):
            return value
        if isinstance(value, str):
            member = cls.__members__.get(value.strip().upper())
            if member is not None:
                return member
        elif isinstance(value, int) and not isinstance(value, bool):
            try:
                return cls(value)
            except ValueError:
                pass
        names = ", ".join(m.name.lower() for m in cls)
        raise InvalidTicket("severity", value, f"expected one of {names} (or 1..4)")


class Impact(enum.Enum):
    """How many of the customer's users an issue reaches."""

    SINGLE_USER = "single_user"
    SOME_USERS = "some_users"
    EVERYONE = "everyone"


class IssueKind(enum.Enum):
    """What kind of problem a ticket reports."""

    QUESTION = "question"
    DEFECT = "defect"
    CORE_FUNCTION = "core_function"  # e.g. payment or login failing
    OUTAGE = "outage"  # the system is down
    SECURITY = "security"  # a security threat or a data leak


# The fixed criteria: (kind, impact) -> severity.  A security threat or data
# leak is an emergency whatever its reach; an outage or a failing core
# function is one as soon as it reaches more than a single user.
_CRITERIA: dict[IssueKind, dict[Impact, Severity]] = {
    IssueKind.QUESTION: {
        Impact.SINGLE_USER: Severity.LOW,
        Impact.SOME_USERS: Severity.LOW,
        Impact.EVERYONE: Severity.NORMAL,
    },
    IssueKind.DEFECT: {
        Impact.SINGLE_USER: Severity.NORMAL,
        Impact.SOME_USERS: Severity.NORMAL,
        Impact.EVERYONE: Severity.HIGH,
    },
    IssueKind.CORE_FUNCTION: {
        Impact.SINGLE_USER: Severity.HIGH,
        Impact.SOME_USERS: Severity.CRITICAL,
        Impact.EVERYONE: Severity.CRITICAL,
    },
    IssueKind.OUTAGE: {
        Impact.SINGLE_USER: Severity.HIGH,
        Impact.SOME_USERS: Severity.CRITICAL,
        Impact.EVERYONE: Severity.CRITICAL,
    },
    IssueKind.SECURITY: {
        Impact.SINGLE_USER: Severity.CRITICAL,
        Impact.SOME_USERS: Severity.CRITICAL,
        Impact.EVERYONE: Severity.CRITICAL,
    },
}


def classify_severity(impact: Impact | str, kind: IssueKind | str) -> Severity:
    """Decide a ticket's severity from its impact scope and kind.

    ========================  ===========  ==========  ========
    kind \\\\ impact            single user  some users  everyone
    ========================  ===========  ==========  ========
    question                  LOW          LOW         NORMAL
    defect                    NORMAL       NORMAL      HIGH
    core function failing     HIGH         CRITICAL    CRITICAL
    outage                    HIGH         CRITICAL    CRITICAL
    security threat or leak   CRITICAL     CRITICAL    CRITICAL
    ========================  ===========  ==========  ========

    Accepts the enum members or their values in any case (``"everyone"``,
    ``"OUTAGE"``).
    Raises :class:`InvalidTicket` naming ``impact`` or ``kind`` otherwise.

    Runtime complexity: O(1).

    >>> classify_severity("everyone", "outage")
    <Severity.CRITICAL: 4>
    >>> classify_severity(Impact.SINGLE_USER, IssueKind.QUESTION)
    <Severity.LOW: 1>
    """
    try:
        impact = Impact(impact.lower() if isinstance(impact, str) else impact)
    except Exception:  # ValueError, or whatever a hostile __hash__/__eq__ raises
        raise InvalidTicket("impact", impact, f"expected one of {[i.value for i in Impact]}") from None
    try:
        kind = IssueKind(kind.lower() if isinstance(kind, str) else kind)
    except Exception:
        raise InvalidTicket("kind", kind, f"expected one of {[k.value for k in IssueKind]}") from None
    return _CRITERIA[kind][impact]


SkillsLike: TypeAlias = "SkillSet | Mapping[str, int] | Iterable[str]"


class SkillSet(Mapping[str, int]):
    """An immutable, hashable mapping of skill name to level 1..5.

    For a ticket the levels are minimum proficiencies required; for an agent
    they are proficiencies held.  An iterable of names means level 1 each.

    Runtime complexity: construction O(k log k) for k skills; lookups O(1);
    :meth:`satisfied_by` O(k).

    >>> need = SkillSet({"billing": 2, "german": 1})
    >>> need.satisfied_by({"billing": 3, "german": 1, "payments": 5})
    True
    >>> need.satisfied_by({"billing": 1, "german": 5})
    False
    >>> SkillSet(["billing"]) == SkillSet({"billing": 1})
    True
    """

    __slots__ = ("_hash", "_items", "_levels")

    _levels: dict[str, int]
    _items: tuple[tuple[str, int], ...]
    _hash: int

    def __init__(self, skills: SkillsLike = (), *, field: str = "skills") -> None:
        if isinstance(skills, SkillSet):
            levels = dict(skills._levels)
        elif isinstance(skills, Mapping):
            levels = {}
            for name, level in skills.items():
                _check_skill(field, skills, name, level)
                levels[name] = level
        elif isinstance(skills, str | bytes) or not isinstance(skills, Iterable):
            raise InvalidTicket(field, skills, "expected a mapping of skill name to level 1..5, or an iterable of names")
        else:
            levels = {}
            for name in skills:
                _check_skill(field, skills, name, MIN_LEVEL)
                levels[name] = MIN_LEVEL
        items = tuple(sorted(levels.items()))
        object.__setattr__(self, "_levels", dict(items))
        object.__setattr__(self, "_items", items)
        object.__setattr__(self, "_hash", hash(items))

    @classmethod
    def of(cls, skills: SkillsLike, *, field: str = "skills") -> SkillSet:
        """Return ``skills`` itself if it is a SkillSet, else convert it.

        Runtime complexity: O(1) for a SkillSet, else as the constructor.
        """
        return skills if isinstance(skills, SkillSet) else cls(skills, field=field)

    def satisfied_by(self, proficiency: Mapping[str, int]) -> bool:
        """Whether ``proficiency`` has every skill here at least at its level.

        Runtime complexity: O(k) for the k skills of this set.
        """
        # A SkillSet's own dict answers get() without Mapping's try/except.
        try:
            get = proficiency._levels.get if proficiency.__class__ is SkillSet else proficiency.get
            for name, level in self._items:
                if get(name, 0) < level:
                    return False
        except Exception as exc:
            raise _bad_proficiency(proficiency, exc) from exc
        return True

    def missing_from(self, proficiency: Mapping[str, int]) -> list[tuple[str, int, int]]:
        """The ``(skill, required, held)`` triples ``proficiency`` falls short on.

        Runtime complexity: O(k).

        >>> SkillSet({"payments": 3}).missing_from({"payments": 1})
        [('payments', 3, 1)]
        """
        try:
            return [(n, lvl, proficiency.get(n, 0)) for n, lvl in self._items if proficiency.get(n, 0) < lvl]
        except Exception as exc:
            raise _bad_proficiency(proficiency, exc) from exc

    def __getitem__(self, name: str) -> int:
        """The level of skill ``name``.  Runtime complexity: O(1)."""
        try:
            return self._levels[name]
        except KeyError:
            raise
        except Exception as exc:  # unhashable
            raise _bad_key("name", name, exc) from exc

    def get(self, name: str, default: Any = None) -> Any:
        """The level of skill ``name``, or ``default``.  Runtime complexity: O(1)."""
        try:
            return self._levels.get(name, default)
        except Exception as exc:  # unhashable
            raise _bad_key("name", name, exc) from exc

    def __contains__(self, name: object) -> bool:
        """Whether skill ``name`` is in the set.  Runtime complexity: O(1)."""
        try:
            return name in self._levels
        except Exception as exc:  # unhashable
            raise _bad_key("name", name, exc) from exc

    def __iter__(self) -> Iterator[str]:
        """Skill names in sorted order.  Runtime complexity: O(1) per name."""
        return iter(self._levels)

    def __len__(self) -> int:
        """Number of skills.  Runtime complexity: O(1)."""
        return len(self._items)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        if isinstance(other, SkillSet):
            return self._items == other._items
        if isinstance(other, Mapping):
            return dict(self._items) == dict(other)
        return NotImplemented

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("SkillSet is immutable")

    def __repr__(self) -> str:
        return f"SkillSet({dict(self._items)!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (SkillSet, (dict(self._items),))


def _bad_proficiency(proficiency: Any, exc: Exception) -> InvalidArgument:
    if isinstance(exc, InvalidArgument):
        return exc
    return InvalidArgument("proficiency", proficiency, f"expected a mapping of skill name to level 0..5 ({_brief(exc)})")


def _check_skill(field: str, whole: Any, name: Any, level: Any) -> None:
    if not isinstance(name, str) or not name:
        raise InvalidTicket(field, whole, f"skill name {_brief(name)} must be a non-empty string")
    if not isinstance(level, int) or isinstance(level, bool) or not MIN_LEVEL <= level <= MAX_LEVEL:
        raise InvalidTicket(field, whole, f"level of skill {_brief(name)} is {_brief(level)}; expected an int 1..5")


# -- Ticket -------------------------------------------------------------------

_EMPTY_SKILLS = SkillSet()
_EMPTY_ATTRIBUTES: Mapping[str, Any] = MappingProxyType({})
# Writes a slot past a frozen class's __setattr__, as attrs' own __init__ does.
_object_setattr = object.__setattr__


def _to_id(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidTicket("id", value, "expected a non-empty string")
    return value


def _time(field: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidTicket(field, value, "expected a number of clock seconds")
    return _finite(InvalidTicket, field, value, "expected a finite number of clock seconds")


def _instant(field: str, value: Any) -> float:
    # Clock seconds, or a timezone-aware datetime (checked only once the
    # value is not a number, so a number costs nothing more).
    if isinstance(value, bool) or not isinstance(value, int | float):
        if isinstance(value, datetime.datetime):
            return _from_datetime(field, value)
        raise InvalidTicket(field, value, "expected a number of clock seconds, or a timezone-aware datetime")
    return _finite(InvalidTicket, field, value, "expected a finite number of clock seconds")


def _from_datetime(field: str, value: datetime.datetime) -> float:
    try:
        aware = value.utcoffset() is not None
        seconds = value.timestamp() if aware else None
    except Exception as exc:  # a tzinfo whose utcoffset() raises or is out of range
        raise InvalidTicket(field, value, f"cannot convert the datetime to clock seconds ({exc})") from exc
    if seconds is None:
        raise InvalidTicket(
            field,
            value,
            "a naive datetime names no instant: attach a tzinfo (datetime.timezone.utc, zoneinfo.ZoneInfo(...)), "
            "or give clock seconds",
        )
    return _finite(InvalidTicket, field, seconds, "expected a finite number of clock seconds")


def _to_created_at(value: Any) -> float:
    return _instant("created_at", value)


def _to_sla_due(value: Any) -> float | None:
    return None if value is None else _instant("sla_due", value)


def _int_in_range(field: str, value: Any, low: int, high: int | None) -> int:
    expected = f"{low}..{high}" if high is not None else f">= {low}"
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidTicket(field, value, f"expected an int {expected}")
    if value < low or (high is not None and value > high):
        raise InvalidTicket(field, value, f"out of range: expected {expected}")
    return value


def _to_complexity(value: Any) -> int:
    return _int_in_range("complexity", value, 1, 5)


def _to_contacts(value: Any) -> int:
    return _int_in_range("contacts", value, 1, MAX_CONTACTS)


def _optional_str(field: str, value: Any) -> str | None:
    if value is not None and (not isinstance(value, str) or not value):
        raise InvalidTicket(field, value, "expected a non-empty string or None")
    return value


def _to_customer_tier(value: Any) -> str | None:
    return _optional_str("customer_tier", value)


def _to_customer_id(value: Any) -> str | None:
    return _optional_str("customer_id", value)


def _to_channel(value: Any) -> str | None:
    return _optional_str("channel", value)


def _to_severity(value: Any) -> Severity:
    return Severity.parse(value)


def _to_skills(value: Any) -> SkillSet:
    if value is None:
        return _EMPTY_SKILLS
    if isinstance(value, SkillSet):
        return value  # kept as is
    return _shared(SkillSet(value))


# Requirements built from a mapping or names, one object per distinct value:
# a queue holds few distinct requirements but many tickets, so sharing them
# saves about 380 bytes per such ticket, and lets the dictionaries the queue
# and dispatcher key by requirement find them by identity.  (A SkillSet the
# caller passes is kept as is.)
_SHARED: dict[SkillSet, SkillSet] = {_EMPTY_SKILLS: _EMPTY_SKILLS}

# Requirements read by Ticket.from_dict, by (field, *items) of the dict given.
_FROM_DICT_SKILLS: dict[tuple[Any, ...], SkillSet] = {}


def _shared(skills: SkillSet) -> SkillSet:
    found = _SHARED.get(skills)
    if found is None:
        if len(_SHARED) >= 4096:  # many one-off requirements: start afresh
            _SHARED.clear()
            _SHARED[_EMPTY_SKILLS] = _EMPTY_SKILLS
        _SHARED[skills] = found = skills
    return found


def _to_preferred_skills(value: Any) -> SkillSet:
    if value is None:
        return _EMPTY_SKILLS
    preferred = SkillSet.of(value, field="preferred_skills")
    # The shared empty set, not an equal one: the queue's fast push tests it by identity.
    return preferred if preferred else _EMPTY_SKILLS


def _to_relax_after(value: Any) -> float | None:
    if value is None:
        return None
    seconds = _time("relax_after", value)
    if seconds < 0:
        raise InvalidTicket("relax_after", value, "expected seconds >= 0, or None")
    return seconds


_MERGED: dict[tuple[SkillSet, SkillSet], SkillSet] = {}


def _merged(base: SkillSet, extra: SkillSet) -> SkillSet:
    # Few distinct (skills, preferred) pairs exist in practice; remembering
    # them keeps one SkillSet object per requirement, which the store hashes.
    found = _MERGED.get((base, extra))
    if found is None:
        levels = dict(base)
        for name, level in extra.items():
            if levels.get(name, 0) < level:
                levels[name] = level
        found = SkillSet(levels)
        if len(_MERGED) >= 4096:
            _MERGED.clear()
        _MERGED[(base, extra)] = found
    return found


def _to_attributes(value: Any) -> Mapping[str, Any]:
    if value is None or (isinstance(value, MappingProxyType) and not value):
        return _EMPTY_ATTRIBUTES
    if not isinstance(value, Mapping):
        raise InvalidTicket("attributes", value, "expected a mapping")
    if not all(isinstance(k, str) for k in value):
        raise InvalidTicket("attributes", value, "keys must be strings")
    return MappingProxyType(dict(value))


@attrs.frozen(slots=True, kw_only=False, init=False)
class Ticket:
    """One support request, as an immutable value.

    ==============  ====================================================
    id              non-empty string, unique within a queue
    created_at      clock seconds of the customer's first contact (a
                    timezone-aware ``datetime`` is converted to them)
    severity        :class:`Severity` (or its name or number)
    customer_tier   tier name such as ``"gold"``, or None for a standard customer
    complexity      int 1 (simple) .. 5 (complex)
    skills          required skills: ``{name: minimum level 1..5}`` or names
    contacts        how many times the customer wrote about it, 1..2**53
    sla_due         clock seconds (or an aware ``datetime``) by which it
                    must be answered, or None
    customer_id     who asked (for affinity), or None
    channel         ``"chat"``, ``"email"``, ``"phone"``... or None
    attributes      free mapping for your own rules
    preferred_skills  skills (or higher levels) also required at first, and
                    dropped once the ticket has waited ``relax_after``
    relax_after     seconds after ``created_at`` at which the preferred
                    skills are dropped, or None to keep them required
    ==============  ====================================================

    Invalid values raise :class:`InvalidTicket` naming the field and value.
    Use :meth:`evolve` to get a changed copy, :meth:`to_dict` and
    :meth:`from_dict` for plain (JSON) data.

    Runtime complexity: construction O(k log k) for k skills.

    >>> Ticket("T-2", 0.0, complexity=9)
    Traceback (most recent call last):
    ...
    triage_queue.errors.InvalidTicket: complexity=9: out of range: expected 1..5
    """

    id: str = attrs.field(converter=_to_id)
    created_at: float = attrs.field(converter=_to_created_at)
    severity: Severity = attrs.field(default=Severity.NORMAL, converter=_to_severity)
    customer_tier: str | None = attrs.field(default=None, converter=_to_customer_tier)
    complexity: int = attrs.field(default=1, converter=_to_complexity)
    skills: SkillSet = attrs.field(default=_EMPTY_SKILLS, converter=_to_skills)
    contacts: int = attrs.field(default=1, converter=_to_contacts)
    sla_due: float | None = attrs.field(default=None, converter=_to_sla_due)
    customer_id: str | None = attrs.field(default=None, converter=_to_customer_id)
    channel: str | None = attrs.field(default=None, converter=_to_channel)
    attributes: Mapping[str, Any] = attrs.field(
        default=_EMPTY_ATTRIBUTES, converter=_to_attributes, hash=False, repr=False
    )
    preferred_skills: SkillSet = attrs.field(default=_EMPTY_SKILLS, converter=_to_preferred_skills)
    relax_after: float | None = attrs.field(default=None, converter=_to_relax_after)

    def __init__(  # noqa: PLR0917 - the fields, in order, as attrs would take them
        self,
        # Typed Any, as the converters take them (as attrs' __init__ was).
        id: Any,
        created_at: Any,
        severity: Any = Severity.NORMAL,
        customer_tier: Any = None,
        complexity: Any = 1,
        skills: Any = _EMPTY_SKILLS,
        contacts: Any = 1,
        sla_due: Any = None,
        customer_id: Any = None,
        channel: Any = None,
        attributes: Any = _EMPTY_ATTRIBUTES,
        preferred_skills: Any = _EMPTY_SKILLS,
        relax_after: Any = None,
    ) -> None:
        # What the attrs-generated __init__ does (each field's converter, in
        # field order, so the first bad field is the one named), with the
        # common already-valid values recognised without calling the
        # converter: tickets are made once per arrival, and this halves it.
        if id.__class__ is not str or not id:
            id = _to_id(id)
        # x - x is 0.0 exactly for finite floats (NaN and infinities give NaN).
        if created_at.__class__ is not float or created_at - created_at != 0.0:
            created_at = _to_created_at(created_at)
        if severity.__class__ is not Severity:
            severity = _to_severity(severity)
        if customer_tier is not None:
            customer_tier = _to_customer_tier(customer_tier)
        if complexity.__class__ is not int or not 1 <= complexity <= 5:
            complexity = _to_complexity(complexity)
        if skills.__class__ is not SkillSet:
            skills = _to_skills(skills)
        if contacts.__class__ is not int or not 1 <= contacts <= MAX_CONTACTS:
            contacts = _to_contacts(contacts)
        if sla_due is not None:
            sla_due = _to_sla_due(sla_due)
        if customer_id is not None:
            customer_id = _to_customer_id(customer_id)
        if channel is not None:
            channel = _to_channel(channel)
        if attributes is not _EMPTY_ATTRIBUTES:
            attributes = _to_attributes(attributes)
        if preferred_skills is not _EMPTY_SKILLS:
            preferred_skills = _to_preferred_skills(preferred_skills)
        if relax_after is not None:
            relax_after = _to_relax_after(relax_after)
        set_slot = _object_setattr
        set_slot(self, "id", id)
        set_slot(self, "created_at", created_at)
        set_slot(self, "severity", severity)
        set_slot(self, "customer_tier", customer_tier)
        set_slot(self, "complexity", complexity)
        set_slot(self, "skills", skills)
        set_slot(self, "contacts", contacts)
        set_slot(self, "sla_due", sla_due)
        set_slot(self, "customer_id", customer_id)
        set_slot(self, "channel", channel)
        set_slot(self, "attributes", attributes)
        set_slot(self, "preferred_skills", preferred_skills)
        set_slot(self, "relax_after", relax_after)

    def requirement(self, now: float) -> SkillSet:
        """The skills an agent needs to take this ticket at ``now``:
        :attr:`skills`, raised to :attr:`preferred_skills` until the ticket
        has waited :attr:`relax_after` seconds.

        Runtime complexity: O(k) for k skills (O(1) with no preferred skills).

        >>> t = Ticket("T", 0.0, skills={"billing": 1}, preferred_skills={"billing": 3, "german": 2}, relax_after=60)
        >>> dict(t.requirement(10.0)), dict(t.requirement(60.0))
        ({'billing': 3, 'german': 2}, {'billing': 1})
        """
        if not self.preferred_skills:
            return self.skills
        relax_after = self.relax_after
        # The same sum as relaxes_at(), which the queue schedules.
        try:
            relaxed = relax_after is not None and now >= self.created_at + relax_after
        except Exception:  # now is not a number: name it
            raise InvalidArgument("now", now, "expected clock seconds") from None
        if relaxed:
            return self.skills
        return _merged(self.skills, self.preferred_skills)

    def relaxes_at(self) -> float | None:
        """The instant the preferred skills are dropped, or None if there are
        none or they are never dropped.  Runtime complexity: O(1)."""
        if not self.preferred_skills or self.relax_after is None:
            return None
        return self.created_at + self.relax_after

    def evolve(self, **changes: Any) -> Ticket:
        """Return a copy with ``changes`` applied and validated.

        Unknown field names raise :class:`InvalidTicket`; the id cannot change.

        Runtime complexity: O(number of fields).

        >>> Ticket("T-3", 0.0).evolve(contacts=2).contacts
        2
        """
        converters = _CONVERTERS
        values: list[Any] = list(_ALL_FIELDS(self))
        if changes:
            for name, value in changes.items():
                position = _POSITION.get(name)
                if position is None:
                    raise InvalidTicket(name, value, f"no such ticket field; fields are {sorted(converters)}")
                if position == 0 and (not isinstance(value, str) or str.__ne__(value, self.id)):
                    raise InvalidTicket("id", value, f"a ticket's id cannot change (it is {self.id!r})")
                values[position] = converters[name](value)
        # Only the changed fields need converting: the others were validated
        # when this ticket was made.  Setting the slots directly is much
        # cheaper than attrs.evolve, which would convert every field again.
        new = object.__new__(Ticket)
        for set_slot, value in zip(_SLOT_SETTERS, values, strict=True):
            set_slot(new, value)
        return new

    def to_dict(self) -> dict[str, Any]:
        """Every field as JSON data, in field order: ``severity`` as its
        lower-case name, ``skills`` and ``preferred_skills`` as
        ``{name: level}`` sorted by name, times as clock seconds (floats),
        ``attributes`` as a copy with every dict's keys sorted.  The same
        ticket always gives the same dict, and
        ``Ticket.from_dict(json.loads(json.dumps(t.to_dict())))`` equals ``t``.

        Raises :class:`InvalidTicket` naming ``attributes`` and the path of
        the first value in them that is not JSON data (a tuple, a set, NaN,
        an object...), which would not read back equal.

        Runtime complexity: O(k + a log a) for k skills and a values in the
        attributes.

        >>> Ticket("T-4", 60, severity="high", skills=["billing"], sla_due=960).to_dict()
        {'id': 'T-4', 'created_at': 60.0, 'severity': 'high', 'customer_tier': None, 'complexity': 1, \
'skills': {'billing': 1}, 'contacts': 1, 'sla_due': 960.0, 'customer_id': None, 'channel': None, 'attributes': {}, \
'preferred_skills': {}, 'relax_after': None}
        """
        attributes = self.attributes
        return {
            "id": self.id,
            "created_at": self.created_at,
            "severity": _SEVERITY_NAMES[self.severity],
            "customer_tier": self.customer_tier,
            "complexity": self.complexity,
            "skills": dict(self.skills._items),
            "contacts": self.contacts,
            "sla_due": self.sla_due,
            "customer_id": self.customer_id,
            "channel": self.channel,
            "attributes": _json_data(InvalidTicket, "attributes", attributes) if attributes else {},
            "preferred_skills": dict(self.preferred_skills._items),
            "relax_after": self.relax_after,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Ticket:
        """The ticket :meth:`to_dict` describes, validated as the constructor
        validates (a datetime is accepted where it is).  ``id`` and
        ``created_at`` are required; the other fields default as in the
        constructor.  Untrusted data is safe to pass: anything wrong raises
        :class:`InvalidTicket` naming the field, an unknown key (with the
        closest field name) or a missing one, and ``attributes`` must be JSON
        data.

        Runtime complexity: O(len(data) + k log k + a log a) for k skills
        and a values in the attributes.

        >>> Ticket.from_dict({"id": "T-5", "created_at": 0, "severity": "critical"}).severity
        <Severity.CRITICAL: 4>
        >>> Ticket.from_dict({"id": "T-5", "created_at": 0, "sla_deu": 60})
        Traceback (most recent call last):
        ...
        triage_queue.errors.InvalidTicket: sla_deu=60: not a ticket field; did you mean 'sla_due'?
        """
        if cls is Ticket and data.__class__ is dict and data.keys() == _FIELD_SET:
            # What to_dict writes (after a JSON round trip, say): checked
            # field by field with exact-class tests; anything else (a value
            # to convert, or to refuse with its message) takes the full path.
            ticket = _plain_ticket(data)
            if ticket is not None:
                return ticket
        items = _wire_items(InvalidTicket, "ticket", data)
        for key, value in items.items():
            if key not in _POSITION:
                _unknown_field(InvalidTicket, key, value, _FIELD_NAMES, "a ticket field")
        for key in _REQUIRED:
            if key not in items:
                raise InvalidTicket(key, _MISSING, f"missing: a ticket needs {' and '.join(_REQUIRED)}")
        attributes = items.get("attributes")
        if attributes is not None:
            if attributes.__class__ is dict and not attributes:
                del items["attributes"]  # the default: nothing to copy or check
            else:
                items["attributes"] = _json_data(InvalidTicket, "attributes", attributes)
        for field in ("skills", "preferred_skills"):
            # A snapshot holds many tickets with few distinct requirements:
            # each distinct one is checked and built once.
            value = items.get(field)
            # Only plain str -> int maps are memoised (True == 1 must not pass for a level).
            if value.__class__ is dict and all(k.__class__ is str and v.__class__ is int for k, v in value.items()):
                memo_key = (field, *value.items())
                known = _FROM_DICT_SKILLS.get(memo_key)
                if known is None:
                    known = _to_skills(value) if field == "skills" else _to_preferred_skills(value)
                    if len(_FROM_DICT_SKILLS) >= 4096:
                        _FROM_DICT_SKILLS.clear()
                    _FROM_DICT_SKILLS[memo_key] = known
                items[field] = known
        return cls(**items)

    def __reduce__(self) -> tuple[Any, ...]:
        # The read-only attributes proxy cannot be pickled or deep-copied:
        # rebuild from plain values (as SkillSet does).
        return (
            Ticket,
            (
                self.id,
                self.created_at,
                self.severity,
                self.customer_tier,
                self.complexity,
                self.skills,
                self.contacts,
                self.sla_due,
                self.customer_id,
                self.channel,
                dict(self.attributes),
                self.preferred_skills,
                self.relax_after,
            ),
        )


_CONVERTERS: dict[str, Any] = {a.name: a.converter for a in attrs.fields(Ticket)}
_POSITION: dict[str, int] = {name: i for i, name in enumerate(_CONVERTERS)}
_ALL_FIELDS = operator.attrgetter(*_CONVERTERS)
_FIELD_NAMES: tuple[str, ...] = tuple(_CONVERTERS)
_REQUIRED = ("id", "created_at")
_SEVERITY_NAMES = {member: member.name.lower() for member in Severity}
# The slots' own descriptors: they write past the frozen __setattr__.
_SLOT_SETTERS = tuple(getattr(Ticket, name).__set__ for name in _CONVERTERS)
_FIELD_SET = frozenset(_FIELD_NAMES)
_FIELD_VALUES = operator.itemgetter(*_FIELD_NAMES)
_SEVERITY_BY_NAME = {name: member for member, name in _SEVERITY_NAMES.items()}
_new_ticket = object.__new__
_NO_PREFERRED = ("preferred_skills",)


def _known_skills(field: str, value: Any) -> SkillSet | None:
    """The SkillSet :meth:`Ticket.from_dict` remembered for ``value`` (a
    dict of str to int) in ``field``, or None (then from_dict decides)."""
    if value.__class__ is not dict:
        return None
    try:
        known = _FROM_DICT_SKILLS.get((field, *value.items()))
    except TypeError:  # a level that cannot be hashed (a list, a dict): from_dict refuses it
        return None
    if known is not None:
        # The memo holds exact str -> int maps only (True == 1 must not match).
        for name, level in value.items():
            if name.__class__ is not str or level.__class__ is not int:
                return None
    return known


def _plain_ticket(data: dict[str, Any]) -> Ticket | None:
    """The ticket ``Ticket.from_dict(data)`` gives, for ``data`` with every
    field of :meth:`Ticket.to_dict` and each value already in the form the
    constructor keeps (as to_dict writes them); None for anything else, which
    from_dict then converts or refuses with its full checks.  The same
    ticket, field for field (the same shared SkillSet objects): only cheaper
    (about a third of from_dict's time on a snapshot's tickets)."""
    (
        ticket_id,
        created_at,
        severity,
        customer_tier,
        complexity,
        skills,
        contacts,
        sla_due,
        customer_id,
        channel,
        attributes,
        preferred_skills,
        relax_after,
    ) = _FIELD_VALUES(data)
    if (
        ticket_id.__class__ is not str
        or not ticket_id
        # x - x is 0.0 exactly for finite floats (NaN and infinities give NaN).
        or created_at.__class__ is not float
        or created_at - created_at != 0.0
        or severity.__class__ is not str
        or (customer_tier is not None and (customer_tier.__class__ is not str or not customer_tier))
        or complexity.__class__ is not int
        or not 1 <= complexity <= 5
        or contacts.__class__ is not int
        or not 1 <= contacts <= MAX_CONTACTS
        or (sla_due is not None and (sla_due.__class__ is not float or sla_due - sla_due != 0.0))
        or (customer_id is not None and (customer_id.__class__ is not str or not customer_id))
        or (channel is not None and (channel.__class__ is not str or not channel))
        or attributes.__class__ is not dict
        or attributes
        or relax_after is not None
    ):
        return None
    member = _SEVERITY_BY_NAME.get(severity)
    if member is None:
        return None
    skills = _known_skills("skills", skills)
    if skills is None:
        return None
    if preferred_skills.__class__ is dict and not preferred_skills:
        preferred_skills = _FROM_DICT_SKILLS.get(_NO_PREFERRED)
    else:
        preferred_skills = _known_skills("preferred_skills", preferred_skills)
    if preferred_skills is None:
        return None
    ticket: Ticket = _new_ticket(Ticket)
    (
        set_id,
        set_created_at,
        set_severity,
        set_customer_tier,
        set_complexity,
        set_skills,
        set_contacts,
        set_sla_due,
        set_customer_id,
        set_channel,
        set_attributes,
        set_preferred_skills,
        set_relax_after,
    ) = _SLOT_SETTERS
    set_id(ticket, ticket_id)
    set_created_at(ticket, created_at)
    set_severity(ticket, member)
    set_customer_tier(ticket, customer_tier)
    set_complexity(ticket, complexity)
    set_skills(ticket, skills)
    set_contacts(ticket, contacts)
    set_sla_due(ticket, sla_due)
    set_customer_id(ticket, customer_id)
    set_channel(ticket, channel)
    set_attributes(ticket, _EMPTY_ATTRIBUTES)
    set_preferred_skills(ticket, preferred_skills)
    set_relax_after(ticket, None)
    return ticket
