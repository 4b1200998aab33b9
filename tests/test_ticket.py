"""Tests of the value classes: Ticket, SkillSet, Severity, classify_severity
and ManualClock."""

from __future__ import annotations

import copy
import math
import pickle
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from strategies import SKILL_NAMES, attribute_maps, complexities, severities, skill_levels, skill_sets, tickets, times
from triage_queue import (
    Impact,
    InvalidArgument,
    InvalidTicket,
    InvalidValue,
    IssueKind,
    ManualClock,
    Severity,
    SkillSet,
    Ticket,
    TriageError,
    classify_severity,
)

NAN = math.nan
INF = math.inf


def fields_of(ticket: Ticket) -> dict[str, Any]:
    """The ticket's fields as constructor keyword arguments."""
    return {a.name: getattr(ticket, a.name) for a in attrs.fields(Ticket)}


# -- Ticket validation -------------------------------------------------------------

BAD_FIELDS = [
    ("id", ""),
    ("id", 5),
    ("id", None),
    ("id", b"T-1"),
    ("created_at", NAN),
    ("created_at", INF),
    ("created_at", -INF),
    ("created_at", "10"),
    ("created_at", None),
    ("created_at", True),
    ("severity", "urgent"),
    ("severity", 0),
    ("severity", 5),
    ("severity", 2.0),
    ("severity", True),
    ("severity", None),
    ("customer_tier", 1),
    ("customer_tier", b"gold"),
    ("complexity", 0),
    ("complexity", 6),
    ("complexity", True),
    ("complexity", 2.5),
    ("complexity", "3"),
    ("complexity", None),
    ("skills", "billing"),
    ("skills", b"billing"),
    ("skills", 5),
    ("skills", {"billing": 0}),
    ("skills", {"billing": 6}),
    ("skills", {"billing": 2.0}),
    ("skills", {"billing": True}),
    ("skills", {"billing": "2"}),
    ("skills", {"": 1}),
    ("skills", {3: 1}),
    ("skills", [""]),
    ("skills", ["billing", None]),
    ("contacts", 0),
    ("contacts", -1),
    ("contacts", True),
    ("contacts", 1.0),
    ("sla_due", NAN),
    ("sla_due", INF),
    ("sla_due", "tomorrow"),
    ("sla_due", False),
    ("customer_id", 7),
    ("channel", 7),
    ("attributes", [("language", "de")]),
    ("attributes", "language=de"),
    ("attributes", {1: "de"}),
]


@pytest.mark.parametrize(("field", "bad"), BAD_FIELDS, ids=[f"{f}={v!r}" for f, v in BAD_FIELDS])
def test_invalid_field_raises_invalid_ticket_naming_field_and_value(field: str, bad: Any) -> None:
    """Each invalid field value raises InvalidTicket (a ValueError) with .field and .value set to it."""
    kwargs: dict[str, Any] = {"id": "T-1", "created_at": 0.0, field: bad}
    with pytest.raises(InvalidTicket, match=f"^{field}=") as info:
        Ticket(**kwargs)
    err = info.value
    assert err.field == field
    assert err.value is bad
    assert err.reason
    assert isinstance(err, ValueError)
    assert isinstance(err, InvalidValue)
    assert isinstance(err, TriageError)


BAD_NON_ID_FIELDS = [(f, v) for f, v in BAD_FIELDS if f != "id"]  # id changes are refused anyway


@pytest.mark.parametrize(("field", "bad"), BAD_NON_ID_FIELDS, ids=[f"{f}={v!r}" for f, v in BAD_NON_ID_FIELDS])
def test_evolve_validates_the_changed_field_and_leaves_the_original(field: str, bad: Any) -> None:
    """evolve() validates like the constructor, and a failed evolve leaves the original untouched."""
    original = Ticket("T-1", 5.0, severity="high", skills={"api": 2}, attributes={"seats": 3})
    before = fields_of(original)
    with pytest.raises(InvalidTicket) as info:
        original.evolve(**{field: bad})
    assert info.value.field == field
    assert info.value.value is bad
    assert fields_of(original) == before


def test_skill_level_error_names_the_skill_and_keeps_the_whole_value() -> None:
    """A bad skill level reports field 'skills', the whole mapping as value, and the skill in the message."""
    skills = {"billing": 2, "payments": 9}
    with pytest.raises(InvalidTicket, match="level of skill 'payments' is 9") as info:
        Ticket("T-1", 0.0, skills=skills)
    assert info.value.field == "skills"
    assert info.value.value is skills


# -- Ticket conversions ------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("critical", Severity.CRITICAL),
        ("CRITICAL", Severity.CRITICAL),
        ("High", Severity.HIGH),
        (" low ", Severity.LOW),
        (1, Severity.LOW),
        (2, Severity.NORMAL),
        (3, Severity.HIGH),
        (4, Severity.CRITICAL),
        (Severity.HIGH, Severity.HIGH),
    ],
)
def test_severity_is_converted_from_name_or_number(given: Any, expected: Severity) -> None:
    """Severity may be given as a member, a name in any case or a number, and is stored as the member."""
    ticket = Ticket("T-1", 0.0, severity=given)
    assert ticket.severity is expected
    assert Severity.parse(given) is expected


def test_defaults_are_a_normal_simple_standard_ticket() -> None:
    """Omitted fields default to NORMAL, complexity 1, one contact, and no tier, skills, SLA or attributes."""
    t = Ticket("T-1", 0.0)
    assert (t.severity, t.complexity, t.contacts) == (Severity.NORMAL, 1, 1)
    assert t.customer_tier is None and t.sla_due is None
    assert t.customer_id is None and t.channel is None
    assert t.skills == SkillSet() and len(t.skills) == 0
    assert dict(t.attributes) == {}


def test_skills_given_as_names_mean_level_one() -> None:
    """Skill names mean level 1, None means no skills, and a given SkillSet is kept as is."""
    assert Ticket("T-1", 0.0, skills=["billing", "api"]).skills == {"billing": 1, "api": 1}
    assert Ticket("T-1", 0.0, skills=("german",)).skills == SkillSet({"german": 1})
    assert Ticket("T-1", 0.0, skills=None).skills == SkillSet()
    need = SkillSet({"payments": 3})
    assert Ticket("T-1", 0.0, skills=need).skills is need
    assert isinstance(Ticket("T-1", 0.0, skills={"api": 2}).skills, SkillSet)


def test_integer_times_become_floats() -> None:
    """Integer created_at and sla_due are stored as floats."""
    t = Ticket("T-1", 100, sla_due=400)
    assert t.created_at == 100.0 and type(t.created_at) is float
    assert t.sla_due == 400.0 and type(t.sla_due) is float


def test_attributes_are_a_read_only_copy() -> None:
    """attributes are copied at construction and read-only, so a ticket's facts cannot change behind the queue."""
    source = {"language": "de"}
    t = Ticket("T-1", 0.0, attributes=source)
    source["language"] = "fr"
    assert t.attributes["language"] == "de"
    with pytest.raises(TypeError):
        t.attributes["language"] = "en"  # type: ignore[index]


# -- Ticket evolve -----------------------------------------------------------------


def test_evolve_applies_and_converts_changes_without_touching_the_original() -> None:
    """evolve() returns a converted, changed copy; the original is unchanged."""
    t = Ticket("T-1", 0.0, severity="low", skills={"api": 1})
    u = t.evolve(severity="critical", contacts=3, skills=["billing"], sla_due=60, customer_tier="gold")
    assert u.severity is Severity.CRITICAL
    assert (u.contacts, u.sla_due, u.customer_tier) == (3, 60.0, "gold")
    assert u.skills == {"billing": 1}
    assert u.id == "T-1" and u.created_at == 0.0
    assert (t.severity, t.contacts, t.sla_due, t.customer_tier) == (Severity.LOW, 1, None, None)
    assert t.skills == {"api": 1}


def test_evolve_rejects_unknown_fields() -> None:
    """An unknown field name raises InvalidTicket naming that field."""
    t = Ticket("T-1", 0.0)
    with pytest.raises(InvalidTicket, match="no such ticket field") as info:
        t.evolve(priority=5)
    assert info.value.field == "priority"
    assert info.value.value == 5


def test_evolve_refuses_to_change_the_id() -> None:
    """A ticket's id cannot change through evolve (the same id is allowed)."""
    t = Ticket("T-1", 0.0)
    with pytest.raises(InvalidTicket, match="cannot change") as info:
        t.evolve(id="T-2")
    assert info.value.field == "id"
    assert info.value.value == "T-2"
    assert t.evolve(id="T-1", complexity=2) == Ticket("T-1", 0.0, complexity=2)


@given(
    tickets(),
    st.fixed_dictionaries(
        {},
        optional={
            "severity": severities(),
            "complexity": complexities(),
            "contacts": st.integers(1, 9),
            "created_at": times(),
            "sla_due": st.one_of(st.none(), times()),
            "skills": st.dictionaries(st.sampled_from(SKILL_NAMES), skill_levels(), max_size=3),
            "customer_tier": st.sampled_from([None, "gold", "vip"]),
            "attributes": attribute_maps(),
        },
    ),
)
def test_evolve_equals_building_the_changed_ticket_from_scratch(ticket: Ticket, changes: dict[str, Any]) -> None:
    """evolve(**changes) equals (and hashes like) the ticket the constructor builds from the changed fields."""
    evolved = ticket.evolve(**changes)
    rebuilt = Ticket(**{**fields_of(ticket), **changes})
    assert evolved == rebuilt
    assert hash(evolved) == hash(rebuilt)
    assert fields_of(evolved) == fields_of(rebuilt)


# -- Ticket as a value ---------------------------------------------------------------


def test_ticket_is_frozen() -> None:
    """Assigning to a ticket field raises (tickets are immutable values)."""
    t = Ticket("T-1", 0.0)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        t.complexity = 5  # type: ignore[misc]
    assert t.complexity == 1


@given(tickets())
def test_ticket_rebuilt_from_its_fields_is_equal_and_hashes_equal(ticket: Ticket) -> None:
    """Tickets are equal by value and hash consistently, so they work as dict keys and set members."""
    twin = Ticket(**fields_of(ticket))
    assert twin == ticket and twin is not ticket
    assert hash(twin) == hash(ticket)
    assert len({ticket, twin}) == 1


def test_tickets_differing_in_any_field_are_not_equal() -> None:
    """A difference in any single field, attributes included, makes tickets unequal."""
    base = Ticket("T-1", 0.0)
    variants = [
        base.evolve(created_at=1.0),
        base.evolve(severity="high"),
        base.evolve(customer_tier="gold"),
        base.evolve(complexity=2),
        base.evolve(skills=["api"]),
        base.evolve(contacts=2),
        base.evolve(sla_due=10.0),
        base.evolve(customer_id="cust-1"),
        base.evolve(channel="chat"),
        base.evolve(attributes={"seats": 1}),
        Ticket("T-2", 0.0),
    ]
    for variant in variants:
        assert variant != base
    assert len({base, *variants}) == len(variants) + 1


@given(tickets())
def test_ticket_survives_pickle_and_deepcopy(ticket: Ticket) -> None:
    """Tickets survive pickle (worker processes) and deepcopy, equal and with read-only attributes."""
    for clone in (pickle.loads(pickle.dumps(ticket)), copy.deepcopy(ticket)):
        assert clone == ticket
        assert hash(clone) == hash(ticket)
        assert isinstance(clone.skills, SkillSet)
        with pytest.raises(TypeError):
            clone.attributes["x"] = 1  # type: ignore[index]


# -- SkillSet ----------------------------------------------------------------------


def test_skillset_behaves_as_a_read_only_mapping() -> None:
    """A SkillSet supports len, lookup, membership, iteration, dict() and equality with a dict."""
    s = SkillSet({"payments": 3, "billing": 2})
    assert len(s) == 2
    assert s["payments"] == 3
    assert "billing" in s and "german" not in s
    assert s.get("german") is None
    assert sorted(s) == ["billing", "payments"]
    assert dict(s) == {"billing": 2, "payments": 3}
    assert s == {"billing": 2, "payments": 3}
    assert s != {"billing": 2}
    assert s != ["billing", "payments"]
    with pytest.raises(KeyError):
        s["german"]
    assert repr(s) == "SkillSet({'billing': 2, 'payments': 3})"


def test_skillset_is_immutable() -> None:
    """No item or attribute of a SkillSet can be set."""
    s = SkillSet({"payments": 3})
    with pytest.raises(TypeError):
        s["payments"] = 5  # type: ignore[index]
    with pytest.raises(AttributeError, match="immutable"):
        s.extra = 1  # type: ignore[attr-defined]
    with pytest.raises(AttributeError, match="immutable"):
        s._levels = {}  # type: ignore[misc]
    assert dict(s) == {"payments": 3}


@given(st.dictionaries(st.sampled_from(SKILL_NAMES), skill_levels(), max_size=5), st.randoms())
def test_skillset_equality_and_hash_ignore_insertion_order(levels: dict[str, int], rnd: Any) -> None:
    """SkillSets with the same skills are equal and hash equal whatever the order given, and pickle back equal."""
    items = list(levels.items())
    rnd.shuffle(items)
    a, b = SkillSet(levels), SkillSet(dict(items))
    assert a == b and hash(a) == hash(b)
    assert pickle.loads(pickle.dumps(a)) == a
    assert SkillSet.of(a) is a
    assert SkillSet(a) == a


def test_skillset_from_names_has_level_one_and_equals_mapping_form() -> None:
    """SkillSet(names) equals SkillSet({name: 1}) and hashes the same."""
    assert SkillSet(["billing", "api"]) == SkillSet({"api": 1, "billing": 1})
    assert hash(SkillSet(["billing", "api"])) == hash(SkillSet({"api": 1, "billing": 1}))


def test_skillset_errors_use_the_field_name_given() -> None:
    """SkillSet validation reports the field name it was given (default 'skills')."""
    with pytest.raises(InvalidTicket) as info:
        SkillSet({"api": 0}, field="proficiency")
    assert info.value.field == "proficiency"
    with pytest.raises(InvalidTicket) as info:
        SkillSet("api")
    assert info.value.field == "skills"


@given(skill_sets(max_size=5), st.dictionaries(st.sampled_from(SKILL_NAMES), st.integers(0, 6), max_size=5))
def test_satisfied_by_and_missing_from_match_their_definitions(need: SkillSet, held: dict[str, int]) -> None:
    """satisfied_by is all(held >= required) and missing_from lists exactly the shortfalls; the two agree."""
    expected = all(held.get(name, 0) >= level for name, level in need.items())
    assert need.satisfied_by(held) is expected
    shortfalls = need.missing_from(held)
    assert sorted(shortfalls) == sorted(
        (name, level, held.get(name, 0)) for name, level in need.items() if held.get(name, 0) < level
    )
    assert (shortfalls == []) is expected


def test_satisfied_by_examples() -> None:
    """Enough proficiency satisfies, too little or missing does not, and an empty requirement always does."""
    need = SkillSet({"billing": 2, "german": 1})
    assert need.satisfied_by({"billing": 3, "german": 1, "payments": 5})
    assert not need.satisfied_by({"billing": 1, "german": 5})
    assert not need.satisfied_by({"billing": 5})
    assert SkillSet().satisfied_by({})
    assert need.satisfied_by(SkillSet({"billing": 2, "german": 1}))
    assert need.missing_from({"billing": 1}) == [("billing", 2, 1), ("german", 1, 0)]


# -- Severity and classify_severity -----------------------------------------------


def test_severity_order_and_parse() -> None:
    """Severities order LOW < NORMAL < HIGH < CRITICAL, and parse accepts members, names and numbers."""
    assert Severity.LOW < Severity.NORMAL < Severity.HIGH < Severity.CRITICAL
    assert Severity.parse("Critical") is Severity.CRITICAL
    assert Severity.parse(1) is Severity.LOW
    assert Severity.parse(Severity.NORMAL) is Severity.NORMAL


@pytest.mark.parametrize("bad", ["urgent", "", 0, 5, -1, 3.0, True, None, [3]])
def test_severity_parse_rejects_other_values(bad: Any) -> None:
    """Anything but a member, a member name or 1..4 raises InvalidTicket naming 'severity'."""
    with pytest.raises(InvalidTicket, match="expected one of low, normal, high, critical") as info:
        Severity.parse(bad)
    assert info.value.field == "severity"
    assert info.value.value is bad


SEVERITY_TABLE = [
    ("question", "single_user", Severity.LOW),
    ("question", "some_users", Severity.LOW),
    ("question", "everyone", Severity.NORMAL),
    ("defect", "single_user", Severity.NORMAL),
    ("defect", "some_users", Severity.NORMAL),
    ("defect", "everyone", Severity.HIGH),
    ("core_function", "single_user", Severity.HIGH),
    ("core_function", "some_users", Severity.CRITICAL),
    ("core_function", "everyone", Severity.CRITICAL),
    ("outage", "single_user", Severity.HIGH),
    ("outage", "some_users", Severity.CRITICAL),
    ("outage", "everyone", Severity.CRITICAL),
    ("security", "single_user", Severity.CRITICAL),
    ("security", "some_users", Severity.CRITICAL),
    ("security", "everyone", Severity.CRITICAL),
]


@pytest.mark.parametrize(("kind", "impact", "expected"), SEVERITY_TABLE)
def test_classify_severity_follows_the_fixed_table(kind: str, impact: str, expected: Severity) -> None:
    """classify_severity gives the documented severity for every (kind, impact), from values or members."""
    assert classify_severity(impact, kind) is expected
    assert classify_severity(Impact(impact), IssueKind(kind)) is expected
    assert classify_severity(Impact(impact), kind) is expected


def test_classify_severity_table_covers_every_combination() -> None:
    """The table above is complete: every kind and impact pair is pinned."""
    assert {(k, i) for k, i, _ in SEVERITY_TABLE} == {(k.value, i.value) for k in IssueKind for i in Impact}


@pytest.mark.parametrize(
    ("impact", "kind", "field"),
    [
        ("everybody", "outage", "impact"),
        ("outage", "everyone", "impact"),  # arguments swapped
        (3, IssueKind.OUTAGE, "impact"),
        (None, "outage", "impact"),
        ("everyone", "crash", "kind"),
        (Impact.EVERYONE, "", "kind"),
        (Impact.EVERYONE, Impact.EVERYONE, "kind"),
        ("everyone", ["outage"], "kind"),
    ],
)
def test_classify_severity_rejects_unknown_values_naming_the_argument(impact: Any, kind: Any, field: str) -> None:
    """An unknown impact or kind raises InvalidTicket naming 'impact' or 'kind'."""
    with pytest.raises(InvalidTicket, match="expected one of") as info:
        classify_severity(impact, kind)
    assert info.value.field == field
    assert info.value.value is (impact if field == "impact" else kind)


# -- ManualClock -------------------------------------------------------------------


def test_manual_clock_moves_only_when_told() -> None:
    """A ManualClock reads its start, advances by the seconds given, jumps with set(), and returns floats."""
    clock = ManualClock(100)
    assert clock() == 100.0 and type(clock()) is float
    assert clock.advance(5) == 105.0
    assert clock() == 105.0
    assert clock.advance(0) == 105.0
    clock.set(105.0)
    clock.set(200)
    assert clock() == 200.0
    assert ManualClock()() == 0.0
    assert repr(clock) == "ManualClock(200.0)"


def test_manual_clock_never_goes_backwards() -> None:
    """Going backwards raises InvalidArgument naming the argument and leaves the time unchanged."""
    clock = ManualClock(50.0)
    with pytest.raises(InvalidArgument, match="cannot go backwards") as info:
        clock.advance(-1)
    assert (info.value.field, info.value.value) == ("seconds", -1.0)
    with pytest.raises(InvalidArgument, match="cannot go backwards") as info:
        clock.set(49.5)
    assert (info.value.field, info.value.value) == ("now", 49.5)
    assert clock() == 50.0
    assert isinstance(info.value, ValueError) and isinstance(info.value, TriageError)


@pytest.mark.parametrize("bad", [NAN, INF, -INF, "5", None, True])
@pytest.mark.parametrize("method", ["start", "advance", "set"])
def test_manual_clock_rejects_non_finite_or_non_numbers(method: str, bad: Any) -> None:
    """Non-finite numbers, strings, None and bools are refused with InvalidArgument; the clock is unchanged."""
    field = {"start": "start", "advance": "seconds", "set": "now"}[method]
    clock = ManualClock(10.0)
    with pytest.raises(InvalidArgument, match="finite number of seconds") as info:
        if method == "start":
            ManualClock(bad)
        else:
            getattr(clock, method)(bad)
    assert info.value.field == field
    assert info.value.value is bad
    assert clock() == 10.0


@pytest.mark.parametrize("field", ["customer_tier", "customer_id", "channel"])
def test_empty_optional_strings_are_rejected(field: str) -> None:
    """An empty tier, customer or channel is a data bug, reported by field name."""
    with pytest.raises(InvalidTicket) as info:
        Ticket("T", 0.0, **{field: ""})
    assert info.value.field == field and info.value.value == ""


def test_classify_severity_accepts_any_case() -> None:
    """Impact and kind names are matched case-insensitively, like Severity.parse."""
    assert classify_severity("EVERYONE", "Outage") is Severity.CRITICAL
