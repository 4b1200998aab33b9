"""The compiled key functions (Policy._seq_key) give exactly sort_key(ticket, now) + (seq,)
and the same errors, for every arity, trusted or not, with and without max_wait."""

from __future__ import annotations

import math
from typing import Any

import pytest

from triage_queue import Aging, Complexity, Emergency, FeedbackOrder, Policy, SlaDeadline, Ticket, Vip
from triage_queue.errors import InvalidArgument, RuleError
from triage_queue.rules import BaseRule

NOW = 1_000.0


class Returns(BaseRule):
    def __init__(self, value: Any, name: str = "returns") -> None:
        self.value = value
        self.name = name
        self.calls = 0

    def key(self, ticket: Ticket, now: float) -> float:
        self.calls += 1
        if isinstance(self.value, Exception):
            raise self.value
        return self.value  # type: ignore[no-any-return]


def _tickets() -> list[Ticket]:
    return [
        Ticket("a", 0.0),
        Ticket("b", 900.0, severity="critical", customer_tier="gold", complexity=5, sla_due=1_200.0),
        Ticket("c", 10.0, contacts=3, customer_tier="silver"),
    ]


def _outcome(call: Any) -> Any:
    try:
        return ("ok", call(), None)
    except Exception as exc:  # compared by type and text
        return ("error", type(exc).__name__, str(exc))


BUILT_IN = [Emergency(), Vip(), Complexity(), FeedbackOrder(), Aging(), SlaDeadline(default_target=60.0), Vip(name="vip2")]


@pytest.mark.parametrize("n", range(1, 8))
@pytest.mark.parametrize("max_wait", [None, 500.0])
def test_trusted_keys_are_sort_key_plus_seq(n: int, max_wait: float | None) -> None:
    policy = Policy.lexicographic(*BUILT_IN[:n], max_wait=max_wait)
    for ticket in _tickets():
        for now in (NOW, 0.0):
            key = policy._seq_key(ticket, now, 7)
            assert key == policy.sort_key(ticket, now) + (7,)
            assert [type(v) for v in key] == [type(v) for v in policy.sort_key(ticket, now) + (7,)]


VALUES: list[Any] = [1, 2.5, True, math.inf, -math.inf, math.nan, "x", None, ValueError("boom"), RuleError("r", "t", "own")]


@pytest.mark.parametrize("first", VALUES)
@pytest.mark.parametrize("second", VALUES)
@pytest.mark.parametrize("max_wait", [None, 5.0])
def test_custom_rules_same_keys_errors_and_calls(first: Any, second: Any, max_wait: float | None) -> None:
    def run(compiled: bool) -> tuple[Any, int, int]:
        r1, r2 = Returns(first, "one"), Returns(second, "two")
        policy = Policy.lexicographic(r1, Emergency(), r2, max_wait=max_wait)
        ticket = Ticket("T", 0.0)
        call = (lambda: policy._seq_key(ticket, NOW, 3)) if compiled else (lambda: policy.sort_key(ticket, NOW) + (3,))
        return _outcome(call), r1.calls, r2.calls

    assert run(True) == run(False)


def test_bad_now_is_named_not_blamed_on_a_rule() -> None:
    for policy in (Policy.default(max_wait=5.0), Policy.lexicographic(Returns(math.nan), max_wait=5.0),
                   Policy.lexicographic(Returns(math.nan))):
        with pytest.raises(InvalidArgument, match="now"):
            policy._seq_key(Ticket("T", 0.0), [], 0)  # type: ignore[arg-type]


def test_weighted_and_long_policies_use_the_generic_path() -> None:
    weighted = Policy.weighted([(Vip(), 600.0), (Aging(), 1.0)])
    ticket = Ticket("T", 3.0, customer_tier="gold")
    assert weighted._seq_key(ticket, NOW, 1) == weighted.sort_key(ticket, NOW) + (1,)
    long = Policy.lexicographic(*BUILT_IN)
    assert long._seq_key(ticket, NOW, 1) == long.sort_key(ticket, NOW) + (1,)


def test_a_policy_of_plain_rules_still_pickles() -> None:
    import pickle

    policy = Policy.lexicographic(Emergency(), FeedbackOrder(), max_wait=9.0)
    clone = pickle.loads(pickle.dumps(policy))
    assert clone == policy
    assert clone._seq_key(Ticket("T", 0.0), NOW, 2) == policy._seq_key(Ticket("T", 0.0), NOW, 2)
