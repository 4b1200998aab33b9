"""Hostile files: every parser and the command line refuse them with the
documented error (InvalidPolicy, TraceError, InvalidSimulation; the CLI:
exit 2 and one line), in bounded time and memory (issue 12, part 2)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from triage_queue import InvalidPolicy, TriageError
from triage_queue.config import MAX_DURATION, MAX_NESTING, MAX_POLICY_BYTES, load_policy, parse_policy
from triage_queue.sim import InvalidSimulation, TraceError, load_staff, parse_staff, read_trace
from triage_queue.sim.model import MAX_AGENTS, MAX_HOURS, MAX_TEAM_SIZE
from triage_queue.sim.trace import (
    MAX_CSV_COLUMNS,
    MAX_CSV_HEADER_CHARS,
    MAX_CSV_ROW_CHARS,
    MAX_FOLLOW_UPS,
    MAX_JSONL_LINE_CHARS,
    MAX_STAFF_BYTES,
    MAX_TRACE_BYTES,
    MAX_TRACE_TICKETS,
)

ROOT = Path(__file__).resolve().parent.parent
POLICIES = sorted((ROOT / "examples" / "policies").glob("*.toml"))
STAFF = ROOT / "examples" / "staff" / "helpdesk.toml"
TRACE = ROOT / "examples" / "traces" / "example-day.csv"
FUZZ = settings(
    max_examples=200,
    deadline=None,
    derandomize=bool(os.environ.get("CI")),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
DEEP = "[" * 100_000 + "]" * 100_000
HUGE_INT = "9" * 5000


# -- staff files: sizes, nesting, numbers, types ----------------------------------------


@pytest.mark.parametrize("size", ["100000000", "99999999999999999999", str(MAX_TEAM_SIZE + 1)])
def test_a_huge_team_is_refused_before_it_is_built(size: str) -> None:
    with pytest.raises(InvalidSimulation) as info:
        parse_staff(f'[[team]]\nname = "a"\nsize = {size}\n', source="s.toml")
    assert info.value.field == "s.toml: team[1].size"
    assert "MAX_TEAM_SIZE" in str(info.value)


def test_a_team_of_the_largest_size_is_built() -> None:
    assert len(parse_staff(f'[[team]]\nname = "a"\nsize = {MAX_TEAM_SIZE}\n')) == MAX_TEAM_SIZE


def test_too_many_agents_in_all_are_refused() -> None:
    teams = "".join(f'[[team]]\nname = "t{i}"\nsize = {MAX_TEAM_SIZE}\n' for i in range(MAX_AGENTS // MAX_TEAM_SIZE + 1))
    with pytest.raises(InvalidSimulation, match="MAX_AGENTS"):
        parse_staff(teams)
    full = f'[[team]]\nname = "t"\nsize = {MAX_AGENTS}\n[[agent]]\nid = "one-more"\n'
    with pytest.raises(InvalidSimulation, match=r"agent\[1\].*MAX_AGENTS"):
        parse_staff(full)


def test_deep_nesting_in_a_staff_file_is_refused() -> None:
    with pytest.raises(InvalidSimulation, match="nested too deeply"):
        parse_staff("a = " + DEEP)
    nested = "[" * (MAX_NESTING + 1) + "]" * (MAX_NESTING + 1)
    with pytest.raises(InvalidSimulation, match="nested too deeply"):
        parse_staff(f'[[team]]\nname = "a"\nsize = 1\nbreaks = {nested}\n')


def test_numbers_beyond_the_digit_limit_in_a_staff_file_are_refused() -> None:
    with pytest.raises(InvalidSimulation, match="not valid TOML"):
        parse_staff(f'[[team]]\nname = "a"\nsize = {HUGE_INT}\n')
    with pytest.raises(InvalidSimulation) as info:
        parse_staff(f'[[agent]]\nid = "a"\nshifts = [{{start = "{HUGE_INT}:00", end = "10:00"}}]\n')
    assert info.value.field.endswith("agent[1].shifts[0].start")
    assert len(str(info.value)) < 300, "the value is shortened in the message"
    with pytest.raises(InvalidSimulation, match="MAX_HOURS"):
        parse_staff('[[agent]]\nid = "a"\nshifts = [{start = 1' + "0" * 400 + ', end = 2}]\n')
    with pytest.raises(InvalidSimulation, match="MAX_HOURS"):
        parse_staff(f'[[agent]]\nid = "a"\nshifts = [{{start = 0, end = {MAX_HOURS * 3600 + 1}}}]\n')


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("team = 5", "team"),
        ('agent = "ana"', "agent"),
        ('[team]\nname = "a"\nsize = 1\n', "team"),
        ('[[team]]\nname = "a"\nsize = 1\ndedicated_customers = 5\n', "team[1].dedicated_customers"),
        ('[[team]]\nname = "a"\nsize = "many"\n', "team[1].size"),
        ('[[team]]\nname = "a"\nsize = 1\nbreaks = 3\n', "team[1].breaks"),
        ('[[agent]]\nid = "a"\nshifts = 3\n', "agent[1].shifts"),
        ('[[agent]]\nid = "a"\nshifts = [3]\n', "agent[1].shifts[0]"),
    ],
)
def test_wrong_types_in_a_staff_file_name_the_key(text: str, field: str) -> None:
    with pytest.raises(InvalidSimulation) as info:
        parse_staff(text, source="s.toml")
    assert info.value.field == f"s.toml: {field}"


def test_long_lists_in_a_team_are_refused() -> None:
    skills = ";".join(f"s{i}" for i in range(200))
    with pytest.raises(InvalidSimulation, match="at most 100"):
        parse_staff(f'[[team]]\nname = "a"\nsize = 10\nskills = "{skills}"\n')
    breaks = ", ".join(f'["{h:02d}:00", "{h:02d}:01"]' for h in range(8, 16) for _ in range(20))
    with pytest.raises(InvalidSimulation, match="at most 100"):
        parse_staff(f'[[team]]\nname = "a"\nsize = 10\nshift = ["00:00", "23:00"]\nbreaks = [{breaks}]\n')


def test_staff_text_and_files_over_the_size_bound_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidSimulation, match="MAX_STAFF_BYTES"):
        parse_staff("#" * (MAX_STAFF_BYTES + 1))
    big = tmp_path / "big.toml"
    big.write_text("#" * (MAX_STAFF_BYTES + 1))
    with pytest.raises(InvalidSimulation, match="too large"):
        load_staff(big)
    with pytest.raises(InvalidSimulation, match="expected TOML text"):
        parse_staff(b"[[agent]]")  # type: ignore[arg-type]
    with pytest.raises(InvalidSimulation) as info:
        load_staff(None)  # type: ignore[arg-type]
    assert info.value.field == "path"


# -- policy files ----------------------------------------------------------------------


def test_deep_nesting_in_a_policy_is_refused() -> None:
    with pytest.raises(InvalidPolicy, match="nested too deeply"):
        parse_policy("a = " + DEEP)


def test_huge_policy_text_and_numbers_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidPolicy, match="MAX_POLICY_BYTES"):
        parse_policy("#" * (MAX_POLICY_BYTES + 1))
    big = tmp_path / "big.toml"
    big.write_text("#" * (MAX_POLICY_BYTES + 1))
    with pytest.raises(InvalidPolicy, match="too large"):
        load_policy(big)
    with pytest.raises(InvalidPolicy, match="not valid TOML"):
        parse_policy(f"max_wait = {HUGE_INT}\n" + '[[rules]]\nkind = "emergency"\n')
    with pytest.raises(InvalidPolicy) as info:
        parse_policy(f'max_wait = "{HUGE_INT}h"\n[[rules]]\nkind = "emergency"\n')
    assert info.value.field == "max_wait"
    assert len(str(info.value)) < 300


@pytest.mark.parametrize("value", ['"367d"', str(int(MAX_DURATION) + 1), '"100000000h"'])
def test_durations_over_the_bound_are_refused(value: str) -> None:
    with pytest.raises(InvalidPolicy) as info:
        parse_policy(f'[[rules]]\nkind = "emergency"\n[sla]\ndefault = {value}\n')
    assert info.value.field == "sla.default"
    assert "MAX_DURATION" in info.value.reason


def test_python_rules_are_refused_unless_code_is_allowed(caplog: pytest.LogCaptureFixture) -> None:
    text = '[[rules]]\nkind = "python"\nobject = "os:system"\nargs = {command = "echo pwned"}\n'
    with caplog.at_level(logging.WARNING, logger="triage_queue"), pytest.raises(InvalidPolicy) as info:
        parse_policy(text, source="evil.toml")
    assert info.value.field == "rules[0].kind"
    assert "allow_code=True" in info.value.reason and "--allow-code" in info.value.reason
    [record] = [r for r in caplog.records if r.name == "triage_queue.config"]
    assert record.levelno == logging.WARNING and "evil.toml" in record.getMessage() and "os:system" in record.getMessage()


@pytest.mark.parametrize("spec", [".:x", "..a:x", ":x", "os:", "os:sys..path", "a b:c", "os:path:join", HUGE_INT])
def test_a_malformed_python_object_names_the_key(spec: str) -> None:
    with pytest.raises(InvalidPolicy) as info:
        parse_policy(f'[[rules]]\nkind = "python"\nobject = "{spec}"\n', allow_code=True)
    assert info.value.field == "rules[0].object"
    assert "package.module:name" in info.value.reason


def test_a_module_raising_on_import_is_an_invalid_policy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "hostile_rule_module.py").write_text("raise RuntimeError('boom')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(InvalidPolicy, match="RuntimeError: boom") as info:
        parse_policy('[[rules]]\nkind = "python"\nobject = "hostile_rule_module:r"\n', allow_code=True)
    assert info.value.field == "rules[0].object"


@pytest.mark.parametrize("bad", [5, None, b"p.toml", 1.5])
def test_load_policy_names_a_bad_path_argument(bad: object) -> None:
    with pytest.raises(InvalidPolicy) as info:
        load_policy(bad)  # type: ignore[arg-type]
    assert info.value.field == "path"


def test_allow_code_must_be_a_bool() -> None:
    with pytest.raises(InvalidPolicy) as info:
        parse_policy('[[rules]]\nkind = "emergency"\n', allow_code="yes")  # type: ignore[arg-type]
    assert info.value.field == "allow_code"


# -- traces ------------------------------------------------------------------------------


def test_deep_nesting_in_a_jsonl_line_is_a_trace_error(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text('{"created": 1, "handling_time": 1}\n{"created": ' + DEEP + ', "handling_time": 1}\n')
    with pytest.raises(TraceError, match="nested too deeply") as info:
        read_trace(path)
    assert info.value.line == 2


def test_huge_numbers_in_a_trace_are_trace_errors(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text(f'{{"created": {HUGE_INT}, "handling_time": 1}}\n')
    with pytest.raises(TraceError, match="not valid JSON") as info:
        read_trace(path)
    assert info.value.line == 1
    path.write_text('{"created": 1' + "0" * 400 + ', "handling_time": 1}\n')
    with pytest.raises(TraceError) as info:
        read_trace(path)
    assert info.value.column == "created"
    csv_path = tmp_path / "t.csv"
    csv_path.write_text(f"created,handling_time\n{HUGE_INT},1\n0,{HUGE_INT}\n")
    with pytest.raises(TraceError) as info:
        read_trace(csv_path)
    assert (info.value.line, info.value.column) == (2, "created")
    assert len(str(info.value)) < 400


@pytest.mark.parametrize("column", ["created", "handling_time", "patience", "sla_due", "follow_ups"])
def test_times_beyond_max_hours_are_trace_errors(tmp_path: Path, column: str) -> None:
    path = tmp_path / "t.csv"
    cells = {"created": "0", "handling_time": "1", "patience": "", "sla_due": "", "follow_ups": ""}
    cells[column] = str(MAX_HOURS * 3600 + 1)
    path.write_text(",".join(cells) + "\n" + ",".join(cells.values()) + "\n")
    with pytest.raises(TraceError, match="MAX_HOURS") as info:
        read_trace(path)
    assert info.value.line == 2


def test_a_huge_csv_cell_is_a_trace_error(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("created,handling_time,id\n1,1,a\n2,1," + "x" * 200_000 + "\n")
    with pytest.raises(TraceError, match="field limit") as info:
        read_trace(path)
    assert info.value.line == 3


def test_too_many_tickets_or_bytes_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from triage_queue.sim import trace

    path = tmp_path / "t.csv"
    path.write_text("created,handling_time\n" + "1,1\n" * 4)
    monkeypatch.setattr(trace, "MAX_TRACE_TICKETS", 3)
    with pytest.raises(TraceError, match="MAX_TRACE_TICKETS") as info:
        read_trace(path)
    assert info.value.line == 5
    monkeypatch.setattr(trace, "MAX_TRACE_BYTES", 10)
    with pytest.raises(InvalidSimulation, match="too large"):
        read_trace(path)
    assert MAX_TRACE_TICKETS >= 100_000 and MAX_TRACE_BYTES >= 1 << 20


@pytest.mark.parametrize("ignore", [False, True])
def test_a_csv_header_of_too_many_columns_is_refused(tmp_path: Path, ignore: bool) -> None:
    path = tmp_path / "t.csv"
    path.write_text("created,handling_time" + ",zz" * (MAX_CSV_COLUMNS - 1) + "\n1,1" + "," * (MAX_CSV_COLUMNS - 1) + "\n")
    with pytest.raises(TraceError, match=f"{MAX_CSV_COLUMNS + 1} columns, more than {MAX_CSV_COLUMNS} .MAX_CSV_COLUMNS") as info:
        read_trace(path, ignore_unknown_columns=ignore)
    assert (info.value.line, info.value.column) == (1, None)
    # Commas inside quotes are counted once the csv module has split the (short) header.
    path.write_text('created,handling_time,"a,b"' + ',"z"' * (MAX_CSV_COLUMNS - 2) + "\n")
    with pytest.raises(TraceError, match="MAX_CSV_COLUMNS") as info:
        read_trace(path, ignore_unknown_columns=ignore)
    assert info.value.line == 1
    path.write_text("created,handling_time" + ",zz" * (MAX_CSV_COLUMNS - 2) + "\n1,1" + "," * (MAX_CSV_COLUMNS - 2) + "\n")
    assert len(read_trace(path, ignore_unknown_columns=True).arrivals) == 1


@pytest.mark.parametrize("ignore", [False, True])
def test_a_csv_header_line_over_the_bound_is_refused(tmp_path: Path, ignore: bool) -> None:
    path = tmp_path / "t.csv"
    long_name = "z" * (MAX_CSV_HEADER_CHARS - len("created,handling_time,\n") + 1)
    path.write_text("created,handling_time," + long_name + "\n1,1,\n")
    with pytest.raises(TraceError, match=r"header line of more than .* .MAX_CSV_HEADER_CHARS") as info:
        read_trace(path, ignore_unknown_columns=ignore)
    assert (info.value.line, info.value.column) == (1, None)
    assert len(str(info.value)) < 400
    path.write_text("created,handling_time," + long_name[1:] + "\n1,1,\n")
    assert len(read_trace(path, ignore_unknown_columns=True).arrivals) == 1


def test_a_csv_row_of_too_many_cells_or_characters_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    head = "created,handling_time\n1,1\n"
    path.write_text(head + ",\n" + "," * 100_000 + "\n" + "2,1,3\n")  # rows of empty cells are skipped
    with pytest.raises(TraceError, match=r"expected 2 cells \(as the header\), found 3") as info:
        read_trace(path)
    assert (info.value.line, info.value.column) == (5, None)
    path.write_text(head + "2," + '"x"' + ",x" * 5 + "\n")  # quoted: counted by the csv module
    with pytest.raises(TraceError, match="found 7") as info:
        read_trace(path)
    assert info.value.line == 3
    path.write_text(head + "x" + "," * 100_000 + "\n")  # counted on the line before the csv module splits it
    with pytest.raises(TraceError, match="found 100001") as info:
        read_trace(path)
    assert info.value.line == 3
    assert len(str(info.value)) < 400
    path.write_text(head + "," * MAX_CSV_ROW_CHARS + "\n")
    with pytest.raises(TraceError, match="MAX_CSV_ROW_CHARS") as info:
        read_trace(path)
    assert info.value.line == 3
    path.write_text(head + "2," + '"x' + "\n" * 10 + "x" * (MAX_CSV_ROW_CHARS - 10) + '"\n')
    with pytest.raises(TraceError, match=f"row of more than {MAX_CSV_ROW_CHARS} characters .MAX_CSV_ROW_CHARS") as info:
        read_trace(path)
    assert info.value.line == 3, "a row spanning lines is reported at its first"
    assert len(str(info.value)) < 400
    path.write_text(head + "2," + '"' + "x" * MAX_CSV_ROW_CHARS + '"\n')
    with pytest.raises(TraceError, match="MAX_CSV_ROW_CHARS") as info:
        read_trace(path)
    assert info.value.line == 3


def test_many_empty_jsonl_lines_are_skipped_in_little_memory(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text("\n" * 1_000_000 + '{"created": 1, "handling_time": 1}\n\r\n{"created": -1, "handling_time": 1}\n')
    tracemalloc.start()
    try:
        with pytest.raises(TraceError, match="expected seconds >= 0") as info:
            read_trace(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert info.value.line == 1_000_003
    assert peak < 10_000_000, f"peak {peak} bytes for a 1 MB file"


def test_a_jsonl_line_over_the_bound_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    items = ",".join(["1.5"] * (MAX_JSONL_LINE_CHARS // 4 + 1))
    path.write_text('{"created": 1, "handling_time": 1}\n[' + items + "]\n")
    with pytest.raises(TraceError, match=f"line of more than {MAX_JSONL_LINE_CHARS} characters .MAX_JSONL_LINE_CHARS") as info:
        read_trace(path)
    assert (info.value.line, info.value.column) == (2, None)
    assert len(str(info.value)) < 400
    path.write_text('{"created": 1, "handling_time": 1}\n[' + ",".join(["1.5"] * (MAX_JSONL_LINE_CHARS // 4 - 10)) + "]\n")
    with pytest.raises(TraceError, match="expected a JSON object") as info:
        read_trace(path)
    assert info.value.line == 2
    assert len(str(info.value)) < 400


@pytest.mark.parametrize("jsonl", [False, True])
def test_too_many_follow_ups_are_refused(tmp_path: Path, jsonl: bool) -> None:
    def write(count: int) -> Path:
        if jsonl:
            path = tmp_path / "t.jsonl"
            path.write_text('{"created": 1, "handling_time": 1, "follow_ups": [' + ", ".join(["60"] * count) + "]}\n")
        else:
            path = tmp_path / "t.csv"
            path.write_text("created,handling_time,follow_ups\n1,1," + ";".join(["60"] * count) + ";\n")
        return path

    assert len(read_trace(write(MAX_FOLLOW_UPS)).arrivals[0].follow_ups) == MAX_FOLLOW_UPS
    with pytest.raises(TraceError, match=f"{MAX_FOLLOW_UPS + 1} follow-ups, at most {MAX_FOLLOW_UPS} .*MAX_FOLLOW_UPS") as info:
        read_trace(write(MAX_FOLLOW_UPS + 1))
    assert (info.value.line, info.value.column) == (1 if jsonl else 2, "follow_ups")
    assert len(str(info.value)) < 400
    with pytest.raises(TraceError, match="MAX_FOLLOW_UPS"):
        read_trace(write(30_000))


def test_a_csv_header_of_two_million_columns_is_refused_in_little_memory(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("created" + ",zz" * 2_000_000 + "\n")  # 6 MB, far under MAX_TRACE_BYTES
    for ignore in (False, True):
        start = time.perf_counter()
        tracemalloc.start()
        try:
            with pytest.raises(TraceError, match="MAX_CSV_HEADER_CHARS") as info:
                read_trace(path, ignore_unknown_columns=ignore)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert info.value.line == 1
        assert peak < 50_000_000, f"peak {peak} bytes for a 6 MB file"
        assert time.perf_counter() - start < 2


def test_the_trace_bounds_are_exported_and_sensible() -> None:
    from triage_queue.sim import trace

    for name in ("MAX_CSV_COLUMNS", "MAX_CSV_HEADER_CHARS", "MAX_CSV_ROW_CHARS", "MAX_FOLLOW_UPS", "MAX_JSONL_LINE_CHARS"):
        assert name in trace.__all__
    assert 4 * len(trace.TRACE_COLUMNS) <= MAX_CSV_COLUMNS
    assert len(trace.TRACE_COLUMNS) * 131_072 <= MAX_CSV_ROW_CHARS
    assert MAX_JSONL_LINE_CHARS >= 1 << 20


@pytest.mark.parametrize(("kwargs", "field"), [({"path": None}, "path"), ({"path": 5}, "path"),
                                               ({"path": "t.csv", "staff": 5}, "staff"),
                                               ({"path": "t.csv", "name": 5}, "name")])
def test_read_trace_names_a_bad_argument(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidSimulation) as info:
        read_trace(**kwargs)  # type: ignore[arg-type]
    assert info.value.field == field


# -- fuzzing: byte-mutated examples and generated hostile text ---------------------------

_HOSTILE = st.sampled_from(
    [
        DEEP[:4000],
        "[" * 40 + "]" * 40,
        "{a = " * 40 + "1" + "}" * 40,
        HUGE_INT,
        "-" + HUGE_INT,
        "1e999",
        "nan",
        '"' + "x" * 5000 + '"',
        "5",
        '"5"',
        "true",
        "[]",
        "{}",
        '"99999:00"',
        '"' + HUGE_INT + ':00"',
        "1979-05-27T07:32:00Z",
        "07:32:00",
    ]
)


def _mutate(data: bytes, edits: list[tuple[int, int, bytes]]) -> bytes:
    out = bytearray(data)
    for position, kind, piece in edits:
        at = position % (len(out) + 1)
        if kind == 0 and at < len(out):
            out[at] = piece[0] if piece else 0
        elif kind == 1:
            out[at:at] = piece
        else:
            del out[at : at + len(piece) + 1]
    return bytes(out)


_EDITS = st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 2), st.binary(max_size=8)), min_size=1, max_size=6)


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


@FUZZ
@given(example=st.sampled_from(POLICIES), edits=_EDITS, allow_code=st.booleans())
def test_mutated_policy_files_load_or_raise_invalid_policy(example: Path, edits: list[tuple[int, int, bytes]],
                                                          allow_code: bool) -> None:
    try:
        parse_policy(_text(_mutate(example.read_bytes(), edits)), allow_code=allow_code)
    except InvalidPolicy as exc:
        assert exc.field


@FUZZ
@given(example=st.sampled_from(POLICIES), key=st.sampled_from(["max_wait", "name", "rules", "tiers", "sla", "zzz"]),
       value=_HOSTILE)
def test_hostile_values_in_policy_files_raise_invalid_policy(example: Path, key: str, value: str) -> None:
    text = f"{key} = {value}\n" + example.read_text()
    try:
        parse_policy(text)
    except InvalidPolicy as exc:
        assert len(str(exc)) < 2000


@FUZZ
@given(edits=_EDITS)
def test_mutated_staff_files_load_or_raise_invalid_simulation(edits: list[tuple[int, int, bytes]]) -> None:
    try:
        parse_staff(_text(_mutate(STAFF.read_bytes(), edits)))
    except InvalidSimulation as exc:
        assert exc.field


@FUZZ
@given(
    key=st.sampled_from(["size", "skills", "capacity", "shift", "breaks", "break_groups", "break_stagger",
                         "proficiency_jitter", "dedicated_customers", "name"]),
    value=_HOSTILE,
    agent=st.booleans(),
)
def test_hostile_values_in_staff_files_raise_invalid_simulation(key: str, value: str, agent: bool) -> None:
    if agent:
        text = f'[[agent]]\nid = "a"\nshifts = [{{start = {value}, end = "10:00"}}]\n'
    else:
        base = {"name": '"a"', "size": "2", "shift": '["08:00", "16:00"]'}
        base[key] = value
        text = "[[team]]\n" + "".join(f"{k} = {v}\n" for k, v in base.items())
    try:
        parse_staff(text)
    except InvalidSimulation as exc:
        assert exc.field


_TRACE_HEAD = TRACE.read_bytes()[:3000]


@FUZZ
@given(edits=_EDITS, jsonl=st.booleans())
def test_mutated_traces_load_or_raise_trace_errors(tmp_path: Path, edits: list[tuple[int, int, bytes]], jsonl: bool) -> None:
    if jsonl:
        rows = _TRACE_HEAD.decode().splitlines()
        header = rows[0].split(",")
        lines = []
        for row in rows[1:-1]:
            cells = row.split(",")
            lines.append("{" + ", ".join(f'"{k}": "{v}"' for k, v in zip(header, cells, strict=True) if v) + "}")
        data = ("\n".join(lines) + "\n").encode()
        path = tmp_path / "fuzz.jsonl"
    else:
        data = _TRACE_HEAD.rsplit(b"\n", 1)[0] + b"\n"
        path = tmp_path / "fuzz.csv"
    path.write_bytes(_mutate(data, edits))
    try:
        read_trace(path)
    except InvalidSimulation as exc:  # TraceError, or InvalidSimulation("path") for bytes that are not UTF-8
        assert exc.field


@FUZZ
@given(column=st.sampled_from(["created", "handling_time", "severity", "complexity", "skills", "patience", "follow_ups",
                               "contacts", "sla_due", "id", "tier"]),
       value=_HOSTILE)
def test_hostile_jsonl_values_raise_trace_errors(tmp_path: Path, column: str, value: str) -> None:
    path = tmp_path / "fuzz.jsonl"
    row = {"created": "1", "handling_time": "60", column: value}
    path.write_text("{" + ", ".join(f'"{k}": {v}' for k, v in row.items()) + "}\n")
    try:
        read_trace(path)
    except TraceError as exc:
        assert exc.line == 1
    except InvalidSimulation as exc:
        pytest.fail(f"not a TraceError: {exc!r}")


def test_every_error_above_is_a_triage_error() -> None:
    assert issubclass(TraceError, InvalidSimulation) and issubclass(InvalidSimulation, TriageError)
    assert issubclass(InvalidPolicy, TriageError)


# -- the command line ----------------------------------------------------------------------


def _simulate(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "triage_queue", "simulate", *args, "--out", str(tmp_path / "out"), "--quiet", "--no-plots"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path, check=False,
    )


def _assert_one_line(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("simulate: error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.mark.parametrize(
    ("name", "text", "fragments"),
    [
        ("big-team.toml", '[[team]]\nname = "a"\nsize = 100000000\n', ("MAX_TEAM_SIZE",)),
        ("huge-size.toml", '[[team]]\nname = "a"\nsize = 99999999999999999999\n', ("team[1].size",)),
        ("deep.toml", "a = " + DEEP, ("nested too deeply",)),
        ("digits.toml", f'[[agent]]\nid = "a"\nshifts = [{{start = "{HUGE_INT}:00", end = "10:00"}}]\n', ("start",)),
        ("wrong.toml", "team = 5", ("team",)),
    ],
)
def test_simulate_refuses_hostile_staff_files_in_one_line(
    tmp_path: Path, name: str, text: str, fragments: tuple[str, ...]
) -> None:
    (tmp_path / name).write_text(text)
    _assert_one_line(_simulate(tmp_path, "--policy", str(POLICIES[0]), "--staff", name), name, *fragments)


def test_simulate_refuses_a_hostile_trace_and_a_policy_that_runs_code(tmp_path: Path) -> None:
    (tmp_path / "cell.csv").write_text("created,handling_time,id\n1,1," + "x" * 200_000 + "\n")
    _assert_one_line(_simulate(tmp_path, "--policy", str(POLICIES[0]), "--trace", "cell.csv"), "cell.csv", "line 2")
    (tmp_path / "deep.jsonl").write_text('{"created": ' + DEEP + "}\n")
    _assert_one_line(_simulate(tmp_path, "--policy", str(POLICIES[0]), "--trace", "deep.jsonl"), "nested too deeply")
    (tmp_path / "code.toml").write_text('[[rules]]\nkind = "python"\nobject = "os:system"\n')
    _assert_one_line(_simulate(tmp_path, "--policy", "code.toml"), "--allow-code")
    _assert_one_line(_simulate(tmp_path, "--policy", "code.toml", "--allow-code"), "calling os:system failed")
    (tmp_path / "long.toml").write_text('max_wait = "100000000h"\n[[rules]]\nkind = "emergency"\n')
    _assert_one_line(_simulate(tmp_path, "--policy", "long.toml"), "MAX_DURATION")


def test_simulate_refuses_a_mutated_example_staff_file(tmp_path: Path) -> None:
    text = STAFF.read_text().replace("size = 10\n", "size = 99999999999999999999\n", 1)
    (tmp_path / "helpdesk.toml").write_text(text)
    _assert_one_line(_simulate(tmp_path, "--policy", str(POLICIES[0]), "--staff", "helpdesk.toml"), "MAX_TEAM_SIZE")


def test_simulate_refuses_a_huge_scale(tmp_path: Path) -> None:
    _assert_one_line(_simulate(tmp_path, "--policy", str(POLICIES[0]), "--scale", "1e9"), "scale")


def test_bench_with_an_unknown_scenario_is_a_usage_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "triage_queue", "bench", "--quick", "--quiet", "--only", "nothing", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [result.stderr.strip()] and "unknown scenario 'nothing'" in result.stderr
    assert "Traceback" not in result.stderr
