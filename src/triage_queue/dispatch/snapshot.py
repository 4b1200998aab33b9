"""What a snapshot of a desk is: its schema and version, and the identity
of the code it ran with (the policy, the selection strategy, the classify
function), which a restore must be given again and which must match; and
how a desk is written and read: :func:`export_desk` composes each part's
own ``export()`` into one document, :func:`load_desk` has each part load
its section, then checks what no part can check alone (tracks, loads and
the queue agree; the saved desk was work-conserving).

A policy is code, not data: the snapshot records its composition, its
``max_wait``, its weights and, per rule, the rule's type, name and
parameters, so that :meth:`Dispatcher.restore` can refuse a different
policy and name the difference.

>>> from triage_queue import Policy
>>> identity = policy_identity(Policy.default())
>>> [rule["name"] for rule in identity["rules"]]
['emergency', 'vip', 'complexity', 'feedback_order']
>>> policy_difference(identity, policy_identity(Policy.default(max_wait=60))) is not None
True
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from triage_queue.agents import AgentStatus, Roster
from triage_queue.analytics import AnalyticsOptions
from triage_queue.dispatch.audit import MAX_AUDIT
from triage_queue.dispatch.books import default_classify
from triage_queue.dispatch.finished import DEFAULT_FINISHED_MEMORY, MAX_FINISHED_MEMORY
from triage_queue.dispatch.overflow import Overflow
from triage_queue.dispatch.strain import Strain
from triage_queue.errors import InvalidArgument, RuleError, TriageError
from triage_queue.policy import Policy
from triage_queue.queue import TicketQueue
from triage_queue.selection import LongestIdle, Selection
from triage_queue.ticket import SkillSet
from triage_queue.wire import Reader, number

if TYPE_CHECKING:
    from triage_queue.dispatch.desk import Desk

__all__ = [
    "SCHEMA", "VERSION", "code_name", "export_desk", "load_desk", "policy_difference", "policy_identity", "read_code",
    "read_settings", "read_snapshot",
]

SCHEMA = "triage-queue/desk"
VERSION = 1


def code_name(obj: Any) -> str:
    """A stable name for a piece of code (``module.qualname``), the same in
    every process.  Runtime complexity: O(1)."""
    target = obj if callable(obj) and hasattr(obj, "__qualname__") else type(obj)
    return f"{getattr(target, '__module__', '?')}.{getattr(target, '__qualname__', repr(target))}"


def _plain(value: Any) -> Any:
    # A rule parameter as plain, process-independent data.
    if isinstance(value, enum.Enum):
        return value.name.lower()
    if isinstance(value, bool | str | int) or value is None:
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, list | tuple | frozenset | set):
        items = [_plain(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, frozenset | set) else items
    if callable(value):
        return code_name(value)
    text = repr(value)
    # A repr with a memory address differs in every process: the type's name stands for it.
    return code_name(type(value)) if " at 0x" in text else text


def _rule_identity(rule: Any) -> dict[str, Any]:
    if attrs.has(type(rule)):
        params = {f.name: _plain(getattr(rule, f.name)) for f in attrs.fields(type(rule)) if f.name != "name"}
    elif hasattr(rule, "__dict__"):
        params = {k: _plain(v) for k, v in sorted(vars(rule).items()) if not k.startswith("_")}
    else:
        params = {}
    return {"type": code_name(type(rule)), "name": getattr(rule, "name", "?"), "params": params}


def policy_identity(policy: Policy) -> dict[str, Any]:
    """The policy as plain data that is the same in every process for the
    same policy: composition, ``max_wait``, weights and each rule's type,
    name and parameters.  Runtime complexity: O(R).
    """
    return {
        "composition": policy.composition.value,
        "max_wait": policy.max_wait,
        "weights": None if policy.weights is None else list(policy.weights),
        "rules": [_rule_identity(rule) for rule in policy.rules],
    }


def policy_difference(recorded: Any, given: dict[str, Any]) -> str | None:
    """What differs between a recorded policy identity and the given one,
    in words, or None if they match.  Runtime complexity: O(R).
    """
    if recorded == given:
        return None
    if not isinstance(recorded, Mapping):
        return "the snapshot records no policy"
    for key in ("composition", "max_wait", "weights"):
        if recorded.get(key) != given[key]:
            return f"the snapshot's {key} is {recorded.get(key)!r}, this policy's is {given[key]!r}"
    rules = recorded.get("rules")
    if not isinstance(rules, list) or len(rules) != len(given["rules"]):
        count = len(rules) if isinstance(rules, list) else "no"
        return f"the snapshot's policy has {count} rules, this one {len(given['rules'])}"
    for i, (a, b) in enumerate(zip(rules, given["rules"], strict=True)):
        if a != b:
            return f"the snapshot's rule {i + 1} is {_describe(a)}, this policy's is {_describe(b)}"
    return "the policies differ"


def _describe(rule: Any) -> str:
    if not isinstance(rule, Mapping):
        return repr(rule)
    params = rule.get("params")
    if not isinstance(params, Mapping):
        params = {}
    inner = ", ".join(f"{k}={v!r}" for k, v in params.items())
    return f"{rule.get('name')}({inner})"


def describe_callable(obj: Callable[..., Any] | None, default: str) -> str:
    """``default`` for None, else :func:`code_name`.  Runtime complexity: O(1)."""
    return default if obj is None else code_name(obj)


def read_code(
    data: Any, policy: Policy | None, selection: Selection | None, classify: Callable[..., str] | None
) -> tuple[Reader, Policy, Selection]:
    """Check a snapshot's schema and version, and that the code given to
    restore it (``policy``, default :meth:`Policy.default`; ``selection``,
    default :class:`LongestIdle`; ``classify``) is what it records; return
    the snapshot's reader and the policy and selection to use.  Raises
    :class:`InvalidArgument` naming the version or the difference.
    Runtime complexity: O(rules).

    >>> read_code({"schema": "triage-queue/desk", "version": 0}, None, None, None)
    Traceback (most recent call last):
    ...
    triage_queue.errors.InvalidArgument: snapshot.version=0: this library reads desk snapshots of version 1, not 0
    """
    top = Reader(data, "snapshot")
    if top.raw("schema", None) != SCHEMA:
        raise InvalidArgument("snapshot.schema", top.raw("schema", None), f"not a desk snapshot (expected {SCHEMA!r})")
    version = top.raw("version", None)
    if version != VERSION:
        raise InvalidArgument(
            "snapshot.version", version, f"this library reads desk snapshots of version {VERSION}, not {version!r}"
        )
    policy = Policy.default() if policy is None else policy
    if not isinstance(policy, Policy):
        raise InvalidArgument("policy", policy, "expected a triage_queue.Policy")
    difference = policy_difference(top.raw("policy"), policy_identity(policy))
    if difference is not None:
        raise InvalidArgument("policy", policy, f"not the policy the snapshot was made with: {difference}")
    selection = LongestIdle() if selection is None else selection
    recorded = top.string("selection")
    if not isinstance(selection, Selection) or selection.name != recorded:
        raise InvalidArgument("selection", selection, f"the snapshot was made with selection {recorded!r}")
    recorded = top.string("classify")
    given = "severity" if classify is None else code_name(classify)
    if given != recorded:
        raise InvalidArgument("classify", classify, f"the snapshot was made with classify {recorded!r}, not {given!r}")
    return top, policy, selection


def read_settings(top: Reader, settings: Reader, max_audit: int) -> dict[str, Any]:
    """The desk's settings a snapshot (``top``) records in its ``settings``
    table, checked, as ``Dispatcher`` keyword arguments.  Runtime complexity: O(1)."""
    return {
        "offer_timeout": settings.real("offer_timeout", allow_none=True),
        "mark_not_responding": settings.flag("mark_not_responding"),
        "affinity_wait": settings.real("affinity_wait"),
        "retry_after": settings.real("retry_after", allow_none=True),
        "sla_warning": settings.real("sla_warning", allow_none=True),
        "audit": settings.integer("audit", high=max_audit),
        "refuse_unroutable": settings.flag("refuse_unroutable"),
        "advance_on_read": settings.flag("advance_on_read"),
        "name": top.string("name"),
        "stats": settings.flag("stats") if "stats" in settings.data else True,
        # Settings a snapshot made before analytics lacks: the defaults.
        "analytics": (
            AnalyticsOptions.from_dict(settings.raw("analytics"), path=f"{settings.path}.analytics")
            if "analytics" in settings.data
            else None
        ),
        "finished_memory": (
            settings.integer("finished_memory", high=MAX_FINISHED_MEMORY)
            if "finished_memory" in settings.data
            else DEFAULT_FINISHED_MEMORY
        ),
    }


def read_snapshot(
    data: Any, clock: Callable[[], float], policy: Policy | None, selection: Selection | None,
    classify: Callable[..., str] | None,
) -> tuple[Reader, TicketQueue, dict[str, Any]]:  # fmt: skip
    """What :meth:`Dispatcher.restore` builds a desk from: the snapshot's
    reader (its code checked by :func:`read_code`), a new queue with the
    policy on ``clock``, and the desk's settings (:func:`read_settings`,
    with the selection strategy) as ``Dispatcher`` keyword arguments.
    Runtime complexity: O(rules)."""
    top, policy, selection = read_code(data, policy, selection, classify)
    options = read_settings(top, top.table("settings"), MAX_AUDIT)
    options["selection"] = selection
    return top, TicketQueue(policy, clock=clock), options


def export_desk(desk: Desk) -> dict[str, Any]:
    """The whole desk as a snapshot: its header (schema, name, time,
    settings, the identity of its code), then each part's section.
    Runtime complexity: O(n log n + A·H + offers + audit)."""
    timers, sla = desk.sched.export()
    classify = desk.books.classify
    data: dict[str, Any] = {
        "schema": SCHEMA,
        "version": VERSION,
        "name": desk.name,
        "now": number(desk.sched.now),
        "clock_held": desk.sched.clock_held,
        "settings": {
            "offer_timeout": desk.offer_timeout,
            "mark_not_responding": desk.mark_not_responding,
            "affinity_wait": desk.affinity_wait,
            "retry_after": desk.retry_after,
            "sla_warning": desk.sched.sla_warning,
            "audit": desk.trail.keep,
            "refuse_unroutable": desk.routes.refuse,
            "advance_on_read": desk.advance_on_read,
            "stats": desk.stats_on,
            "analytics": desk.analytics.options.to_dict(),
            "finished_memory": desk.finished.size,
        },
        "policy": policy_identity(desk.queue.policy),
        "selection": desk.selection.name,
        "classify": "severity" if classify is default_classify else code_name(classify),
        "queue": {"next_seq": desk.seam.next_seq, "tickets": desk.seam.export()},
        "roster": desk.roster.to_dict(),
        "profiles": desk.presence.export(),
        "offers": desk.res.export(),
        "timers": timers,
        "sla": sla,
        "books": desk.books.export(),
        "audit": desk.trail.export(),
        "unroutable": desk.routes.export(lambda t: t not in desk.res.tracks and t in desk.queue),
        "analytics": desk.analytics.export(),
        "finished": desk.finished.export(),
    }
    # The optional parts' sections, only when configured: a desk without
    # them saves exactly what it did before, and older snapshots load.
    if desk.overflow is not None:
        data["overflow"] = desk.overflow.export()
    if desk.strain is not None:
        data["strain"] = desk.strain.export()
    return data

def load_desk(desk: Desk, top: Reader) -> None:
    """Fill this new, empty desk from a snapshot, each part from its
    section, then check what no part can check alone.  Lock held.
    Runtime complexity: O(n + A·H + offers + audit)."""
    sched = desk.sched
    sched.load_time(top)
    roster = Roster.from_dict(top.raw("roster"), clock=sched.desk_clock, path="snapshot.roster")
    desk.rseam.detach()
    desk.rseam = rseam = roster.attach(desk.on_agent_change)
    rseam.use(lock=desk.lock, clock=sched.desk_clock)
    desk.roster, desk.states = roster, rseam.states
    desk.presence.load(top.seq("profiles"))
    for state in rseam.states.values():
        desk.presence.place(state)
    desk.presence.widened = desk.presence.narrowed = False
    queue = top.table("queue")
    records = queue.seq("tickets").data
    next_seq = queue.integer("next_seq")
    try:
        desk.seam.load(records, next_seq, path=f"{queue.path}.tickets")
    except TriageError:
        raise
    except (TypeError, ValueError, KeyError, IndexError, AttributeError, OverflowError, RecursionError) as exc:
        # Data the queue's own checks let through: still the library's error.
        raise InvalidArgument(queue.path, type(exc).__name__, f"the queue's tickets do not load: {exc}"[:300]) from None
    desk.books.load(top.table("books"))
    get, enter = desk.queue.get, desk.books.enter
    for record in records:  # checked by the load: each names a ticket now waiting
        ticket = get(record["ticket"]["id"])
        assert ticket is not None
        enter(ticket)
    desk.res.load(top.table("offers"), desk.books.of)
    deadlines = [(offer.expires_at, offer.id) for offer in desk.res.pending.values()]
    sched.load(top.table("timers"), top.table("sla"), deadlines, desk.unanswered)
    desk.trail.load(top.table("audit"))
    desk.routes.load(top.seq("unroutable"), desk.queue)
    # Sections a snapshot made before analytics lacks: then nothing was counted.
    analytics = top.table("analytics") if "analytics" in top.data else None
    desk.analytics.load(analytics, ((i, s.agent) for i, s in desk.states.items()), sched.now)
    if "finished" in top.data:
        desk.finished.load(top.seq("finished"))
    _load_parts(desk, top)
    _verify_loaded(desk, top.path)


def _load_parts(desk: Desk, top: Reader) -> None:
    # The optional parts, from their sections if the snapshot has them.
    if top.raw("overflow", None) is not None:
        desk.overflow = Overflow.load(top.table("overflow"), desk.emit)
    if top.raw("strain", None) is not None:
        desk.strain = Strain.load(top.table("strain"), desk.sched, desk.emit, desk.assigned_counts())
        desk.presence.resting = desk.strain.resting
        for agent_id in desk.strain.resting:
            resting = desk.states.get(agent_id)
            if resting is None:
                raise InvalidArgument(f"{top.path}.strain.agents", agent_id, "a resting agent not on the roster")
            desk.presence.refresh(resting)

def _verify_loaded(desk: Desk, path: str) -> None:
    # What the parts cannot check alone: tracks, loads and the queue agree.
    load: dict[tuple[str, str], int] = {}
    for ticket_id, track in desk.res.tracks.items():
        state = desk.states.get(track.agent_id)
        if state is None or track.slot not in state.load or ticket_id in desk.queue:
            raise InvalidArgument(f"{path}.offers", ticket_id, "an offered or assigned ticket with no agent to hold it")
        if (track.offer is None) == (track.assigned_at is None):
            raise InvalidArgument(f"{path}.offers", ticket_id, "a ticket must be either offered or assigned (with its time)")
        agent, ticket = state.agent, track.ticket
        slot = agent.slot_for(ticket.channel)
        if slot not in (None, track.slot) or (
            track.offer is not None
            and (slot is None or agent.status is not AgentStatus.AVAILABLE or not desk.may_hold(ticket, agent))
        ):
            raise InvalidArgument(
                f"{path}.offers", ticket_id, "out on the wrong capacity key, or offered to an agent who cannot take it"
            )
        load[(track.agent_id, track.slot)] = load.get((track.agent_id, track.slot), 0) + 1
    joined = [state.joined for state in desk.states.values()]
    if len(set(joined)) != len(joined):
        raise InvalidArgument(f"{path}.roster", joined, "two agents with one join number")
    for agent_id, state in desk.states.items():
        for slot, used in state.load.items():
            if used != load.get((agent_id, slot), 0):
                raise InvalidArgument(f"{path}.roster", agent_id, f"its load on {slot!r} disagrees with its tickets")
    for ticket_id in desk.res.passed:
        if ticket_id not in desk.res.tracks and ticket_id not in desk.queue:
            raise InvalidArgument(f"{path}.offers.passed", ticket_id, "a pass on a ticket neither waiting nor out")
    _verify_waiting(desk, path)

def _verify_waiting(desk: Desk, path: str) -> None:
    # Each waiting ticket has a key the policy can compute and a holder
    # on the roster, and the desk is work-conserving as a saved desk
    # always is: no available agent with room qualifies for a waiting
    # ticket it has not passed on and that is not held for another.
    # By lane, so that a sound desk costs O(n·R + lanes·agents + passes
    # + holds·agents).
    now, sort_key, states = desk.sched.now, desk.queue.policy.sort_key, desk.states
    lanes: dict[tuple[SkillSet, str | None], list[tuple[str, str | None]]] = {}
    for ticket in desk.queue:
        try:
            sort_key(ticket, now)
        except RuleError as exc:
            raise InvalidArgument(f"{path}.queue", ticket.id, f"the policy cannot place it: {exc}"[:300]) from None
        requirement, channel, holder = desk.seam.lane(ticket.id)
        if holder is not None and (holder not in states or states[holder].agent.status is AgentStatus.OFFLINE):
            raise InvalidArgument(f"{path}.queue", ticket.id, f"held for {holder!r}, who is not on the roster or offline")
        lanes.setdefault((requirement, channel), []).append((ticket.id, holder))
    passed = desk.res.passed
    resting = desk.presence.resting
    for (requirement, channel), tickets in lanes.items():
        for agent_id, state in states.items():
            agent = state.agent
            if not (
                agent.status is AgentStatus.AVAILABLE and state.has_room(channel) and requirement.satisfied_by(agent.skills)
            ) or agent_id in resting:
                continue
            for ticket_id, holder in tickets:
                if agent_id not in passed.get(ticket_id, ()) and holder in (None, agent_id):
                    raise InvalidArgument(f"{path}.queue", ticket_id, f"waiting while agent {agent_id!r} is free to take it")
