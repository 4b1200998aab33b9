"""Declarative TOML policies: every key is validated and named in errors,
the example files load, and a loaded policy orders tickets exactly as the
equivalent hand-built Policy."""

from __future__ import annotations

import inspect
import math
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from strategies import ticket_lists, tickets
from triage_queue import (
    DEFAULT_TIERS,
    Agent,
    Aging,
    Complexity,
    Dispatcher,
    Emergency,
    FeedbackOrder,
    InvalidArgument,
    InvalidPolicy,
    LeastLoaded,
    ManualClock,
    Policy,
    RoundRobin,
    Severity,
    SlaDeadline,
    Ticket,
    Vip,
    rule,
)
from triage_queue.config import (
    MAX_DURATION,
    SELECTIONS,
    PolicyFile,
    SlaTargets,
    format_duration,
    load_policy,
    parse_duration,
    parse_policy,
)

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples" / "policies").glob("*.toml"))

MINIMAL = '[[rules]]\nkind = "feedback_order"\n'


@rule("seats")
def seats_rule(ticket: Ticket) -> float:
    """A module-level rule, loadable as kind = "python"."""
    return float(ticket.attributes.get("seats", 0))


def make_seats_rule(weight_per_seat: float = 1.0) -> Any:
    """A rule factory, loadable as kind = "python" with args."""

    @rule("seats_scaled")
    def scaled(ticket: Ticket) -> float:
        return weight_per_seat * float(ticket.attributes.get("seats", 0))

    return scaled


# -- durations --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("0s", 0.0), ("90s", 90.0), ("2m", 120.0), ("1h30m", 5400.0), ("1.5h", 5400.0), ("1d", 86400.0), (" 1h 5s ", 3605.0), (45, 45.0), (0.25, 0.25)],
)
def test_durations_parse(text: Any, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["", "5", "10 minutes", "1w", "-5s", "h", -1, float("inf"), True, [5], "1h-", "m5"])
def test_bad_durations_are_rejected_naming_the_field(bad: Any) -> None:
    with pytest.raises(InvalidPolicy) as info:
        parse_duration(bad, "sla.default")
    assert info.value.field == "sla.default"


@given(st.one_of(st.integers(0, int(MAX_DURATION)).map(float), st.floats(0, MAX_DURATION, allow_nan=False)))
def test_format_duration_reads_back_exactly(seconds: float) -> None:
    assert parse_duration(format_duration(seconds)) == seconds


# -- validation: every key ----------------------------------------------------

BAD_FILES: list[tuple[str, str, str]] = [
    # (toml, field named, fragment of the reason)
    ('nmae = "x"\n' + MINIMAL, "nmae", "did you mean 'name'"),
    ("name = 3\n" + MINIMAL, "name", "expected a non-empty string, not an integer"),
    ('name = ""\n' + MINIMAL, "name", "non-empty string"),
    ("description = 1\n" + MINIMAL, "description", "expected a string"),
    ('composition = "weigthed"\n' + MINIMAL, "composition", "did you mean 'weighted'"),
    ('max_wait = "soon"\n' + MINIMAL, "max_wait", "duration"),
    ("max_wait = -1\n" + MINIMAL, "max_wait", ">= 0"),
    ('name = "x"\n', "rules", "at least one"),
    ("rules = []\n", "rules", "non-empty array"),
    ("rules = [1]\n", "rules[0]", "expected a table"),
    ("[[rules]]\nthreshold = 3\n", "rules[0].kind", "needs a kind"),
    ('[[rules]]\nkind = "emergancy"\n', "rules[0].kind", "did you mean 'emergency'"),
    ("[[rules]]\nkind = [1]\n", "rules[0].kind", "expected one of"),
    ("composition = [1]\n" + MINIMAL, "composition", "expected one of"),
    ("[dispatcher]\nselection = [1]\n" + MINIMAL, "dispatcher.selection", "expected a string"),
    ('[[rules]]\nkind = "emergency"\nthreshold = "severe"\n', "rules[0].threshold", "severity"),
    ('[[rules]]\nkind = "emergency"\nthreshold = 9\n', "rules[0].threshold", "severity"),
    ('[[rules]]\nkind = "emergency"\nthreshhold = "high"\n', "rules[0].threshhold", "did you mean 'threshold'"),
    ('[[rules]]\nkind = "emergency"\nname = 5\n', "rules[0].name", "string"),
    ('[[rules]]\nkind = "emergency"\n[[rules]]\nkind = "emergency"\n', "rules[1].name", "rules[0] already has this name"),
    ('[[rules]]\nkind = "emergency"\nweight = 2\n', "rules[0].weight", "only a weighted policy"),
    ('composition = "weighted"\n[[rules]]\nkind = "aging"\n', "rules[0].weight", "needs a weight"),
    ('composition = "weighted"\n[[rules]]\nkind = "aging"\nweight = "x"\n', "rules[0].weight", "finite number, not a string"),
    ('composition = "weighted"\n[[rules]]\nkind = "aging"\nweight = nan\n', "rules[0].weight", "finite number"),
    ('[[rules]]\nkind = "vip"\ntiers = {gold = "high"}\n', "rules[0].tiers.gold", "finite number"),
    ('[[rules]]\nkind = "vip"\ntiers = 3\n', "rules[0].tiers", "expected a table"),
    ('[[rules]]\nkind = "vip"\ndefault_rank = "low"\n', "rules[0].default_rank", "finite number"),
    ('[tiers]\ngold = true\n[[rules]]\nkind = "vip"\n', "tiers.gold", "not a boolean"),
    ('tiers = [1]\n[[rules]]\nkind = "vip"\n', "tiers", "expected a table"),
    ('[[rules]]\nkind = "complexity"\nprefer = "hard"\n', "rules[0].prefer", "'complex' or 'simple'"),
    ('[[rules]]\nkind = "feedback_order"\nfollow_up_bonus = "lots"\n', "rules[0].follow_up_bonus", "duration"),
    ('[[rules]]\nkind = "aging"\nrate = -1\n', "rules[0].rate", ">= 0"),
    ('[[rules]]\nkind = "aging"\nrate = "fast"\n', "rules[0].rate", "finite number, not a string"),
    ('[[rules]]\nkind = "aging"\nrate = 1' + "0" * 400 + "\n", "rules[0].rate", "finite number"),
    ("max_wait = 1" + "0" * 400 + "\n" + MINIMAL, "max_wait", "finite"),
    ('[tiers]\ngold = 1' + "0" * 400 + '\n[[rules]]\nkind = "vip"\n', "tiers.gold", "finite number"),
    ('[[rules]]\nkind = "sla_deadline"\ndefault_target = "x"\n', "rules[0].default_target", "duration"),
    ('composition = "weighted"\n[[rules]]\nkind = "sla_deadline"\nweight = 1\n', "rules[0].default_target", "finite scores"),
    ('[[rules]]\nkind = "python"\n', "rules[0].object", "needs object"),
    ('[[rules]]\nkind = "python"\nobject = "no_colon"\n', "rules[0].object", "package.module:name"),
    ('[[rules]]\nkind = "python"\nobject = "no_such_module_xyz:rule"\n', "rules[0].object", "cannot import"),
    ('[[rules]]\nkind = "python"\nobject = "math:pi"\n', "rules[0].object", "expected a rule"),
    ('[[rules]]\nkind = "python"\nobject = "math:floor"\nargs = {x = 1}\n', "rules[0].args", "calling math:floor failed"),
    ('[[rules]]\nkind = "python"\nobject = "test_config:seats_rule"\nargs = {x = 1}\n', "rules[0].args", "already a rule"),
    ('[[rules]]\nkind = "python"\nobject = "test_config:seats_rule"\nname = "s"\n', "rules[0].name", "named by its own code"),
    ('[[rules]]\nkind = "python"\nobject = "test_config:make_seats_rule"\nargs = 3\n', "rules[0].args", "expected a table"),
    ("sla = 3\n" + MINIMAL, "sla", "expected a table"),
    ('[sla]\ndefault = "forever"\n' + MINIMAL, "sla.default", "duration"),
    ('[sla]\ndefualt = "1h"\n' + MINIMAL, "sla.defualt", "did you mean 'default'"),
    ('[sla]\ntier = 5\n' + MINIMAL, "sla.tier", "expected a table"),
    ('[sla.tier]\ngold = "1x"\n' + MINIMAL, "sla.tier.gold", "duration"),
    ('[[rules]]\nkind = "vip"\n[sla.tier]\nglod = "1h"\n', "sla.tier.glod", "did you mean 'gold'"),
    ('[sla]\nseverity = "high"\n' + MINIMAL, "sla.severity", "expected a table"),
    ('[sla.severity]\ncritcal = "1h"\n' + MINIMAL, "sla.severity.critcal", "did you mean 'critical'"),
    ('[sla.severity]\nCRITICAL = "1h"\n' + MINIMAL, "sla.severity.CRITICAL", "unknown severity"),
    ('[sla.severity]\ncritical = -5\n' + MINIMAL, "sla.severity.critical", ">= 0"),
    ("dispatcher = 1\n" + MINIMAL, "dispatcher", "expected a table"),
    ('[dispatcher]\nselection = "fastest"\n' + MINIMAL, "dispatcher.selection", "expected one of"),
    ('[dispatcher]\nselection = "least_load"\n' + MINIMAL, "dispatcher.selection", "did you mean 'least_loaded'"),
    ("[dispatcher]\nselection = 1\n" + MINIMAL, "dispatcher.selection", "expected a string"),
    ('[dispatcher]\noffer_timout = "30s"\n' + MINIMAL, "dispatcher.offer_timout", "did you mean 'offer_timeout'"),
    ('[dispatcher]\noffer_timeout = "0s"\n' + MINIMAL, "dispatcher.offer_timeout", "> 0"),
    ('[dispatcher]\noffer_timeout = "later"\n' + MINIMAL, "dispatcher.offer_timeout", "duration"),
    ('[dispatcher]\naffinity_wait = "none"\n' + MINIMAL, "dispatcher.affinity_wait", "cannot be none"),
    ("[dispatcher]\nretry_after = -3\n" + MINIMAL, "dispatcher.retry_after", ">= 0"),
    ("[dispatcher]\nsla_warning = true\n" + MINIMAL, "dispatcher.sla_warning", "not a boolean"),
    ('[dispatcher]\nmark_not_responding = "yes"\n' + MINIMAL, "dispatcher.mark_not_responding", "true or false"),
    ('[dispatcher]\noverflow = "billing"\n' + MINIMAL, "dispatcher.overflow", "list of overflow rules"),
    ('[dispatcher.strain]\ncontinuous = "soon"\n' + MINIMAL, "dispatcher.strain.continuous", "duration"),
    ('[criteria]\nteir = {}\n' + MINIMAL, "criteria.teir", "did you mean 'tier'"),
    ("analytics = 1\n" + MINIMAL, "analytics", "expected a table"),
    ('[analytics]\ncatgory = "topic"\n' + MINIMAL, "analytics.catgory", "did you mean 'category'"),
    ("[analytics]\nrecurring_count = 1\n" + MINIMAL, "analytics.recurring_count", "from 2 to"),
    ('[analytics]\nrecurring_window = "soon"\n' + MINIMAL, "analytics.recurring_window", "duration"),
]


@pytest.mark.parametrize(("text", "field", "reason"), BAD_FILES, ids=[f for _, f, _ in BAD_FILES])
def test_every_bad_key_is_named(text: str, field: str, reason: str) -> None:
    with pytest.raises(InvalidPolicy) as info:
        parse_policy(text, allow_code=True)
    assert info.value.field == field
    assert reason in info.value.reason


def test_every_schema_key_has_a_bad_input_case() -> None:
    """The table above covers every key the format knows, so a new key
    cannot slip in unvalidated."""
    from triage_queue.config import _KIND_KEYS, _OPTION_DEFAULTS, _SLA_KEYS, _TOP_KEYS

    covered = {re.sub(r"\[\d+\]$", "", part) for _, field, _ in BAD_FILES for part in field.split(".")}
    keys = set(_TOP_KEYS) | set(_SLA_KEYS) | set(_OPTION_DEFAULTS) | {"selection", "kind", "name", "weight"}
    for kind_keys in _KIND_KEYS.values():
        keys |= set(kind_keys)
    assert keys - covered == set()


@pytest.mark.parametrize(
    ("text", "line", "column"),
    [
        ('name = "x"\nmax_wait = 1h\n', 2, 13),
        ('[[rules]]\nkind = "vip"\n[sla]\nx\n', 4, 2),
        ('name = "a"\nname = "b"\n', 2, 11),
        ('name = "x"\nrules = [', 2, 10),
    ],
)
def test_syntax_errors_name_source_line_and_column(text: str, line: int, column: int) -> None:
    with pytest.raises(InvalidPolicy) as info:
        parse_policy(text, source="team.toml")
    assert info.value.field == "toml"
    assert info.value.value == text.splitlines()[line - 1]
    assert info.value.reason.startswith(f"team.toml, line {line}, column {column}: ")


def test_load_policy_reports_file_problems(tmp_path: Path) -> None:
    with pytest.raises(InvalidPolicy) as info:
        load_policy(tmp_path / "missing.toml")
    assert info.value.field == "path"
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(InvalidPolicy, match="not UTF-8"):
        load_policy(binary)
    broken = tmp_path / "broken.toml"
    broken.write_text("[[rules]\n")
    with pytest.raises(InvalidPolicy) as info:
        load_policy(broken)
    assert info.value.reason.startswith(f"{broken}, line 1, column ")


def test_a_policy_file_saved_with_a_byte_order_mark_loads(tmp_path: Path) -> None:
    """Editors on Windows save UTF-8 with a BOM; the file means the same as
    without one (it used to fail as 'Invalid statement' at line 1, column 1)."""
    text = 'max_wait = "1h"\r\n[[rules]]\r\nkind = "emergency"\r\n'
    (tmp_path / "plain").mkdir()
    (tmp_path / "marked").mkdir()
    plain, marked = tmp_path / "plain" / "team.toml", tmp_path / "marked" / "team.toml"
    plain.write_bytes(text.encode("utf-8"))
    marked.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    assert load_policy(marked) == load_policy(plain)
    assert load_policy(marked).policy == Policy.lexicographic(Emergency(), max_wait=3600)
    assert parse_policy("\ufeff" + text) == parse_policy(text)  # read with encoding="utf-8", the BOM stays in the str
    broken = tmp_path / "broken.toml"
    broken.write_bytes(b"\xef\xbb\xbf[[rules]\n")
    with pytest.raises(InvalidPolicy) as info:
        load_policy(broken)
    assert info.value.reason.startswith(f"{broken}, line 1, column ") and info.value.value == "[[rules]"


def test_known_tiers_are_the_ones_the_vip_rules_rank() -> None:
    """[sla.tier] may name only tiers a vip rule ranks, checked once with one
    notion for files and values: a [tiers] table that every vip rule
    overrides ranks nothing and is refused (it used to be accepted by the
    reader, then refused by PolicyFile with the target in seconds)."""
    shadowed = '[tiers]\nplatinum = 4\n[[rules]]\nkind = "vip"\ntiers = {gold = 3}\n[sla.tier]\nplatinum = "1h"\n'
    with pytest.raises(InvalidPolicy) as info:
        parse_policy(shadowed)
    assert (info.value.field, info.value.value) == ("tiers", {"platinum": 4})
    assert "no vip rule uses this table" in info.value.reason
    with pytest.raises(InvalidPolicy) as info:
        parse_policy('[tiers]\ngold = 2\n[[rules]]\nkind = "emergency"\n')
    assert info.value.field == "tiers"
    # Without the table, the target names a tier the rule does not rank: refused with what was written.
    with pytest.raises(InvalidPolicy) as info:
        parse_policy(shadowed.replace("[tiers]\nplatinum = 4\n", ""))
    assert (info.value.field, info.value.value) == ("sla.tier.platinum", "1h")
    assert "unknown tier" in info.value.reason
    # A rule's own tiers and the shared table each declare the tiers they rank.
    own = parse_policy('[[rules]]\nkind = "vip"\ntiers = {gold = 3, platinum = 4}\n[sla.tier]\nplatinum = "1h"\n')
    assert own.sla.by_tier == {"platinum": 3600.0}
    both = parse_policy(
        '[tiers]\nplatinum = 4\n[[rules]]\nkind = "vip"\n[[rules]]\nkind = "vip"\nname = "v2"\ntiers = {gold = 3}\n'
        '[sla.tier]\nplatinum = "1h"\ngold = "2h"\n'
    )
    assert both.sla.by_tier == {"platinum": 3600.0, "gold": 7200.0}
    assert parse_policy(both.to_toml()) == both
    # The same rule for a hand-built value; the error names the tier, not the seconds.
    with pytest.raises(InvalidPolicy) as info:
        PolicyFile.from_policy(Policy.lexicographic(Vip({"gold": 3})), sla=SlaTargets(by_tier={"platinum": "1h"}))
    assert (info.value.field, info.value.value) == ("sla.tier", "platinum")
    # No vip rule: nothing ranks tiers, so any tier may have a target.
    assert parse_policy('[[rules]]\nkind = "emergency"\n[sla.tier]\nbronze = "1h"\n').sla.by_tier == {"bronze": 3600.0}


def test_parse_policy_rejects_non_text() -> None:
    with pytest.raises(InvalidPolicy) as info:
        parse_policy(b"name = 'x'")  # type: ignore[arg-type]
    assert info.value.field == "text"


def test_name_defaults_to_the_file_stem(tmp_path: Path) -> None:
    path = tmp_path / "night-shift.toml"
    path.write_text(MINIMAL)
    assert load_policy(path).name == "night-shift"
    assert load_policy(path).source == str(path)
    assert parse_policy(MINIMAL).name == "policy"


# -- the example files --------------------------------------------------------


def test_the_two_example_policies_exist() -> None:
    assert {p.name for p in EXAMPLES} >= {"fifo-sla.toml", "vip-first.toml"}


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_policies_load_round_trip_and_build(path: Path) -> None:
    pf = load_policy(path)
    assert pf.name == path.stem
    assert parse_policy(pf.to_toml()) == pf
    dispatcher = pf.build(ManualClock(), [Agent("ana"), Agent("bo")])
    assert dispatcher.queue.policy == pf.policy
    offer = dispatcher.submit(pf.with_sla(Ticket("T-1", 0.0, customer_tier="gold")))
    assert offer is not None and offer.agent_id in {"ana", "bo"}


def test_fifo_sla_example_means_what_it_says() -> None:
    pf = load_policy(ROOT / "examples" / "policies" / "fifo-sla.toml")
    assert pf.policy == Policy.lexicographic(Emergency(), FeedbackOrder(), max_wait=3600)
    assert pf.sla == SlaTargets(default="4h", by_tier={"gold": "1h", "platinum": "30m"}, by_severity={"critical": "15m", "high": "1h"})


def test_vip_first_example_is_the_default_policy_spelled_out() -> None:
    pf = load_policy(ROOT / "examples" / "policies" / "vip-first.toml")
    assert pf.policy == Policy.lexicographic(Emergency(), Vip(DEFAULT_TIERS, 0), Complexity(), FeedbackOrder(120))
    assert pf.dispatcher_options["sla_warning"] == 600.0


# -- a loaded policy orders tickets as the hand-built one -----------------------

WEIGHTED = """
composition = "weighted"
max_wait = "45m"
[[rules]]
kind = "vip"
tiers = {standard = 0, silver = 1, gold = 3, platinum = 6}
weight = 600
[[rules]]
kind = "aging"
rate = 0.5
weight = 1
[[rules]]
kind = "emergency"
threshold = "high"
name = "urgent"
weight = 3600
[[rules]]
kind = "sla_deadline"
default_target = "4h"
weight = 0.25
[[rules]]
kind = "complexity"
prefer = "simple"
weight = 10
"""

WEIGHTED_BY_HAND = Policy.weighted(
    [
        (Vip({"standard": 0, "silver": 1, "gold": 3, "platinum": 6}), 600),
        (Aging(0.5), 1),
        (Emergency("high", name="urgent"), 3600),
        (SlaDeadline(4 * 3600), 0.25),
        (Complexity("simple"), 10),
    ],
    max_wait=2700,
)

LEXICOGRAPHIC = """
max_wait = 600
[tiers]
gold = 2
platinum = 5
[[rules]]
kind = "emergency"
[[rules]]
kind = "sla_deadline"
[[rules]]
kind = "vip"
default_rank = 1
[[rules]]
kind = "feedback_order"
follow_up_bonus = "1m"
"""

LEXICOGRAPHIC_BY_HAND = Policy.lexicographic(
    Emergency(), SlaDeadline(), Vip({"gold": 2, "platinum": 5}, 1), FeedbackOrder(60), max_wait=600
)


@pytest.mark.parametrize(
    ("text", "by_hand"),
    [(WEIGHTED, WEIGHTED_BY_HAND), (LEXICOGRAPHIC, LEXICOGRAPHIC_BY_HAND), (ROOT / "examples/policies/vip-first.toml", None)],
    ids=["weighted", "lexicographic", "vip-first"],
)
@settings(max_examples=100)
@given(data=st.data())
def test_loaded_policy_orders_tickets_as_the_hand_built_one(text: str | Path, by_hand: Policy | None, data: st.DataObject) -> None:
    loaded = load_policy(text).policy if isinstance(text, Path) else parse_policy(text).policy
    reference = by_hand or Policy.lexicographic(Emergency(), Vip(DEFAULT_TIERS, 0), Complexity(), FeedbackOrder(120))
    batch = data.draw(ticket_lists(max_size=12))
    now = data.draw(st.floats(0, 2_000_000))
    for ticket in batch:
        assert loaded.sort_key(ticket, now) == reference.sort_key(ticket, now)
        assert loaded.next_change(ticket, now) == reference.next_change(ticket, now)
    order = sorted(batch, key=lambda t: (loaded.sort_key(t, now), t.id))
    assert order == sorted(batch, key=lambda t: (reference.sort_key(t, now), t.id))


def test_python_rules_load_from_objects_and_factories() -> None:
    pf = parse_policy(
        '[[rules]]\nkind = "python"\nobject = "test_config:seats_rule"\n'
        '[[rules]]\nkind = "python"\nobject = "test_config:make_seats_rule"\nargs = {weight_per_seat = 2.0}\n',
        allow_code=True,
    )
    first, second = pf.policy.rules
    assert first is seats_rule
    big = Ticket("T", 0.0, attributes={"seats": 40})
    assert second.key(big, 0.0) == 80.0
    assert pf.policy.sort_key(big, 0.0) == (-40.0, -80.0)


def test_to_toml_writes_module_level_python_rules_and_rejects_others() -> None:
    pf = PolicyFile.from_policy(Policy.lexicographic(seats_rule, Emergency()), name="seats")
    text = pf.to_toml()
    assert 'object = "test_config:seats_rule"' in text
    assert parse_policy(text, allow_code=True) == pf
    local = make_seats_rule()
    with pytest.raises(InvalidPolicy) as info:
        PolicyFile.from_policy(Policy.lexicographic(Emergency(), local)).to_toml()
    assert info.value.field == "rules[1]"


@given(
    rules=st.lists(
        st.sampled_from(
            [
                Emergency(),
                Emergency("high", name="high_or_worse"),
                Vip(),
                Vip({"gold": 1.5, "silver": 1, 'odd "tier"\\\x7f': -2}, 0.5, name="vip2"),
                Complexity("simple"),
                FeedbackOrder(90),
                Aging(0.125),
                SlaDeadline(7200),
            ]
        ),
        min_size=1,
        max_size=5,
        unique_by=lambda r: r.name,
    ),
    weights=st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=5, max_size=5),
    weighted=st.booleans(),
    max_wait=st.one_of(st.none(), st.integers(0, 10**6).map(float), st.floats(0, 1e6)),
    sla=st.builds(
        SlaTargets,
        default=st.one_of(st.none(), st.integers(0, 10**5)),
        by_tier=st.dictionaries(st.sampled_from(["gold", "silver"]), st.integers(0, 10**5)),
        by_severity=st.dictionaries(st.sampled_from(list(Severity)), st.floats(0, 1e5)),
    ),
    selection=st.sampled_from(sorted(SELECTIONS)),
    options=st.fixed_dictionaries(
        {},
        optional={
            "offer_timeout": st.one_of(st.none(), st.floats(1, 1e4)),
            "affinity_wait": st.integers(0, 600).map(float),
            "retry_after": st.one_of(st.none(), st.integers(0, 600).map(float)),
            "sla_warning": st.one_of(st.none(), st.floats(0, 600)),
            "mark_not_responding": st.booleans(),
        },
    ),
    description=st.text(st.characters(blacklist_categories=["Cs"]), max_size=20),
)
def test_to_toml_round_trips(
    rules: list[Any],
    weights: list[float],
    weighted: bool,
    max_wait: float | None,
    sla: SlaTargets,
    selection: str,
    options: dict[str, Any],
    description: str,
) -> None:
    if weighted:
        policy = Policy.weighted(list(zip(rules, weights, strict=False)), max_wait=max_wait)
    else:
        policy = Policy.lexicographic(*rules, max_wait=max_wait)
    pf = PolicyFile.from_policy(
        policy, name="round trip", sla=sla, selection=selection, dispatcher_options=options, description=description
    )
    assert parse_policy(pf.to_toml()) == pf


# -- SLA targets ----------------------------------------------------------------


def test_sla_target_is_the_strictest_specific_target_else_the_default() -> None:
    sla = SlaTargets(default="8h", by_tier={"gold": "1h", "silver": "6h"}, by_severity={"critical": "15m", "high": "2h"})
    assert sla.target_for(Ticket("plain", 0.0)) == 8 * 3600
    assert sla.target_for(Ticket("gold", 0.0, customer_tier="gold")) == 3600
    assert sla.target_for(Ticket("gold-high", 0.0, customer_tier="gold", severity="high")) == 3600
    assert sla.target_for(Ticket("silver-high", 0.0, customer_tier="silver", severity="high")) == 2 * 3600
    assert sla.target_for(Ticket("gold-crit", 0.0, customer_tier="gold", severity="critical")) == 900
    # A specific target looser than the default still wins over the default.
    assert sla.target_for(Ticket("silver", 0.0, customer_tier="silver")) == 6 * 3600
    assert sla.target_for(Ticket("bronze", 0.0, customer_tier="bronze")) == 8 * 3600
    assert SlaTargets().target_for(Ticket("none", 0.0)) is None
    assert SlaTargets(by_tier={"gold": 60}).target_for(Ticket("std", 0.0)) is None
    assert not SlaTargets() and SlaTargets(default=0)


@given(tickets())
def test_sla_target_matches_a_reference(ticket: Ticket) -> None:
    sla = SlaTargets(default=1000, by_tier={"gold": 300, "silver": 2000}, by_severity={"critical": 100, "low": 5000})
    specific = [
        {"gold": 300.0, "silver": 2000.0}.get(ticket.customer_tier or ""),
        {Severity.CRITICAL: 100.0, Severity.LOW: 5000.0}.get(ticket.severity),
    ]
    present = [s for s in specific if s is not None]
    assert sla.target_for(ticket) == (min(present) if present else 1000.0)


def test_with_sla_sets_only_missing_deadlines() -> None:
    pf = parse_policy(MINIMAL + '[sla]\ndefault = "1h"\n[sla.severity]\ncritical = "10m"\n')
    assert pf.with_sla(Ticket("a", 100.0)).sla_due == 3700.0
    assert pf.with_sla(Ticket("b", 100.0, severity="critical")).sla_due == 700.0
    kept = Ticket("c", 100.0, sla_due=150.0)
    assert pf.with_sla(kept) is kept
    assert pf.sla_target(Ticket("d", 0.0)) == 3600.0
    none = parse_policy(MINIMAL)
    plain = Ticket("e", 0.0)
    assert none.with_sla(plain) is plain


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"default": "x"}, "default"),
        ({"by_tier": {"gold": -1}}, "by_tier.gold"),
        ({"by_tier": {"": 5}}, "by_tier"),
        ({"by_tier": [1]}, "by_tier"),
        ({"by_severity": {"urgent": 5}}, "by_severity.urgent"),
        ({"by_severity": {"high": "soon"}}, "by_severity.high"),
        ({"by_severity": 3}, "by_severity"),
    ],
)
def test_sla_targets_validate_in_python_too(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidPolicy) as info:
        SlaTargets(**kwargs)
    assert info.value.field == field


# -- building a dispatcher --------------------------------------------------------


def test_build_uses_selection_and_options() -> None:
    pf = parse_policy(MINIMAL + '[dispatcher]\nselection = "least_loaded"\noffer_timeout = "2m"\nretry_after = "none"\n')
    clock = ManualClock(10.0)
    dispatcher = pf.build(clock, [Agent("ana")])
    assert isinstance(dispatcher.selection, LeastLoaded)
    offer = dispatcher.submit(Ticket("T-1", 10.0))
    assert offer is not None and offer.expires_at == 130.0
    endless = parse_policy(MINIMAL + '[dispatcher]\noffer_timeout = "none"\n').build(ManualClock(), [Agent("bo")])
    offer = endless.submit(Ticket("T-2", 0.0))
    assert offer is not None and offer.expires_at == math.inf


def test_build_with_defaults_matches_a_plain_dispatcher() -> None:
    dispatcher = parse_policy(MINIMAL).build(ManualClock(), [Agent("ana")])
    offer = dispatcher.submit(Ticket("T-1", 0.0))
    assert offer is not None and offer.expires_at == 30.0  # the Dispatcher's own default


def test_build_takes_dispatcher_options_and_they_override_the_file() -> None:
    """build() passes classify, name, stats... to the Dispatcher, and an option given to build beats the file's."""
    pf = parse_policy(MINIMAL + '[sla]\ndefault = "1h"\n[dispatcher]\noffer_timeout = "2m"\n')
    dispatcher = pf.build(
        ManualClock(), [Agent("ana")], classify=lambda t: t.customer_tier, name="desk-a", offer_timeout=None, audit=0
    )
    offer = dispatcher.submit(pf.with_sla(Ticket("T-1", 0.0, customer_tier="gold")))
    assert offer is not None and offer.expires_at == math.inf  # the file said 2m
    assert offer.ticket.sla_due == 3600.0  # the file's SLA target, stamped by with_sla
    assert list(dispatcher.stats().by_class) == ["gold"]
    quiet = pf.build(ManualClock(), stats=False)
    with pytest.raises(InvalidArgument, match="stats=False"):
        quiet.stats()


def test_build_selection_override_by_name_or_instance() -> None:
    """selection= may name a strategy or be one; a bad name is refused naming selection."""
    pf = parse_policy(MINIMAL + '[dispatcher]\nselection = "least_loaded"\n')
    assert isinstance(pf.build(ManualClock(), selection="round_robin").selection, RoundRobin)
    mine = RoundRobin()
    assert pf.build(ManualClock(), selection=mine).selection is mine
    with pytest.raises(InvalidArgument) as info:
        pf.build(ManualClock(), selection="fastest")
    assert info.value.field == "selection"


def test_build_accepts_every_dispatcher_keyword() -> None:
    """Each keyword-only Dispatcher argument (but clock, which build takes itself) is accepted at its default."""
    pf = parse_policy(MINIMAL)
    params = inspect.signature(Dispatcher.__init__).parameters.values()
    defaults = {p.name: p.default for p in params if p.kind is p.KEYWORD_ONLY and p.name != "clock"}
    assert {"classify", "audit", "name", "stats", "advance_on_read", "on_listener_error"} <= set(defaults)
    for key, value in defaults.items():
        pf.build(ManualClock(), [Agent("ana")], **{key: value})


@pytest.mark.parametrize("key", ["classfy", "queue", "agents_", "offer_timeuot"])
def test_build_refuses_unknown_options_naming_them(key: str) -> None:
    """An option the Dispatcher does not take raises InvalidArgument naming it (not a TypeError)."""
    with pytest.raises(InvalidArgument) as info:
        parse_policy(MINIMAL).build(ManualClock(), (), **{key: 1})
    assert info.value.field == key
    assert "not a Dispatcher option" in str(info.value)


def test_build_bad_option_value_is_refused_by_the_dispatcher() -> None:
    """A bad value for a known option is refused naming the option."""
    with pytest.raises(InvalidArgument) as info:
        parse_policy(MINIMAL).build(ManualClock(), audit=-1)
    assert info.value.field == "audit"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"selection": "best"}, "dispatcher.selection"),
        ({"selection": ["longest_idle"]}, "dispatcher.selection"),
        ({"dispatcher_options": {"audit": 5}}, "dispatcher.audit"),
        ({"dispatcher_options": {"offer_timeout": 0}}, "dispatcher.offer_timeout"),
        ({"dispatcher_options": [("offer_timeout", 1)]}, "dispatcher"),
        ({"name": ""}, "name"),
        ({"sla": SlaTargets(by_tier={"glod": 60})}, "sla.tier"),
        ({"sla": {"default": 60}}, "sla"),
        ({"description": None}, "description"),
    ],
)
def test_from_policy_validates(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidPolicy) as info:
        PolicyFile.from_policy(Policy.default(), **kwargs)
    assert info.value.field == field


def test_from_policy_rejects_a_non_policy() -> None:
    with pytest.raises(InvalidPolicy) as info:
        PolicyFile.from_policy("default")  # type: ignore[arg-type]
    assert info.value.field == "policy"


def test_a_rule_may_be_renamed_and_used_twice() -> None:
    pf = parse_policy('[[rules]]\nkind = "emergency"\n[[rules]]\nkind = "emergency"\nthreshold = "high"\nname = "high"\n')
    assert [r.name for r in pf.policy.rules] == ["emergency", "high"]
    high = Ticket("h", 0.0, severity="high")
    assert pf.policy.sort_key(high, 0.0) == (0, -1)


def test_the_complete_file_in_the_docs_loads() -> None:
    """docs/policies.md's full example is valid and uses every top-level key."""
    doc = (ROOT / "docs" / "policies.md").read_text()
    blocks = re.findall(r"```toml\n(.*?)```", doc, re.DOTALL)
    complete = parse_policy(blocks[0], source="docs/policies.md")
    assert complete.name == "support-eu"
    assert complete.policy.max_wait == 7200
    assert [r.name for r in complete.policy.rules] == ["emergency", "sla_deadline", "vip", "complexity", "feedback_order"]
    assert complete.dispatcher_options == {
        "offer_timeout": 30.0,
        "affinity_wait": 60.0,
        "retry_after": 300.0,
        "sla_warning": 600.0,
        "mark_not_responding": False,
    }
    with pytest.raises(InvalidPolicy) as info:  # it runs code: refused unless allowed
        parse_policy(blocks[1])
    assert info.value.field == "rules[0].kind"
    assert "allow_code=True" in info.value.reason
    with pytest.raises(InvalidPolicy) as info:  # allowed: it names a module of yours
        parse_policy(blocks[1], allow_code=True)
    assert info.value.field == "rules[0].object"


_KEYS = st.sampled_from(
    ["name", "composition", "max_wait", "tiers", "rules", "sla", "dispatcher", "kind", "weight", "threshold", "default_rank",
     "prefer", "follow_up_bonus", "rate", "default_target", "default", "tier", "severity", "selection", "offer_timeout",
     "retry_after", "gold", "critical", "emergency", "vip", "aging", "x"]
)
_SCALARS = st.one_of(
    st.sampled_from(["emergency", "vip", "aging", "sla_deadline", "weighted", "lexicographic", "1h", "gold", "critical", "none", ""]),
    st.integers(-5, 10**20),
    st.floats(allow_nan=True),
    st.booleans(),
)
_VALUES = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=4), max_leaves=12)


_RULE_TABLES = st.lists(
    st.dictionaries(_KEYS, _VALUES, max_size=3).map(lambda d: {"kind": d.pop("x", "emergency"), **d}), min_size=1, max_size=3
)


@given(st.dictionaries(_KEYS, _VALUES, max_size=6), st.one_of(st.none(), _RULE_TABLES))
def test_any_parsed_toml_either_loads_or_raises_invalid_policy(data: dict[str, Any], rule_tables: Any) -> None:
    """Whatever structure a TOML file parses to, reading it gives a policy
    file or an InvalidPolicy naming a key, never another exception."""
    from triage_queue.config import _read

    if rule_tables is not None:
        data["rules"] = rule_tables
    try:
        pf = _read(data, "<fuzz>", "policy")
    except InvalidPolicy as exc:
        assert exc.field
    else:
        assert parse_policy(pf.to_toml()) == pf
