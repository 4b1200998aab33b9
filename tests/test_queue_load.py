"""DeskSeam.load on malformed or inconsistent records: every fault is an
InvalidArgument naming the record's field (``records[i].field``, or under
the base path the caller gives), with a bounded value, and the queue is
left empty; nothing is caught later by an assertion or a bare exception."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from triage_queue import Emergency, FunctionRule, InvalidArgument, Policy, RuleError, Ticket, TicketQueue, Vip
from triage_queue.queue import _key_length


def exported(policy: Policy | None = None) -> tuple[list[dict[str, Any]], int]:
    """A small queue's records (JSON round trip) and next_seq: plain
    tickets, a hold, a preferred-skills ticket, an SLA, a channel."""
    q = TicketQueue(policy, clock=lambda: 100.0)
    seam = q.attach("desk")
    q.push(Ticket("a", 0.0, skills={"api": 1}))
    q.push(Ticket("b", 10.0, severity="high", sla_due=500.0, channel="chat"))
    q.push(Ticket("c", 20.0, skills={"api": 1}, preferred_skills={"api": 3}, relax_after=600.0))
    q.push(Ticket("d", 30.0, customer_tier="gold"))
    q.hold("d", "ana", until=300.0)
    records = json.loads(json.dumps(seam.export()))
    return records, seam.next_seq


def fresh(policy: Policy | None = None) -> tuple[TicketQueue, Any]:
    q = TicketQueue(policy, clock=lambda: 100.0)
    return q, q.attach("desk")


def assert_refused(records: Any, next_seq: int, field: str, policy: Policy | None = None, **kw: Any) -> InvalidArgument:
    q, seam = fresh(policy)
    with pytest.raises(InvalidArgument) as info:
        seam.load(records, next_seq, **kw)
    assert info.value.field == field, str(info.value)
    assert len(str(info.value)) < 700
    assert len(q) == 0 and not q._holds and not q._changes._index and q._next_seq == 0
    seam.check()
    return info.value


def index_of(records: list[dict[str, Any]], ticket_id: str) -> int:
    return next(i for i, r in enumerate(records) if r["ticket"]["id"] == ticket_id)


def test_good_records_load() -> None:
    records, next_seq = exported()
    _, seam = fresh()
    seam.load(records, next_seq)
    seam.check()
    assert seam.export() == records


def test_errors_name_the_record_field() -> None:
    records, n = exported()
    i = index_of(records, "d")
    changes: list[tuple[dict[str, Any], str]] = [
        ({"seq": -1}, "seq"),
        ({"seq": n}, "seq"),
        ({"seq": 10**400}, "seq"),
        ({"seq": 1.0}, "seq"),
        ({"seq": True}, "seq"),
        ({"key": "0000"}, "key"),
        ({"key": [0, 0, 0]}, "key"),  # one part short for the default policy
        ({"key": [0, 0, 0, 0, 0]}, "key"),
        ({"key": [0, 0, "nan", 0]}, "key"),
        ({"key": [0, 0, None, 0]}, "key"),
        ({"key": {"a": 1}}, "key"),
        ({"holder": ""}, "holder"),
        ({"holder": 7}, "holder"),
        ({"hold_until": None}, "hold_until"),
        ({"hold_until": "inf"}, "hold_until"),
        ({"hold_until": "soon"}, "hold_until"),
        ({"next": None}, "hold_until"),  # a hold with no scheduled end
        ({"next": 301.0}, "hold_until"),  # scheduled after the hold ends
        ({"next": "x"}, "next"),
        ({"next": float("nan")}, "next"),
        ({"requirement": {"api": 9}}, "requirement"),
        ({"requirement": {"api": 2}}, "requirement"),  # not the ticket's skills
        ({"requirement": "api"}, "requirement"),
        ({"ticket": 5}, "ticket"),
        ({"ticket": None}, "ticket"),
        ({"ticket": {"id": "d"}}, "ticket.created_at"),
        ({"ticket": {"id": "d", "created_at": 0.0, "skills": {"x": "y"}}}, "ticket.skills"),
    ]
    for change, field in changes:
        bad = copy.deepcopy(records)
        bad[i].update(change)
        assert_refused(bad, n, f"records[{i}].{field}")
        assert_refused(bad, n, f"snapshot.queue.tickets[{i}].{field}", path="snapshot.queue.tickets")
    for name in ("ticket", "seq", "key"):
        bad = copy.deepcopy(records)
        del bad[i][name]
        assert_refused(bad, n, f"records[{i}].{name}")


def test_preferred_skills_must_match_and_relax_on_schedule() -> None:
    records, n = exported()
    i = index_of(records, "c")
    assert records[i]["requirement"] == {"api": 3} and records[i]["next"] == 620.0
    relax_changes: list[dict[str, Any]] = [{"next": None}, {"next": 621.0}]
    for change in relax_changes:
        bad = copy.deepcopy(records)
        bad[i].update(change)
        assert_refused(bad, n, f"records[{i}].next")
    # The relaxed requirement, explicitly: accepted.
    ok = copy.deepcopy(records)
    ok[i]["requirement"] = {"api": 1}
    _, seam = fresh()
    seam.load(ok, n)
    seam.check()
    # A requirement for a ticket with no preferred skills must be its skills.
    j = index_of(records, "a")
    bad = copy.deepcopy(records)
    bad[j]["requirement"] = {"api": 3}
    assert_refused(bad, n, f"records[{j}].requirement")


def test_duplicates_and_non_records() -> None:
    records, n = exported()
    dup = copy.deepcopy(records) + [copy.deepcopy(records[0])]
    dup[-1]["seq"] = n  # only the id repeats
    error = assert_refused(dup, n + 1, f"records[{len(records)}].ticket.id")
    assert "records[0]" in error.reason
    dup = copy.deepcopy(records)
    dup[1]["seq"] = dup[0]["seq"]
    assert_refused(dup, n, "records[1].seq")
    assert_refused([*records[:2], 5], n, "records[2]")
    assert_refused([*records[:2], [1, 2]], n, "records[2]")
    assert_refused(5, n, "records")
    assert_refused("abc", n, "records")
    assert_refused({"a": 1}, n, "records")

    def broken() -> Any:
        yield records[0]
        raise RuntimeError("disk gone")

    assert_refused(broken(), n, "records")


def test_next_seq_and_path_are_checked() -> None:
    records, n = exported()
    for bad in (-1, 2**64, 1.0, True, "3"):
        assert_refused(records, bad, "next_seq")  # type: ignore[arg-type]
    assert_refused(records, n, "path", path=None)


def test_huge_values_are_quoted_briefly() -> None:
    records, n = exported()
    bad = copy.deepcopy(records)
    bad[0]["key"] = ["x" * 100_000] * 4
    error = assert_refused(bad, n, "records[0].key")
    assert len(str(error)) < 700
    bad = copy.deepcopy(records)
    bad[0]["seq"] = 10**5000
    assert len(str(assert_refused(bad, n, "records[0].seq"))) < 700


@pytest.mark.parametrize(
    "policy",
    [
        Policy.default(),
        Policy.default(max_wait=600),
        Policy.lexicographic(Emergency()),
        Policy.weighted([(Emergency(), 2.0), (Vip(), 1.0)]),
        Policy.weighted([(Emergency(), 2.0), (Vip(), 1.0)], max_wait=60),
        Policy([FunctionRule(f"age{k}", lambda t: t.created_at) for k in range(7)]),
    ],
)
def test_key_length_is_the_policys(policy: Policy) -> None:
    assert _key_length(policy) == len(policy.sort_key(Ticket("x", 0.0), 0.0))
    records, n = exported(policy)
    _, seam = fresh(policy)
    seam.load(records, n)
    seam.check()
    bad = copy.deepcopy(records)
    bad[0]["key"] = bad[0]["key"] + [0]
    assert_refused(bad, n, "records[0].key", policy)


HOSTILE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),
    st.text(max_size=5),
    st.sampled_from(["inf", "-inf", "nan", "ana", 10**400]),
    st.lists(st.integers(-3, 3), max_size=6),
    st.dictionaries(st.sampled_from(["api", "x", ""]), st.integers(-1, 6), max_size=3),
)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_mutated_records_load_cleanly_or_raise_invalid_argument(data: st.DataObject) -> None:
    """Replace or delete any field of any record (or of its ticket): load
    either raises InvalidArgument and leaves the queue empty, or gives a
    queue whose invariants hold and which serves every ticket (or raises
    the RuleError of a ticket the policy cannot score: load does not call
    the policy, the keys are stored)."""
    records, n = exported()
    bad = copy.deepcopy(records)
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.integers(0, len(bad) - 1))
        target = bad[i].get("ticket") if data.draw(st.booleans()) else bad[i]
        if not isinstance(target, dict):
            continue
        name = data.draw(st.sampled_from(sorted(target) + ["hold_until", "holder", "next", "requirement"]))
        if data.draw(st.booleans()) and name in target:
            del target[name]
        else:
            target[name] = data.draw(HOSTILE)
    q, seam = fresh()
    try:
        seam.load(bad, n)
    except InvalidArgument as exc:
        assert exc.field.startswith("records")
        assert len(q) == 0 and not q._holds and not q._changes._index
        return
    seam.check()
    size = len(q)
    try:
        for _ in range(10):  # until every hold has ended, every preference relaxed
            when = seam.next_change_at()
            if when is None or when == float("inf"):
                break
            seam.apply_due(when)
        taken = [q.pop() for _ in range(size)]
    except RuleError:
        seam.check()
        return
    assert len(taken) == size and len(q) == 0
