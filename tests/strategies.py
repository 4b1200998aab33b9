"""Hypothesis strategies for triage-queue, all in one place.

Import from here (``from strategies import tickets, priorities``) rather than
defining strategies inside test modules, and only *add* to this file: other
test modules rely on the names below.

Everything is kept small (few skill names, few tiers, modest time ranges) so
that examples collide often (equal priorities, equal times, repeated customers)
and stay fast to generate.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from triage_queue import Severity, SkillSet, Ticket

__all__ = [
    "ATTRIBUTE_KEYS",
    "CHANNELS",
    "CUSTOMER_IDS",
    "HEAP_KEYS",
    "SKILL_NAMES",
    "TIERS",
    "attribute_maps",
    "channels",
    "complexities",
    "contact_counts",
    "customer_ids",
    "customer_tiers",
    "heap_keys",
    "preferred_skill_sets",
    "priorities",
    "relax_afters",
    "severities",
    "skill_levels",
    "skill_names",
    "skill_sets",
    "sla_dues",
    "ticket_ids",
    "ticket_lists",
    "tickets",
    "times",
]

SKILL_NAMES: tuple[str, ...] = ("billing", "payments", "german", "api", "mobile")
TIERS: tuple[str | None, ...] = (None, "standard", "silver", "gold", "platinum")
CHANNELS: tuple[str | None, ...] = (None, "chat", "email", "phone")
CUSTOMER_IDS: tuple[str | None, ...] = (None, "cust-1", "cust-2", "cust-3", "cust-4")
ATTRIBUTE_KEYS: tuple[str, ...] = ("language", "seats", "region")
HEAP_KEYS: tuple[str, ...] = ("a", "b", "c", "d", "e", "f")

# Modest time range (clock seconds): large enough to be realistic, small
# enough that float arithmetic on differences stays exact for integral values.
MIN_TIME = 0.0
MAX_TIME = 1_000_000.0


# -- scalars ---------------------------------------------------------------


def times(min_value: float = MIN_TIME, max_value: float = MAX_TIME) -> st.SearchStrategy[float]:
    """Finite clock times; integral values are favoured so that ties occur."""
    return st.one_of(
        st.integers(int(min_value), int(max_value)).map(float),
        st.floats(min_value=min_value, max_value=max_value, allow_nan=False, allow_infinity=False),
    )


def ticket_ids() -> st.SearchStrategy[str]:
    """Valid ticket ids (non-empty strings), drawn from a small space."""
    return st.one_of(
        st.integers(0, 50).map(lambda n: f"T-{n}"),
        st.text(alphabet="abcXYZ-_0123456789", min_size=1, max_size=6),
    )


def severities() -> st.SearchStrategy[Severity]:
    """Any severity member."""
    return st.sampled_from(Severity)


def customer_tiers() -> st.SearchStrategy[str | None]:
    """A tier known to ``DEFAULT_TIERS``, or None (a standard customer)."""
    return st.sampled_from(TIERS)


def complexities() -> st.SearchStrategy[int]:
    """A valid complexity, 1 (simple) .. 5 (complex)."""
    return st.integers(1, 5)


def contact_counts() -> st.SearchStrategy[int]:
    """How many times the customer wrote, 1..5."""
    return st.integers(1, 5)


def sla_dues() -> st.SearchStrategy[float | None]:
    """No SLA, or a finite deadline in the time range."""
    return st.one_of(st.none(), times())


def customer_ids() -> st.SearchStrategy[str | None]:
    """None or one of a few repeated customers (so affinity can trigger)."""
    return st.sampled_from(CUSTOMER_IDS)


def channels() -> st.SearchStrategy[str | None]:
    """None or a common channel name."""
    return st.sampled_from(CHANNELS)


def attribute_maps() -> st.SearchStrategy[dict[str, Any]]:
    """Small free-form attribute mappings with string keys."""
    return st.dictionaries(
        st.sampled_from(ATTRIBUTE_KEYS),
        st.one_of(st.integers(0, 1000), st.sampled_from(["de", "en", "fr", "eu", "us"])),
        max_size=3,
    )


# -- skills ----------------------------------------------------------------


def skill_names() -> st.SearchStrategy[str]:
    """One of a handful of skill names."""
    return st.sampled_from(SKILL_NAMES)


def skill_levels() -> st.SearchStrategy[int]:
    """A valid proficiency level, 1..5."""
    return st.integers(1, 5)


def skill_sets(max_size: int = 3) -> st.SearchStrategy[SkillSet]:
    """A SkillSet built from a small dict over the skill names."""
    return st.dictionaries(skill_names(), skill_levels(), max_size=max_size).map(SkillSet)


def preferred_skill_sets() -> st.SearchStrategy[SkillSet]:
    """A ticket's preferred skills: most often none, else one or two."""
    return st.one_of(st.just(SkillSet()), skill_sets(max_size=2))


def relax_afters() -> st.SearchStrategy[float | None]:
    """None (preferred skills stay required) or seconds >= 0 after which
    they are dropped; round figures are favoured."""
    return st.one_of(st.none(), st.sampled_from([0.0, 30.0, 60.0, 300.0]), st.floats(0, 86_400))


# -- tickets ---------------------------------------------------------------


def tickets(
    ids: st.SearchStrategy[str] | None = None,
    *,
    created_at: st.SearchStrategy[float] | None = None,
    severity: st.SearchStrategy[Severity] | None = None,
    customer_tier: st.SearchStrategy[str | None] | None = None,
    complexity: st.SearchStrategy[int] | None = None,
    skills: st.SearchStrategy[SkillSet] | None = None,
    contacts: st.SearchStrategy[int] | None = None,
    sla_due: st.SearchStrategy[float | None] | None = None,
    customer_id: st.SearchStrategy[str | None] | None = None,
    channel: st.SearchStrategy[str | None] | None = None,
    attributes: st.SearchStrategy[dict[str, Any]] | None = None,
    preferred_skills: st.SearchStrategy[SkillSet] | None = None,
    relax_after: st.SearchStrategy[float | None] | None = None,
) -> st.SearchStrategy[Ticket]:
    """Valid tickets over every field; pass a strategy for a field to pin or
    narrow it (``tickets(ids=st.just("T-1"), severity=st.just(Severity.LOW))``).
    """
    return st.builds(
        Ticket,
        id=ids if ids is not None else ticket_ids(),
        created_at=created_at if created_at is not None else times(),
        severity=severity if severity is not None else severities(),
        customer_tier=customer_tier if customer_tier is not None else customer_tiers(),
        complexity=complexity if complexity is not None else complexities(),
        skills=skills if skills is not None else skill_sets(),
        contacts=contacts if contacts is not None else contact_counts(),
        sla_due=sla_due if sla_due is not None else sla_dues(),
        customer_id=customer_id if customer_id is not None else customer_ids(),
        channel=channel if channel is not None else channels(),
        attributes=attributes if attributes is not None else attribute_maps(),
        preferred_skills=preferred_skills if preferred_skills is not None else preferred_skill_sets(),
        relax_after=relax_after if relax_after is not None else relax_afters(),
    )


def ticket_lists(min_size: int = 0, max_size: int = 20, **fields: Any) -> st.SearchStrategy[list[Ticket]]:
    """Lists of valid tickets with distinct ids (``fields`` as for :func:`tickets`)."""
    return st.lists(tickets(**fields), min_size=min_size, max_size=max_size, unique_by=lambda t: t.id)


# -- heaps -----------------------------------------------------------------


def heap_keys() -> st.SearchStrategy[str]:
    """A few heap keys, so that operations hit existing keys often."""
    return st.sampled_from(HEAP_KEYS)


def priorities() -> st.SearchStrategy[float]:
    """Mutually comparable heap priorities (ints and floats) with many ties."""
    return st.one_of(
        st.integers(-3, 3),
        st.sampled_from([-1.5, 0.0, -0.0, 0.5, 2.0]),
        st.floats(min_value=-1e9, max_value=1e9, allow_nan=False),
    )
