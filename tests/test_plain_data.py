"""Plain data (issue 10 §4): ``to_dict()`` / ``from_dict()`` for tickets,
agents, events, statistics and errors, the wire format of a saved or shared
desk.  Every dict goes through ``json.dumps(..., allow_nan=False)`` and back;
``from_dict`` meets hostile data with the type's own error naming the field.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
import warnings
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import triage_queue.errors as errors_module
from strategies import tickets
from triage_queue import (
    Agent,
    AgentFigures,
    AgentStatus,
    Event,
    EventKind,
    GroupFigures,
    InvalidAgent,
    InvalidArgument,
    InvalidTicket,
    InvalidValue,
    Policy,
    Severity,
    Statistics,
    Ticket,
    TriageError,
    UnknownTicket,
)
from triage_queue.errors import _ERROR_CLASSES, MAX_JSON_DEPTH
from triage_queue.sim.results import Figures
from triage_queue.testing import strategies as kit

# -- strategies -------------------------------------------------------------------------------

# JSON scalars as they read back equal: ints of at most 64 bits, finite floats, any text.
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
json_data = st.recursive(
    json_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12,
)
json_objects = st.dictionaries(st.text(max_size=8), json_data, max_size=4)
finite = st.floats(allow_nan=False, allow_infinity=False)
names = st.text(min_size=1, max_size=12)
optional_names = st.one_of(st.none(), names)

any_tickets = tickets(
    ids=names,
    created_at=finite,
    customer_tier=optional_names,
    contacts=st.integers(1, 2**53),
    sla_due=st.one_of(st.none(), finite),
    customer_id=optional_names,
    channel=optional_names,
    attributes=json_objects,
    relax_after=st.one_of(st.none(), st.floats(0, allow_infinity=False)),
)

any_agents = st.builds(
    lambda agent, attributes, customers: agent.evolve(attributes=attributes, dedicated_customers=customers),
    kit.agents(channels=["chat", "email", "phone", "*"], statuses=list(AgentStatus)),
    json_objects,
    st.frozensets(names, max_size=4),
)

events = st.builds(
    Event,
    kind=st.sampled_from(EventKind),
    time=st.one_of(st.floats(allow_nan=False), st.integers(-(2**63), 2**63)),
    seq=st.integers(0, 2**63 - 1),
    ticket_id=optional_names,
    agent_id=optional_names,
    offer_id=optional_names,
    detail=st.text(max_size=30),
    changes=st.one_of(st.none(), json_objects),
)


def through_json(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` written as strict JSON and read back."""
    result: dict[str, Any] = json.loads(json.dumps(data, allow_nan=False))
    return result


# -- round trips -------------------------------------------------------------------------------


@given(any_tickets)
def test_a_ticket_reads_back_equal_through_strict_json(ticket: Ticket) -> None:
    """Every valid ticket survives to_dict -> JSON -> from_dict, and gives the same text again."""
    data = ticket.to_dict()
    assert list(data) == [
        "id",
        "created_at",
        "severity",
        "customer_tier",
        "complexity",
        "skills",
        "contacts",
        "sla_due",
        "customer_id",
        "channel",
        "attributes",
        "preferred_skills",
        "relax_after",
    ]
    assert data["severity"] == ticket.severity.name.lower()
    back = Ticket.from_dict(through_json(data))
    assert back == ticket
    assert dict(back.attributes) == dict(ticket.attributes)
    assert json.dumps(back.to_dict()) == json.dumps(data)


@given(kit.tickets())
def test_the_testing_kit_tickets_read_back_equal(ticket: Ticket) -> None:
    """The tickets users draw from triage_queue.testing round-trip too."""
    assert Ticket.from_dict(through_json(ticket.to_dict())) == ticket


@given(any_agents)
def test_an_agent_reads_back_equal_through_strict_json(agent: Agent) -> None:
    """Every valid agent survives to_dict -> JSON -> from_dict; dedicated customers come sorted."""
    data = agent.to_dict()
    assert list(data) == ["id", "skills", "capacity", "status", "dedicated_customers", "attributes"]
    assert data["dedicated_customers"] == sorted(agent.dedicated_customers)
    back = Agent.from_dict(through_json(data))
    assert back == agent
    assert dict(back.capacity) == dict(agent.capacity) and dict(back.attributes) == dict(agent.attributes)
    assert json.dumps(back.to_dict()) == json.dumps(data)


@given(events)
def test_an_event_reads_back_equal_through_strict_json(event: Event) -> None:
    """Every event (infinite times as "inf"/"-inf", changes as JSON data) reads back equal."""
    data = event.to_dict()
    assert list(data) == ["kind", "time", "seq", "ticket_id", "agent_id", "offer_id", "detail", "changes"]
    assert Event.from_dict(through_json(data)) == event


def test_events_keep_their_positional_constructor_and_default_to_no_changes() -> None:
    """The dispatcher builds Event(*seven fields): that still works, with changes None."""
    e = Event(EventKind.TRANSFERRED, 3.0, 1, "T-1", "ana", None, "skills")
    assert e.changes is None and e.to_dict()["changes"] is None
    moved = Event(EventKind.TRANSFERRED, 3.0, 1, "T-1", "ana", None, "skills", {"skills": {"billing": 3}, "reason": "escalated"})
    assert Event.from_dict(through_json(moved.to_dict())) == moved
    assert hash(moved) == hash(Event(EventKind.TRANSFERRED, 3.0, 1, "T-1", "ana", None, "skills", {"reason": "other"}))
    assert "changes" not in str(moved)


def test_a_nan_event_time_is_written_as_a_string() -> None:
    """NaN cannot be strict JSON: it travels as "nan" (and reads back as NaN)."""
    data = through_json(Event(EventKind.SUBMITTED, math.nan, 0).to_dict())
    assert data["time"] == "nan"
    assert math.isnan(Event.from_dict(data).time)


def test_statistics_read_back_equal_with_keys_sorted() -> None:
    """Statistics, GroupFigures and AgentFigures round-trip; mappings come out in sorted key order."""
    empty = GroupFigures(0, None, 0, None, None, None, None, 0, 0)
    busy = GroupFigures(3, 12.5, 7, 1.0, 2.0, 3.0, 4.0, 1, 2)
    agents = {"zed": AgentFigures("away", 0, 1, 0, 0, 0, 0), "ana": AgentFigures("available", 2, 3, 9, 1, 1, 5)}
    stats = Statistics(50.0, busy, {"gold": busy, "-": empty}, {"billing": busy}, 0.75, agents, 2)
    data = through_json(stats.to_dict())
    assert list(data["agents"]) == ["ana", "zed"] and list(data["by_class"]) == ["-", "gold"]
    assert Statistics.from_dict(data) == stats
    assert GroupFigures.from_dict(through_json(busy.to_dict())) == busy
    assert AgentFigures.from_dict(through_json(agents["ana"].to_dict())) == agents["ana"]


def test_explanations_give_strict_json() -> None:
    """Explanation.to_dict() is strict JSON even with an infinite score."""
    from triage_queue import FeedbackOrder, SlaDeadline

    e = Policy.lexicographic(SlaDeadline(), FeedbackOrder()).explain(Ticket("T", 0.0), 10.0)
    data = through_json(e.to_dict())
    assert data["contributions"][0]["score"] is None and data["ticket_id"] == "T"


# -- errors ------------------------------------------------------------------------------------

SAMPLE_ARGS: dict[str, tuple[Any, ...]] = {
    "TriageError": ("something went wrong",),
    "Empty": ("the queue is empty",),
    "InvalidValue": ("limit", -1, "expected >= 0"),
    "InvalidTicket": ("complexity", 9, "out of range: expected 1..5"),
    "InvalidPolicy": ("rules[2].weight", math.nan, "expected a finite number"),
    "InvalidAgent": ("capacity", {"*": -1}, "limit for '*' is -1"),
    "InvalidArgument": ("timeout", 10**5000, "expected a finite number of seconds"),
    "InvalidKey": ("ticket_id", [1, 2], "cannot be looked up: unhashable type: 'list'"),
    "InvalidPriority": ("priority", math.inf, "cannot be ordered"),
    "RuleError": ("vip", "T-1", "unknown tier 'bronze'"),
    "UnknownKey": ("k-1",),
    "UnknownTicket": ("T-9",),
    "AlreadyFinished": ("T-9", "completed", 12.5),
    "UnknownAgent": ("zed",),
    "UnknownOffer": ("offer-3",),
    "DuplicateKey": (("a", 1),),
    "DuplicateTicket": ("T-1",),
    "DuplicateAgent": ("ana",),
    "OfferClosed": ("offer-1", "expired"),
    "NotAssigned": ("T-1", "is not assigned to 'bo'"),
    "AgentBusy": ("ana", "still has 2 ticket(s) offered or assigned"),
    "Unroutable": ("T-1", "nobody has skill 'klingon'"),
}


def test_every_error_class_has_a_sample() -> None:
    """The samples below cover every class from_dict can rebuild."""
    assert set(SAMPLE_ARGS) == set(_ERROR_CLASSES)
    assert set(_ERROR_CLASSES) == {n for n in errors_module.__all__ if issubclass(getattr(errors_module, n), TriageError)}


@pytest.mark.parametrize("name", sorted(SAMPLE_ARGS))
def test_every_error_reads_back_as_the_same_class_and_message(name: str) -> None:
    """to_dict -> JSON -> from_dict gives the same class, str() and structured attributes."""
    error = _ERROR_CLASSES[name](*SAMPLE_ARGS[name])
    data = through_json(error.to_dict())
    assert data["error"] == name and data["message"] == str(error)
    back = TriageError.from_dict(data)
    assert type(back) is type(error)
    assert str(back) == str(error)
    for field in type(error)._wire_fields:
        assert getattr(back, field) == data[field]  # the plain value, or the original's bounded repr
    assert isinstance(back, tuple(type(error).__mro__))
    assert TriageError.from_dict(back.to_dict()).to_dict() == data


def test_error_values_that_are_not_plain_travel_as_their_bounded_repr() -> None:
    """Huge ints, NaN, lists and long strings become short strings; plain values stay as they are."""
    assert InvalidArgument("x", 10**5000, "r").to_dict()["value"] == "<int of about 5001 digits>"
    assert InvalidArgument("x", -math.inf, "r").to_dict()["value"] == "-inf"
    assert InvalidArgument("x", [1, 2], "r").to_dict()["value"] == "[1, 2]"
    assert len(InvalidArgument("x", "y" * 10**6, "r").to_dict()["value"]) <= 203
    assert InvalidArgument("x", 2.5, "r").to_dict()["value"] == 2.5
    assert UnknownTicket("T-1").to_dict() == {"error": "UnknownTicket", "message": "unknown ticket id 'T-1'", "key": "T-1"}


@given(st.one_of(json_data, st.floats(), st.integers(), st.tuples(st.integers()), st.binary(), st.sets(st.integers())))
def test_any_error_value_gives_strict_json_and_reads_back(value: Any) -> None:
    """Whatever value an InvalidValue holds, its dict is strict JSON and reads back with the same message."""
    error = InvalidTicket("attributes", value, "because")
    data = through_json(error.to_dict())
    back = InvalidTicket.from_dict(data)
    assert type(back) is InvalidTicket and str(back) == str(error) and back.reason == "because"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ([], "error"),
        ({"message": "m"}, "error"),
        ({"error": "ValueError", "message": "m"}, "error"),
        ({"error": "Exception", "message": "m"}, "error"),
        ({"error": "InvalidSimulation", "message": "m"}, "error"),
        ({"error": ["UnknownTicket"], "message": "m"}, "error"),
        ({"error": "_Missing", "message": "m"}, "error"),
        ({"error": "UnknownTicket"}, "message"),
        ({"error": "UnknownTicket", "message": 3}, "message"),
        ({"error": "UnknownTicket", "message": "m"}, "key"),
        ({"error": "UnknownTicket", "message": "m", "key": "T", "extra": 1}, "extra"),
        ({"error": "UnknownTicket", "message": "m", "key": [1]}, "key"),
        ({"error": "UnknownTicket", "message": "m", "key": 10**30}, "key"),
        ({"error": "InvalidTicket", "message": "m", "field": "f", "value": 1, "reson": "r"}, "reson"),
        ({"error": "UnknownTicket", "message": "m", 5: "T"}, "error"),
    ],
)
def test_hostile_error_data_is_refused_naming_the_key(data: Any, field: str) -> None:
    """Bad error data raises InvalidArgument naming the key (never KeyError or TypeError)."""
    with pytest.raises(InvalidArgument) as info:
        TriageError.from_dict(data)
    assert info.value.field == field


def test_from_dict_on_a_subclass_rebuilds_only_its_own_kind() -> None:
    """InvalidValue.from_dict refuses an UnknownTicket; TriageError.from_dict takes any."""
    data = UnknownTicket("T-1").to_dict()
    with pytest.raises(InvalidArgument, match="derived from InvalidValue"):
        InvalidValue.from_dict(data)
    assert isinstance(TriageError.from_dict(data), KeyError)


# -- hostile tickets, agents and events -------------------------------------------------------

VALID_TICKET = Ticket("T-1", 10.0, skills={"billing": 2}, attributes={"a": [1, {"b": None}]}).to_dict()
VALID_AGENT = Agent("ana", skills={"billing": 2}, capacity={"chat": 2}, dedicated_customers=["c1"]).to_dict()
VALID_EVENT = Event(EventKind.UPDATED, 5.0, 1, "T-1", changes={"severity": "high"}).to_dict()

junk = st.one_of(
    json_data,
    st.integers(),
    st.floats(),
    st.just(5000).map(lambda digits: 10**digits),  # (just(10**5000) cannot be repr-ed)
    st.just(-(10**400)),
    st.tuples(st.integers()),
    st.sets(st.integers(), max_size=3),
    st.just(object()),
    st.just(MappingProxyType({1: 2})),
    st.just(Severity.HIGH),
    st.just(datetime(2024, 1, 1)),
)


def mutations(valid: dict[str, Any]) -> st.SearchStrategy[tuple[dict[str, Any], str]]:
    """``valid`` with one key replaced by junk, deleted, or joined by an unknown key; and the key touched."""
    keys = st.sampled_from(sorted(valid))

    def replace(key: str, value: Any) -> tuple[dict[str, Any], str]:
        return {**valid, key: value}, key

    def delete(key: str) -> tuple[dict[str, Any], str]:
        return {k: v for k, v in valid.items() if k != key}, key

    def add(key: str, value: Any) -> tuple[dict[str, Any], str]:
        return {**valid, key: value}, key

    return st.one_of(
        st.builds(replace, keys, junk),
        st.builds(delete, keys),
        st.builds(add, st.text(max_size=10).filter(lambda k: k not in valid), junk),
    )


def assert_refused_or_valid(
    read: Callable[[Any], Any], error: type[InvalidValue], data: dict[str, Any], key: str, aliases: dict[str, str]
) -> None:
    try:
        value = read(data)
    except error as exc:
        assert exc.field == aliases.get(key, key) or exc.field.startswith(key), (exc.field, key, str(exc))
        assert len(str(exc)) < 1000
    else:
        # Accepted: then it is valid and writes strict JSON (or refuses attributes that are not JSON data).
        try:
            json.dumps(value.to_dict(), allow_nan=False)
        except error as exc:
            assert exc.field in {"attributes", "changes"}


@given(mutations(VALID_TICKET))
def test_hostile_ticket_data_raises_invalid_ticket_naming_the_field(case: tuple[dict[str, Any], str]) -> None:
    """Junk in any field, a missing field or an unknown one: InvalidTicket naming it, or a valid ticket."""
    data, key = case
    assert_refused_or_valid(Ticket.from_dict, InvalidTicket, data, key, {})


@given(mutations(VALID_AGENT))
def test_hostile_agent_data_raises_invalid_agent_naming_the_field(case: tuple[dict[str, Any], str]) -> None:
    """Junk in any field, a missing field or an unknown one: InvalidAgent naming it, or a valid agent."""
    data, key = case
    assert_refused_or_valid(Agent.from_dict, InvalidAgent, data, key, {})


@given(mutations(VALID_EVENT))
def test_hostile_event_data_raises_invalid_argument_naming_the_field(case: tuple[dict[str, Any], str]) -> None:
    """Junk in any field, a missing field or an unknown one: InvalidArgument naming it, or a valid event."""
    data, key = case
    assert_refused_or_valid(Event.from_dict, InvalidArgument, data, key, {})


@given(st.one_of(junk, st.lists(junk, max_size=3), st.dictionaries(junk.filter(lambda k: k.__hash__ is not None), junk)))
def test_anything_at_all_given_to_from_dict_raises_only_library_errors(data: Any) -> None:
    """from_dict of arbitrary junk raises the type's own error (or, for a dict, may be read)."""
    readers: list[tuple[Callable[[Any], object], type[InvalidValue]]] = [
        (Ticket.from_dict, InvalidTicket),
        (Agent.from_dict, InvalidAgent),
        (Event.from_dict, InvalidArgument),
    ]
    for read, error in readers:
        with contextlib.suppress(error):
            read(data)
    for strict in (Statistics.from_dict, TriageError.from_dict):
        with pytest.raises(InvalidArgument):
            strict(data)


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ("T-1", "ticket", "expected a mapping"),
        ({"created_at": 0}, "id", "missing"),
        ({"id": "T"}, "created_at", "missing"),
        ({"id": "T", "created_at": 0, "sla_deu": 5}, "sla_deu", "did you mean 'sla_due'"),
        ({"id": "T", "created_at": 0, "x" * 10**6: 5}, "'xxxx", "not a ticket field"),
        ({"id": "T", "created_at": 0, 3: 5}, "ticket", "field names must be strings"),
        ({"id": "T", "created_at": "yesterday"}, "created_at", "clock seconds"),
        ({"id": "T", "created_at": 10**400}, "created_at", "finite"),
        ({"id": "T", "created_at": 0, "contacts": 2**200}, "contacts", "out of range"),
        ({"id": "T", "created_at": 0, "severity": "apocalyptic"}, "severity", "expected one of"),
        ({"id": "T", "created_at": 0, "skills": {"billing": 10**100}}, "skills", "expected an int 1..5"),
        ({"id": "T", "created_at": 0, "skills": [[1]]}, "skills", "must be a non-empty string"),
        ({"id": "T", "created_at": 0, "attributes": [1]}, "attributes", "expected a mapping"),
        ({"id": "T", "created_at": 0, "attributes": {"a": {1: 2}}}, "attributes", "attributes['a'] has key 1"),
        ({"id": "T", "created_at": 0, "attributes": {"a": [2**70]}}, "attributes", "attributes['a'][0] is an int of more"),
        ({"id": "T", "created_at": 0, "attributes": {"a": math.nan}}, "attributes", "JSON has no NaN"),
    ],
)
def test_bad_ticket_data_names_the_field(data: Any, field: str, message: str) -> None:
    """Each kind of bad ticket data raises InvalidTicket naming the field with a clear message."""
    with pytest.raises(InvalidTicket, match=None) as info:
        Ticket.from_dict(data)
    assert info.value.field.startswith(field), info.value.field
    assert message in str(info.value)
    assert len(str(info.value)) < 600


def test_attributes_that_are_not_json_data_are_refused_by_to_dict_naming_the_path() -> None:
    """A ticket may hold any attributes, but to_dict() refuses what would not read back equal."""
    for value, where in [
        ({"tags": ("a", "b")}, "attributes['tags'] is a tuple"),
        ({"a": [1, {"b": {2, 3}}]}, "attributes['a'][1]['b'] is a set"),
        ({"when": datetime(2024, 1, 1, tzinfo=UTC)}, "attributes['when'] is a datetime"),
        ({"level": Severity.HIGH}, "attributes['level'] is a Severity"),
        ({"x": math.inf}, "attributes['x'] is inf"),
    ]:
        with pytest.raises(InvalidTicket, match=None) as info:
            Ticket("T", 0.0, attributes=value).to_dict()
        assert info.value.field == "attributes"
        assert where in str(info.value), str(info.value)
    with pytest.raises(InvalidAgent, match=r"attributes\['o'\] is an object"):
        Agent("ana", attributes={"o": object()}).to_dict()
    with pytest.raises(InvalidArgument, match=r"changes\['t'\] is a tuple"):
        Event(EventKind.UPDATED, 0.0, 0, changes={"t": ()}).to_dict()


def test_nested_junk_is_refused_in_bounded_time() -> None:
    """A cycle, deep nesting and a list that shares itself 2**40 times are refused quickly, naming attributes."""
    cycle: list[Any] = []
    cycle.append(cycle)
    deep: Any = []
    for _ in range(10_000):
        deep = [deep]
    shared: Any = [0]
    for _ in range(40):
        shared = [shared, shared]
    for attributes in ({"c": cycle}, {"d": deep}, {"s": shared}):
        start = time.perf_counter()
        with pytest.raises(InvalidTicket) as info:
            Ticket.from_dict({"id": "T", "created_at": 0, "attributes": attributes})
        with pytest.raises(InvalidTicket):
            Ticket("T", 0.0, attributes=attributes).to_dict()
        assert time.perf_counter() - start < 10
        assert info.value.field == "attributes"
    nested: Any = 1
    for _ in range(MAX_JSON_DEPTH):
        nested = [nested]
    assert Ticket.from_dict({"id": "T", "created_at": 0, "attributes": {"n": nested[0]}}).attributes["n"] == nested[0]


def test_a_huge_ticket_document_costs_time_in_proportion() -> None:
    """A million skills or attribute values are read in bounded (linear-ish) time."""
    start = time.perf_counter()
    with pytest.raises(InvalidTicket, match="skills"):
        Ticket.from_dict({"id": "T", "created_at": 0, "skills": {f"s{i}": 6 for i in range(200_000)}})
    Ticket.from_dict({"id": "T", "created_at": 0, "attributes": {"big": list(range(200_000))}})
    assert time.perf_counter() - start < 20


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"kind": "offered", "time": 0}, "seq"),
        ({"kind": "Offered", "time": 0, "seq": 0}, "kind"),
        ({"kind": ["offered"], "time": 0, "seq": 0}, "kind"),
        ({"kind": "offered", "time": "0", "seq": 0}, "time"),
        ({"kind": "offered", "time": True, "seq": 0}, "time"),
        ({"kind": "offered", "time": 10**5000, "seq": 0}, "time"),
        ({"kind": "offered", "time": 0, "seq": -1}, "seq"),
        ({"kind": "offered", "time": 0, "seq": 1.0}, "seq"),
        ({"kind": "offered", "time": 0, "seq": 0, "ticket_id": 7}, "ticket_id"),
        ({"kind": "offered", "time": 0, "seq": 0, "detail": None}, "detail"),
        ({"kind": "offered", "time": 0, "seq": 0, "changes": [1]}, "changes"),
        ({"kind": "offered", "time": 0, "seq": 0, "changes": {"a": (1,)}}, "changes"),
        ({"kind": "offered", "time": 0, "seq": 0, "chnages": {}}, "chnages"),
    ],
)
def test_bad_event_data_names_the_field(data: Any, field: str) -> None:
    """Each kind of bad event data raises InvalidArgument naming the field."""
    with pytest.raises(InvalidArgument) as info:
        Event.from_dict(data)
    assert info.value.field == field


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({}, "id"),
        ({"id": ""}, "id"),
        ({"id": "a", "capacity": -1}, "capacity"),
        ({"id": "a", "capacity": {"chat": 10**100}}, "capacity"),
        ({"id": "a", "status": "sleeping"}, "status"),
        ({"id": "a", "skills": {"x": 0}}, "skills"),
        ({"id": "a", "dedicated_customers": "c1"}, "dedicated_customers"),
        ({"id": "a", "dedicated_customers": [1]}, "dedicated_customers"),
        ({"id": "a", "capasity": 2}, "capasity"),
        ({"id": "a", "attributes": {"t": {1, 2}}}, "attributes"),
    ],
)
def test_bad_agent_data_names_the_field(data: Any, field: str) -> None:
    """Each kind of bad agent data raises InvalidAgent naming the field."""
    with pytest.raises(InvalidAgent) as info:
        Agent.from_dict(data)
    assert info.value.field == field


def test_bad_statistics_data_names_the_path() -> None:
    """Statistics.from_dict names the path of a bad figure."""
    empty = GroupFigures(0, None, 0, None, None, None, None, 0, 0)
    good = Statistics(1.0, empty, {"gold": empty}, {}, None, {"ana": AgentFigures("available", 0, 1, 0, 0, 0, 0)}).to_dict()
    cases = [
        ({**good, "by_class": {"gold": {**good["by_class"]["gold"], "served": -1}}}, "by_class['gold'].served"),
        ({**good, "by_class": {"gold": {**good["by_class"]["gold"], "servd": 1}}}, "by_class['gold'].servd"),
        ({**good, "agents": {"ana": {**good["agents"]["ana"], "status": 3}}}, "agents['ana'].status"),
        ({**good, "overall": []}, "overall"),
        ({**good, "occupancy": "high"}, "occupancy"),
        ({k: v for k, v in good.items() if k != "now"}, "now"),
    ]
    for data, field in cases:
        with pytest.raises(InvalidArgument) as info:
            Statistics.from_dict(data)
        assert info.value.field == field


# -- datetimes ---------------------------------------------------------------------------------


class _Broken(tzinfo):
    def utcoffset(self, dt: datetime | None) -> timedelta:
        raise RuntimeError("no offset")

    def dst(self, dt: datetime | None) -> timedelta:
        return timedelta(0)

    def tzname(self, dt: datetime | None) -> str:
        return "broken"


def test_aware_datetimes_become_clock_seconds() -> None:
    """created_at and sla_due accept timezone-aware datetimes (in any zone) as their POSIX timestamp."""
    utc = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
    paris = utc.astimezone(timezone(timedelta(hours=2)))
    t = Ticket("T", paris, sla_due=utc + timedelta(hours=1))
    assert t.created_at == utc.timestamp() == 1714555800.0
    assert t.sla_due == t.created_at + 3600
    assert t == Ticket("T", 1714555800.0, sla_due=1714559400.0)
    assert t.evolve(created_at=utc + timedelta(seconds=5)).created_at == 1714555805.0
    assert t.evolve(sla_due=None).sla_due is None
    assert Ticket.from_dict({"id": "T", "created_at": utc}).created_at == 1714555800.0


@pytest.mark.parametrize("field", ["created_at", "sla_due"])
def test_naive_datetimes_are_refused_naming_the_field(field: str) -> None:
    """A naive datetime names no instant: InvalidTicket naming the field, saying to attach a tzinfo."""
    values: dict[str, Any] = {"created_at": 0.0, field: datetime(2024, 5, 1, 9, 30)}
    with pytest.raises(InvalidTicket, match="attach a tzinfo") as info:
        Ticket("T", **values)
    assert info.value.field == field
    with pytest.raises(InvalidTicket, match="attach a tzinfo") as info:
        Ticket("T", 0.0).evolve(**{field: datetime(2024, 5, 1)})
    assert info.value.field == field
    with pytest.raises(InvalidTicket) as info:
        Ticket("T", **{**values, field: datetime(2024, 5, 1, tzinfo=_Broken())})
    assert info.value.field == field


def test_datetimes_are_not_durations() -> None:
    """relax_after is a duration: a datetime there is refused."""
    with pytest.raises(InvalidTicket) as info:
        Ticket("T", 0.0, preferred_skills=["x"], relax_after=datetime(2024, 1, 1, tzinfo=UTC))
    assert info.value.field == "relax_after"


# -- the old name ------------------------------------------------------------------------------


def test_as_dict_still_works_but_warns() -> None:
    """as_dict() is a deprecated alias of to_dict() on every value that had it."""
    empty = GroupFigures(0, None, 0, None, None, None, None, 0, 0)
    values: list[Any] = [
        Event(EventKind.SUBMITTED, 0.0, 0, "T"),
        empty,
        AgentFigures("available", 0, 1, 0, 0, 0, 0),
        Statistics(0.0, empty, {}, {}, None, {}),
        Policy.default().explain(Ticket("T", 0.0), 1.0),
        Figures.of([]),
    ]
    for value in values:
        with pytest.warns(DeprecationWarning, match=rf"{type(value).__name__}\.as_dict\(\) is deprecated; use"):
            old = value.as_dict()
        assert old == value.to_dict()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for value in values:
            value.to_dict()


def test_from_dict_refuses_unhashable_skill_levels_with_its_own_error() -> None:
    """Regression: the fast path of Ticket.from_dict hashed the skill map
    and let a TypeError out for a level such as a list."""
    import pytest

    from triage_queue import InvalidTicket, Ticket

    data = Ticket("T-1", 0.0, skills={"api": 2}).to_dict()
    for bad in ({"api": [1]}, {"api": {"x": 1}}):
        with pytest.raises(InvalidTicket):
            Ticket.from_dict({**data, "skills": bad})
        with pytest.raises(InvalidTicket):
            Ticket.from_dict({**data, "preferred_skills": bad})


def test_no_preferred_skills_is_the_shared_empty_set_however_the_ticket_is_made() -> None:
    """A ticket read back from plain data, or given preferred_skills={},
    takes the queue's fast push like a constructed one (regression: an equal
    but distinct empty SkillSet sent every decoded ticket down the slow
    path)."""
    from triage_queue import Ticket

    made = Ticket("T-1", 0.0)
    for ticket in (Ticket.from_dict(made.to_dict()), Ticket("T-2", 0.0, preferred_skills={}), made.evolve(preferred_skills={})):
        assert ticket.preferred_skills is made.preferred_skills
