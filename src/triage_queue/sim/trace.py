"""Recorded days: read a trace of tickets (CSV or JSON Lines) into a
:class:`~triage_queue.sim.model.Day`, write a day back out, and read a
roster with shifts from a TOML staff file.

A trace has one ticket per row (CSV, with a header line) or per line
(JSON Lines, one object each).  Columns, in any order:

==============  ========  ===============================================
column          needed    meaning
==============  ========  ===============================================
created         yes       arrival instant: seconds (a number >= 0), or an
                          ISO-8601 timestamp (see below)
handling_time   yes       seconds of an agent's work (> 0)
id              no        ticket id (default ``L<line number>``)
class           no        ticket class for the report (default ``default``)
severity        no        ``low``, ``normal``, ``high``, ``critical`` or 1..4
tier            no        customer tier (``gold``); empty: standard
complexity      no        1..5
skills          no        ``billing:3;refunds`` (level 1 when omitted)
customer        no        customer id
channel         no        ``chat``, ``email``, ``phone``...
patience        no        seconds before the customer gives up (> 0)
follow_ups      no        seconds after arrival of each further contact,
                          ``300;900``
contacts        no        contacts already made at arrival (>= 1)
sla_due         no        answer-by instant, in the same units as created
==============  ========  ===============================================

``created_at``, ``ticket_class``, ``customer_tier`` and ``customer_id`` are
accepted as the names of the same columns.  An empty cell means "not
given".  **Timestamps**: every ``created`` of a file must be of one kind.
Numbers are seconds as they are; ISO-8601 timestamps
(``2026-03-02T08:15:00+01:00``) become seconds since midnight of the
earliest timestamp's date, in that timestamp's own offset, so a day
starting at 08:00 starts at 28800 s whatever the date (``sla_due`` follows
the same rule).  Naive and zone-aware timestamps may not be mixed.

Any bad row raises :class:`TraceError` naming the file, line (1 is the
CSV header) and column, and the bad value.

>>> import pathlib, tempfile
>>> path = pathlib.Path(tempfile.mkdtemp()) / "day.csv"
>>> _ = path.write_text("created,severity,skills,handling_time\\n0,high,billing:3,300\\n60,urgent,,120\\n")
>>> read_trace(path)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
triage_queue.sim.trace.TraceError: ...day.csv, line 3, column 'severity': 'urgent': expected one of low, normal, ...
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
import os
import random
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Final

from triage_queue.agents import Agent
from triage_queue.config import MAX_NESTING, _depth, _read_file, _short, _toml
from triage_queue.errors import InvalidValue
from triage_queue.sim.generate import Team, parse_skills
from triage_queue.sim.model import MAX_AGENTS, MAX_HOURS, MAX_TEAM_SIZE, Arrival, Day, InvalidSimulation, Shift, Staff
from triage_queue.ticket import Severity, SkillSet, Ticket

__all__ = [
    "MAX_CSV_COLUMNS",
    "MAX_CSV_HEADER_CHARS",
    "MAX_CSV_ROW_CHARS",
    "MAX_FOLLOW_UPS",
    "MAX_JSONL_LINE_CHARS",
    "MAX_STAFF_BYTES",
    "MAX_TRACE_BYTES",
    "MAX_TRACE_TICKETS",
    "TRACE_COLUMNS",
    "TraceError",
    "load_staff",
    "parse_staff",
    "read_trace",
    "write_trace",
]

TRACE_COLUMNS: tuple[str, ...] = (
    "id",
    "created",
    "class",
    "severity",
    "tier",
    "complexity",
    "skills",
    "customer",
    "channel",
    "handling_time",
    "patience",
    "follow_ups",
    "contacts",
    "sla_due",
)
"""The columns a trace may have, in the order :func:`write_trace` writes them."""

MAX_TRACE_TICKETS: Final = 200_000
"""The most tickets (rows) a trace may hold: reading one costs about 2 kB
of memory and 40 microseconds per ticket, simulating it more."""

MAX_TRACE_BYTES: Final = 64 << 20
"""The largest trace file read, in bytes: 64 MiB (200,000 rows of about
300 bytes)."""

MAX_STAFF_BYTES: Final = 1 << 20
"""The largest staff file (or text) read, in bytes or characters: 1 MiB."""

MAX_CSV_HEADER_CHARS: Final = 64 << 10
"""The longest CSV header line of a trace, in characters: 64 KiB."""

MAX_CSV_COLUMNS: Final = 256
"""The most columns (header cells) of a CSV trace: room for an export
with many columns read with ``ignore_unknown_columns``."""

MAX_CSV_ROW_CHARS: Final = 16 * 131_072
"""The longest row of a CSV trace (all its lines, for a quoted cell with
line breaks), in characters: 2 MiB, 16 cells of the csv module's default
field limit."""

MAX_JSONL_LINE_CHARS: Final = 1 << 20
"""The longest line of a JSON Lines trace, in characters: 1 MiB."""

MAX_FOLLOW_UPS: Final = 100
"""The most ``follow_ups`` of one ticket in a trace."""

_MAX_ENTRIES: Final = 100  # skills, capacity channels, breaks or shifts of one team or agent
_MAX_CLOCK_DIGITS: Final = 6  # digits of each part of "HH:MM:SS"

_ALIASES = {"created_at": "created", "ticket_class": "class", "customer_tier": "tier", "customer_id": "customer"}
_REQUIRED = ("created", "handling_time")


class TraceError(InvalidSimulation):
    """A trace or staff file has a bad value.  ``path``, ``line`` (1-based;
    the CSV header is line 1) and ``column`` say where (``column`` is None
    when the whole line is wrong), ``value`` what was found and ``reason``
    what was expected.

    >>> str(TraceError("day.csv", 7, "tier", "", "expected a name"))
    "day.csv, line 7, column 'tier': '': expected a name"
    """

    def __init__(self, path: str | os.PathLike[str], line: int, column: str | None, value: Any, reason: str) -> None:
        super().__init__(column or "line", value, reason)
        self.path = str(path)
        self.line = line
        self.column = column
        where = f"{self.path}, line {line}" + (f", column {column!r}" if column is not None else "")
        self.args = (f"{where}: {_short(value)!r}: {reason}",)


# -- cell readers ---------------------------------------------------------------------
# Each takes the raw cell (a str from CSV, any JSON value from JSON Lines)
# and returns the value, or raises ValueError/InvalidValue with a reason.


def _number(raw: Any) -> float:
    if isinstance(raw, bool):
        raise ValueError("expected a number")
    if isinstance(raw, int | float):
        try:
            value = float(raw)
        except OverflowError:  # a JSON integer too large for a float
            raise ValueError("expected a finite number") from None
    else:
        try:
            value = float(str(raw).strip())
        except ValueError:
            raise ValueError("expected a number") from None
    if not math.isfinite(value):
        raise ValueError("expected a finite number")
    return value


def _seconds(raw: Any) -> float:
    value = _number(raw)
    if value < 0:
        raise ValueError("expected seconds >= 0")
    return value


def _positive_seconds(raw: Any) -> float:
    value = _number(raw)
    if value <= 0:
        raise ValueError("expected seconds > 0")
    return value


def _integer(raw: Any, low: int, high: int | None) -> int:
    if isinstance(raw, bool):
        raise ValueError("expected an int")
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    if isinstance(raw, int):
        value = raw
    else:
        try:
            value = int(str(raw).strip())
        except ValueError:
            raise ValueError(f"expected an int {low}..{high}" if high else f"expected an int >= {low}") from None
    if value < low or (high is not None and value > high):
        raise ValueError(f"expected an int {low}..{high}" if high else f"expected an int >= {low}")
    return value


def _text(raw: Any) -> str:
    if not isinstance(raw, str | int) or isinstance(raw, bool):
        raise ValueError("expected text")
    return str(raw).strip()


def _skills(raw: Any) -> SkillSet:
    if isinstance(raw, str):
        return parse_skills(raw)
    if isinstance(raw, Mapping | list):
        return SkillSet(raw)
    raise ValueError('expected "name:level;name" text, an object or a list of names')


def _follow_ups(raw: Any) -> tuple[float, ...]:
    parts = raw if isinstance(raw, list) else [p for p in str(raw).replace(",", ";").split(";") if p.strip()]
    if len(parts) > MAX_FOLLOW_UPS:
        raise ValueError(f"{len(parts)} follow-ups, at most {MAX_FOLLOW_UPS} per ticket (MAX_FOLLOW_UPS)")
    try:
        return tuple(_positive_seconds(p) for p in parts)
    except ValueError:
        raise ValueError("expected seconds > 0 after arrival, separated by ';'") from None


_INSTANT_REASON = "expected seconds >= 0 or an ISO-8601 timestamp"


def _instant(raw: Any) -> float | dt.datetime:
    # A JSON true is an int to Python; it is neither seconds nor a timestamp.
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise ValueError(_INSTANT_REASON)
    if not isinstance(raw, str):
        return _seconds(raw)
    text = raw.strip()
    try:
        return _seconds(text)
    except ValueError:
        pass
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(_INSTANT_REASON) from None


def _severity(raw: Any) -> Severity:
    # A CSV cell is always text and JSON may write 4 as 4.0, while
    # Severity.parse takes numbers only as ints.
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    elif isinstance(raw, str) and raw.strip().isascii() and raw.strip().isdigit():
        raw = int(raw.strip())
    return Severity.parse(raw)


_READERS: dict[str, Callable[[Any], Any]] = {
    "id": _text,
    "created": _instant,
    "class": _text,
    "severity": _severity,
    "tier": _text,
    "complexity": lambda raw: _integer(raw, 1, 5),
    "skills": _skills,
    "customer": _text,
    "channel": _text,
    "handling_time": _positive_seconds,
    "patience": _positive_seconds,
    "follow_ups": _follow_ups,
    "contacts": lambda raw: _integer(raw, 1, None),
    "sla_due": _instant,
}


# -- reading ---------------------------------------------------------------------------


def _format_of(path: Path, format: str | None) -> str:
    if format is not None:
        if format not in ("csv", "jsonl"):
            raise InvalidSimulation("format", format, "expected 'csv' or 'jsonl'")
        return format
    suffix = path.suffix.lower()
    if suffix in (".csv",):
        return "csv"
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    raise InvalidSimulation("format", suffix or path.name, "cannot tell the format: name the file .csv or .jsonl, or give format")


def _canonical(path: Path, line: int, name: str, ignore_unknown: bool) -> str | None:
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    if key not in _READERS:
        if ignore_unknown:
            return None
        raise TraceError(path, line, name, name, f"unknown column; expected some of {', '.join(TRACE_COLUMNS)}")
    return key


_CHUNK: Final = 1 << 16  # characters of a trace split into lines at a time
_SMALL: Final = 4096  # a CSV line the csv module may split before its cells are counted
_CSV_LINE: Final = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")
_CSV_NEWLINE: Final = re.compile(r"\r\n|\r|\n")
_CSV_BLANK: Final = re.compile(r"[\r\n]+")


class _CsvLines:
    """The lines of a CSV text for ``csv.reader``: ends kept, split at
    ``\\r\\n``, ``\\r`` or ``\\n`` (as a file opened with ``newline=""``),
    a chunk at a time.  The reader sets ``limit`` (characters of one row,
    all its lines), ``cells`` (most cells of one row) and ``header``, and
    ``used = 0`` when it has a row; a line over a bound is refused before
    the csv module builds its row, so no row costs more than ``limit``."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.text = text
        self.line = 0  # lines handed out so far
        self.first = 1  # the line the row being read starts on
        self.used = 0  # characters of the row being read
        self.limit: int = MAX_CSV_HEADER_CHARS
        self.cells: int = MAX_CSV_COLUMNS
        self.header = True

    def _too_long(self, value: str) -> TraceError:
        if self.header:
            reason = f"a header line of more than {MAX_CSV_HEADER_CHARS} characters (MAX_CSV_HEADER_CHARS)"
        else:
            reason = f"a row of more than {MAX_CSV_ROW_CHARS} characters (MAX_CSV_ROW_CHARS)"
        return TraceError(self.path, self.first, None, value, reason)

    def _take(self, line: str) -> str:
        if self.used == 0:
            self.first = self.line + 1
            # A long first line of a row without quotes: every comma starts a
            # cell, so too many are refused before the csv module builds them.
            if len(line) > _SMALL and '"' not in line and line.count(",") >= self.cells:
                if not self.header and not line.replace(",", "").strip():
                    line = "\n"  # empty cells only: skipped as a blank line, as the reader would
                else:
                    cells = line.count(",") + 1
                    reason = (f"{cells} columns, more than {MAX_CSV_COLUMNS} (MAX_CSV_COLUMNS)" if self.header
                              else f"expected {self.cells} cells (as the header), found {cells}")
                    raise TraceError(self.path, self.first, None, line[:80], reason)
        self.used += len(line)
        if self.used > self.limit:
            raise self._too_long(line[:80])
        self.line += 1
        return line

    def __iter__(self) -> Iterator[str]:
        text, n, pos = self.text, len(self.text), 0
        while pos < n:
            stop = pos + _CHUNK
            if stop >= n:
                cut = n
            else:
                cut = max(text.rfind("\n", pos, stop), text.rfind("\r", pos, stop)) + 1
                if cut == 0:  # no line break in a chunk: one long line, looked at up to the bound
                    room = self.limit - self.used
                    match = _CSV_NEWLINE.search(text, pos, pos + room + 1)
                    end = match.end() if match else n
                    if end - pos > room:
                        if self.used == 0:
                            self.first = self.line + 1
                        raise self._too_long(text[pos : pos + 80])
                    yield self._take(text[pos:end])
                    pos = end
                    continue
                if text[cut - 1] == "\r" and text.startswith("\n", cut):
                    cut += 1
            if self.used == 0 and not self.header and _CSV_BLANK.fullmatch(text, pos, cut):
                # Empty lines between rows, which the reader skips: counted at once.
                self.line += text.count("\n", pos, cut) + text.count("\r", pos, cut) - text.count("\r\n", pos, cut)
            else:
                for line in _CSV_LINE.findall(text, pos, cut):
                    yield self._take(line)
            pos = cut


def _csv_rows(path: Path, text: str, ignore_unknown: bool) -> Iterator[tuple[int, dict[str, Any]]]:
    lines = _CsvLines(path, text)
    reader = csv.reader(lines)
    try:
        header = next(reader)
    except StopIteration:
        raise TraceError(path, 1, None, "", "empty file: expected a header line") from None
    except csv.Error as exc:
        raise TraceError(path, 1, None, "", _csv_problem(exc)) from None
    if len(header) > MAX_CSV_COLUMNS:  # quoted cells with commas
        raise TraceError(path, 1, None, header, f"{len(header)} columns, more than {MAX_CSV_COLUMNS} (MAX_CSV_COLUMNS)")
    keys = [_canonical(path, 1, name, ignore_unknown) for name in header]
    present = [k for k in keys if k is not None]
    for key in set(present):
        if present.count(key) > 1:
            raise TraceError(path, 1, key, header, "column given twice")
    for key in _REQUIRED:
        if key not in present:
            raise TraceError(path, 1, key, header, "required column missing")
    lines.header, lines.limit, lines.cells, lines.used = False, MAX_CSV_ROW_CHARS, len(header), 0
    while True:
        # A row is reported at its first line (a quoted cell may span lines).
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise TraceError(path, lines.first, None, "", _csv_problem(exc)) from None
        line, lines.used = lines.first, 0
        if not cells or all(not c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            raise TraceError(path, line, None, cells, f"expected {len(header)} cells (as the header), found {len(cells)}")
        yield line, {k: c for k, c in zip(keys, cells, strict=True) if k is not None and c.strip() != ""}


def _csv_problem(exc: csv.Error) -> str:
    # The csv module's field limit (csv.field_size_limit(), 131,072 characters by default).
    return f"not valid CSV: {exc}"


def _jsonl_lines(path: Path, text: str) -> Iterator[tuple[int, str]]:
    """The numbered lines of a JSON Lines text, split at ``\\n`` a chunk at
    a time; a line over :data:`MAX_JSONL_LINE_CHARS` is refused before it
    is copied.  Not str.splitlines(): it also breaks at U+2028, \\x85,
    \\x0c..., which JSON allows raw inside strings."""
    n, pos, line = len(text), 0, 0
    while pos < n:
        stop = pos + _CHUNK
        cut = n if stop >= n else text.rfind("\n", pos, stop)
        if cut >= 0:
            chunk = text[pos:cut]
            if chunk.isspace():  # blank lines only, all skipped: counted at once
                line += chunk.count("\n") + 1
            else:
                for piece in chunk.split("\n"):
                    line += 1
                    yield line, piece
        else:  # no line break in a chunk: one long line, looked at up to the bound
            cut = text.find("\n", pos, pos + MAX_JSONL_LINE_CHARS + 1)
            if cut < 0:
                if n - pos > MAX_JSONL_LINE_CHARS:
                    reason = f"a line of more than {MAX_JSONL_LINE_CHARS} characters (MAX_JSONL_LINE_CHARS)"
                    raise TraceError(path, line + 1, None, text[pos : pos + 80], reason)
                cut = n
            line += 1
            yield line, text[pos:cut]
        pos = cut + 1


def _jsonl_rows(path: Path, text: str, ignore_unknown: bool) -> Iterator[tuple[int, dict[str, Any]]]:
    for line, raw_line in _jsonl_lines(path, text):
        raw = raw_line.removesuffix("\r")
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise TraceError(path, line, None, raw[:80], f"not valid JSON ({exc.msg})") from None
        except RecursionError:
            raise TraceError(path, line, None, raw[:80], _TOO_DEEP) from None
        except ValueError as exc:  # an integer of more digits than sys.get_int_max_str_digits()
            raise TraceError(path, line, None, raw[:80], f"not valid JSON ({str(exc).split(';')[0]})") from None
        if _depth(record) > MAX_NESTING:
            raise TraceError(path, line, None, raw[:80], _TOO_DEEP)
        if not isinstance(record, dict):
            raise TraceError(path, line, None, record, "expected a JSON object")
        row: dict[str, Any] = {}
        for name, value in record.items():
            key = _canonical(path, line, name, ignore_unknown)
            if key is None or value is None or value == "":
                continue
            if key in row:
                raise TraceError(path, line, name, value, "column given twice")
            row[key] = value
        for key in _REQUIRED:
            if key not in row:
                raise TraceError(path, line, key, None, "required value missing")
        yield line, row


_TOO_DEEP: Final = f"arrays or objects nested too deeply (at most {MAX_NESTING})"


def _path(path: Any) -> Path:
    if isinstance(path, bytes) or not isinstance(path, str | os.PathLike):
        raise InvalidSimulation("path", _short(path), f"expected a file path (str or os.PathLike), not {type(path).__name__}")
    return Path(path)


def _read_text(path: Path, limit: int) -> str:
    """The file's UTF-8 text (a byte order mark dropped), at most ``limit`` bytes."""
    return _read_file(path, InvalidSimulation, limit)[1]


def _read_trace_text(path: Path) -> str:
    """The trace file's UTF-8 text (a byte order mark dropped), at most
    :data:`MAX_TRACE_BYTES` bytes.  As ``config._read_file``, but the read
    buffer is sized by the file, not by the bound: ``read(limit + 1)``
    would allocate 64 MiB for every trace."""
    source = str(path)
    try:
        with open(source, "rb") as stream:
            first = min(os.fstat(stream.fileno()).st_size, MAX_TRACE_BYTES) + 1
            raw = stream.read(first)
            if len(raw) == first <= MAX_TRACE_BYTES:  # grown since, or not a regular file
                raw += stream.read(MAX_TRACE_BYTES + 1 - first)
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        raise InvalidSimulation("path", source, f"cannot read it: {getattr(exc, 'strerror', None) or exc}") from None
    if len(raw) > MAX_TRACE_BYTES:
        raise InvalidSimulation("path", source, f"too large: more than {MAX_TRACE_BYTES} bytes")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidSimulation("path", source, f"not UTF-8 text: {exc}") from None


def _midnight_before(instants: list[dt.datetime]) -> dt.datetime:
    first = min(instants)
    return first.replace(hour=0, minute=0, second=0, microsecond=0)


def read_trace(
    path: str | os.PathLike[str],
    *,
    staff: Iterable[Staff] = (),
    format: str | None = None,
    name: str | None = None,
    ignore_unknown_columns: bool = False,
) -> Day:
    """Read a trace (format from the extension, ``.csv`` or ``.jsonl``,
    unless ``format`` says ``"csv"`` or ``"jsonl"``) into a Day worked by
    ``staff`` (a trace records no staff) and named ``name`` (default: the
    file's stem).  A column not listed in :data:`TRACE_COLUMNS` is an error,
    so a misspelt name cannot silently drop data, unless
    ``ignore_unknown_columns``.

    Raises :class:`TraceError` for a bad row or header (file, line, column,
    value), :class:`InvalidSimulation` (field ``path``) if the file cannot
    be read or its format cannot be told.  Bounds: at most
    :data:`MAX_TRACE_BYTES` bytes and :data:`MAX_TRACE_TICKETS` rows; a CSV
    header of at most :data:`MAX_CSV_HEADER_CHARS` characters and
    :data:`MAX_CSV_COLUMNS` columns, a CSV row of at most
    :data:`MAX_CSV_ROW_CHARS` characters and a cell of at most
    ``csv.field_size_limit()``; a JSON line of at most
    :data:`MAX_JSONL_LINE_CHARS` characters, nested at most
    :data:`~triage_queue.config.MAX_NESTING` deep; at most
    :data:`MAX_FOLLOW_UPS` follow-ups per ticket; instants and durations of
    at most :data:`~triage_queue.sim.model.MAX_HOURS` hours.  The file is
    read whole and split into lines lazily, so memory stays about the
    file's size (its bytes, then its text) plus one row.  A blank line (or
    a CSV line of empty cells) is skipped.
    Runtime complexity: O(n log n) for n rows.

    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "day.jsonl"
    >>> _ = path.write_text('{"created": "2026-03-02T08:00:30", "handling_time": 90, "skills": {"billing": 2}}\\n')
    >>> day = read_trace(path)
    >>> day.arrivals[0].time, day.arrivals[0].ticket.id, dict(day.arrivals[0].ticket.skills)
    (28830.0, 'L1', {'billing': 2})
    """
    path = _path(path)
    if isinstance(staff, str | bytes) or not isinstance(staff, Iterable):
        raise InvalidSimulation("staff", _short(staff), "expected a sequence of Staff values")
    if name is not None and not isinstance(name, str):
        raise InvalidSimulation("name", _short(name), "expected a str or None")
    kind = _format_of(path, format)
    text = _read_trace_text(path)
    rows = _csv_rows(path, text, ignore_unknown_columns) if kind == "csv" else _jsonl_rows(path, text, ignore_unknown_columns)
    drafts: list[tuple[int, dict[str, Any]]] = []
    timestamps: list[dt.datetime] = []
    kind_of_time: tuple[str, bool] | None = None  # ("number" | "timestamp", zone-aware), fixed by the first row
    for line, row in rows:
        if len(drafts) == MAX_TRACE_TICKETS:
            raise TraceError(path, line, None, "", f"more than {MAX_TRACE_TICKETS} tickets (MAX_TRACE_TICKETS)")
        values: dict[str, Any] = {}
        for key, raw in row.items():
            try:
                values[key] = _READERS[key](raw)
            except (ValueError, InvalidValue) as exc:
                reason = exc.reason if isinstance(exc, InvalidValue) else str(exc)
                raise TraceError(path, line, key, raw, reason) from None
        for key in ("created", "sla_due"):
            instant = values.get(key)
            if instant is None:
                continue
            this = ("timestamp", instant.tzinfo is not None) if isinstance(instant, dt.datetime) else ("number", False)
            if kind_of_time is None:
                kind_of_time = this
            elif this != kind_of_time:
                first = "zone-aware timestamps" if kind_of_time == ("timestamp", True) else (
                    "timestamps without a zone" if kind_of_time[0] == "timestamp" else "numbers of seconds"
                )
                reason = f"every instant of a trace must be of one kind; earlier rows use {first}"
                raise TraceError(path, line, key, row[key], reason)
            if isinstance(instant, dt.datetime):
                timestamps.append(instant)
        drafts.append((line, values))
    origin = _midnight_before(timestamps) if timestamps else None
    arrivals: list[Arrival] = []
    seen: dict[str, int] = {}
    for line, values in drafts:
        ticket_id = values.get("id") or f"L{line}"
        if ticket_id in seen:
            raise TraceError(path, line, "id", ticket_id, f"ticket id already used on line {seen[ticket_id]}")
        seen[ticket_id] = line
        instants = {}
        for key in ("created", "sla_due"):
            instant = values.get(key)
            if isinstance(instant, dt.datetime):
                assert origin is not None
                instant = (instant - origin).total_seconds()
            instants[key] = instant
        try:
            ticket = Ticket(
                ticket_id,
                instants["created"],
                severity=values.get("severity", Severity.NORMAL),
                customer_tier=values.get("tier") or None,
                complexity=values.get("complexity", 1),
                skills=values.get("skills"),
                contacts=values.get("contacts", 1),
                sla_due=instants["sla_due"],
                customer_id=values.get("customer") or None,
                channel=values.get("channel") or None,
            )
            arrival = Arrival(
                ticket,
                handling_time=values["handling_time"],
                ticket_class=values.get("class") or "default",
                patience=values.get("patience"),
                follow_ups=values.get("follow_ups", ()),
            )
        except InvalidValue as exc:
            column = {"created_at": "created", "ticket_class": "class", "customer_tier": "tier"}.get(exc.field, exc.field)
            raise TraceError(path, line, column, exc.value, exc.reason) from None
        arrivals.append(arrival)
    return Day(arrivals, tuple(staff), name=name if name is not None else path.stem)


# -- writing ---------------------------------------------------------------------------


def _skills_text(skills: SkillSet) -> str:
    return ";".join(name if level == 1 else f"{name}:{level}" for name, level in skills.items())


def _row(arrival: Arrival) -> dict[str, Any]:
    t = arrival.ticket
    return {
        "id": t.id,
        "created": t.created_at,
        "class": arrival.ticket_class,
        "severity": t.severity.name.lower(),
        "tier": t.customer_tier,
        "complexity": t.complexity,
        "skills": _skills_text(t.skills),
        "customer": t.customer_id,
        "channel": t.channel,
        "handling_time": arrival.handling_time,
        "patience": arrival.patience,
        "follow_ups": list(arrival.follow_ups),
        "contacts": t.contacts,
        "sla_due": t.sla_due,
    }


def _check_writable(arrival: Arrival) -> None:
    """Raise InvalidSimulation for a value that read_trace would not read
    back as written: text cells are stripped on reading (and a CSV's line
    breaks normalised), skill names are split at the notation's separators."""
    t = arrival.ticket
    if t.attributes or t.preferred_skills or t.relax_after is not None:
        raise InvalidSimulation("arrivals", t.id, "attributes, preferred_skills and relax_after cannot be written to a trace")
    texts = (("id", t.id), ("class", arrival.ticket_class), ("tier", t.customer_tier),
             ("customer", t.customer_id), ("channel", t.channel))
    for field, value in texts:
        if value is not None and (value != value.strip() or any(c in value for c in "\r\n")):
            raise InvalidSimulation(
                field, value, f"ticket {t.id!r}: leading or trailing spaces and line breaks cannot be written to a trace"
            )
    for skill in t.skills:
        if skill != skill.strip() or any(c in skill for c in ":;,\r\n"):
            raise InvalidSimulation(
                "skills", skill,
                f"ticket {t.id!r}: a skill name with ':', ';', ',', a line break or leading or trailing spaces "
                "cannot be written to a trace",
            )


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)  # the shortest text that reads back to the same float
    if isinstance(value, list):
        return ";".join(repr(v) for v in value)
    return str(value)


def write_trace(day: Day, path: str | os.PathLike[str], *, format: str | None = None) -> None:
    """Write ``day``'s arrivals as a trace that :func:`read_trace` reads
    back to equal arrivals (floats are written exactly).  Staff are not
    written.  A ticket's ``attributes``, ``preferred_skills`` and
    ``relax_after`` have no column, and reading strips text cells and splits
    skills at ``:``, ``;`` and ``,``: a day using those fields, or whose id,
    class, tier, customer or channel has leading or trailing spaces or a
    line break, or whose skill name holds a separator, raises
    :class:`InvalidSimulation` naming the field and ticket before anything
    is written.

    Runtime complexity: O(n) for n arrivals.

    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "copy.csv"
    >>> day = Day([Arrival(Ticket("T-1", 12.5, skills={"billing": 2}), handling_time=60.0)], [])
    >>> write_trace(day, path)
    >>> read_trace(path).arrivals == day.arrivals
    True
    """
    path = Path(path)
    kind = _format_of(path, format)
    for arrival in day.arrivals:
        _check_writable(arrival)
    with path.open("w", encoding="utf-8", newline="") as out:
        if kind == "csv":
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(TRACE_COLUMNS)
            for arrival in day.arrivals:
                row = _row(arrival)
                writer.writerow([_cell(row[c]) for c in TRACE_COLUMNS])
        else:
            for arrival in day.arrivals:
                row = {k: v for k, v in _row(arrival).items() if v is not None and v not in ([], "")}
                out.write(json.dumps(row) + "\n")


# -- staff files ------------------------------------------------------------------------


def _clock(where: str, value: Any) -> float:
    """Seconds from a number, "HH:MM[:SS]" or a TOML local time."""
    if isinstance(value, dt.time):
        return value.hour * 3600.0 + value.minute * 60.0 + value.second + value.microsecond / 1e6
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return float(value)
        except OverflowError:  # an int too large for a float
            raise InvalidSimulation(where, value, f"more than {MAX_HOURS} hours (MAX_HOURS)") from None
    if isinstance(value, str):
        parts = value.strip().split(":")
        if 2 <= len(parts) <= 3 and all(p.strip().isdigit() and len(p.strip()) <= _MAX_CLOCK_DIGITS for p in parts):
            numbers = [int(p) for p in parts] + [0]
            if numbers[1] < 60 and numbers[2] < 60:
                return numbers[0] * 3600.0 + numbers[1] * 60.0 + numbers[2]
    raise InvalidSimulation(where, value, 'expected seconds or a time "HH:MM" or "HH:MM:SS"')


def _entries(where: str, value: Any) -> None:
    """Refuse a list or table of more than _MAX_ENTRIES items: a team copies
    it for each of its members."""
    if isinstance(value, list | dict) and len(value) > _MAX_ENTRIES:
        raise InvalidSimulation(where, f"{len(value)} entries", f"at most {_MAX_ENTRIES} per team or agent")


def _pairs(where: str, value: Any) -> list[tuple[float, float]]:
    if not isinstance(value, list):
        raise InvalidSimulation(where, value, "expected a list of [start, end] pairs")
    _entries(where, value)
    result = []
    for i, pair in enumerate(value):
        if not isinstance(pair, list) or len(pair) != 2:
            raise InvalidSimulation(f"{where}[{i}]", pair, "expected a [start, end] pair")
        result.append((_clock(f"{where}[{i}]", pair[0]), _clock(f"{where}[{i}]", pair[1])))
    return result


def _shift_pair(where: str, value: Any) -> tuple[float, float]:
    """A team's ``shift = [start, end]``; every mistake is reported under
    ``where`` with the pair as written, since ``shift`` is one key."""
    if not isinstance(value, list) or len(value) != 2:
        raise InvalidSimulation(where, value, "expected a [start, end] pair")
    try:
        start, end = _clock(where, value[0]), _clock(where, value[1])
    except InvalidSimulation as exc:
        raise InvalidSimulation(where, value, f"{exc.value!r}: {exc.reason}") from None
    if end <= start:
        raise InvalidSimulation(where, value, "a shift must end after it starts")
    return start, end


def _check_keys(where: str, table: Any, allowed: set[str], required: set[str]) -> None:
    if not isinstance(table, dict):
        raise InvalidSimulation(where, table, "expected a table")
    for key in table:
        if key not in allowed:
            raise InvalidSimulation(f"{where}.{key}", table[key], f"unknown key; expected some of {', '.join(sorted(allowed))}")
    for key in sorted(required - set(table)):
        raise InvalidSimulation(f"{where}.{key}", None, "required key missing")


def _skills_value(where: str, value: Any) -> Any:
    _entries(where, value)
    if isinstance(value, str) and value.count(";") + value.count(",") >= _MAX_ENTRIES:
        raise InvalidSimulation(where, _short(value), f"at most {_MAX_ENTRIES} skills per team or agent")
    try:
        return parse_skills(value) if isinstance(value, str) else SkillSet(value)
    except InvalidValue as exc:
        raise InvalidSimulation(where, value, exc.reason) from None


_TEAM_KEYS = {"name", "size", "skills", "capacity", "shift", "breaks", "break_groups", "break_stagger",
              "proficiency_jitter", "dedicated_customers"}
_AGENT_KEYS = {"id", "skills", "capacity", "shifts", "dedicated_customers"}
_SHIFT_KEYS = {"start", "end", "breaks"}


def _team(where: str, table: Any, agents: int) -> Team:
    """The team of ``table``; ``agents`` are on the roster already."""
    _check_keys(where, table, _TEAM_KEYS, {"name", "size"})
    size = table["size"]
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise InvalidSimulation(f"{where}.size", size, "expected an int >= 1")
    if size > MAX_TEAM_SIZE:
        raise InvalidSimulation(f"{where}.size", size, f"expected at most {MAX_TEAM_SIZE} members (MAX_TEAM_SIZE)")
    if agents + size > MAX_AGENTS:
        raise InvalidSimulation(f"{where}.size", size, f"more than {MAX_AGENTS} agents in all (MAX_AGENTS)")
    _entries(f"{where}.capacity", table.get("capacity"))
    start: float = 0.0
    end: float | None = None
    if "shift" in table:
        start, end = _shift_pair(f"{where}.shift", table["shift"])
    elif "breaks" in table:
        raise InvalidSimulation(f"{where}.breaks", table["breaks"], "breaks need a shift")
    options: dict[str, Any] = {}
    for key in ("size", "break_groups", "proficiency_jitter"):
        if key in table:
            options[key] = table[key]
    if "break_stagger" in table:
        options["break_stagger"] = _clock(f"{where}.break_stagger", table["break_stagger"])
    return Team(
        name=table["name"],
        skills=_skills_value(f"{where}.skills", table.get("skills", ())),
        capacity=table.get("capacity", 1),
        start=start,
        end=end,
        breaks=_pairs(f"{where}.breaks", table.get("breaks", [])),
        dedicated_customers=table.get("dedicated_customers", ()),
        **options,
    )


def _agent(where: str, table: Any) -> Staff:
    _check_keys(where, table, _AGENT_KEYS, {"id"})
    shifts = []
    listed = table.get("shifts", [])
    if not isinstance(listed, list):
        # Iterating a table or a string would blame its keys or characters.
        raise InvalidSimulation(f"{where}.shifts", listed, "expected an array of tables")
    _entries(f"{where}.shifts", listed)
    _entries(f"{where}.capacity", table.get("capacity"))
    for i, shift in enumerate(listed):
        here = f"{where}.shifts[{i}]"
        _check_keys(here, shift, _SHIFT_KEYS, {"start", "end"})
        try:
            shifts.append(
                Shift(_clock(f"{here}.start", shift["start"]), _clock(f"{here}.end", shift["end"]),
                      breaks=_pairs(f"{here}.breaks", shift.get("breaks", [])))
            )
        except InvalidSimulation as exc:
            if exc.field.startswith(where):
                raise
            # Shift saw seconds; the user wrote the key's own value ("08:00").
            written = shift[exc.field] if exc.field in ("start", "end") else exc.value
            raise InvalidSimulation(f"{here}.{exc.field}", written, exc.reason) from None
    try:
        agent = Agent(
            table["id"],
            skills=_skills_value(f"{where}.skills", table.get("skills", ())),
            capacity=table.get("capacity", 1),
            dedicated_customers=table.get("dedicated_customers", ()),
        )
        return Staff(agent, shifts)
    except InvalidValue as exc:
        if exc.field.startswith(where):
            raise
        raise InvalidSimulation(f"{where}.{exc.field}", exc.value, exc.reason) from None


def parse_staff(text: str, *, source: str = "<staff>") -> tuple[Staff, ...]:
    """Read a staff file's TOML text: ``[[team]]`` tables (``name``,
    ``size``, ``skills``, ``capacity``, ``shift = ["08:00", "16:30"]``,
    ``breaks``, ``break_groups``, ``break_stagger``, ``proficiency_jitter``,
    ``dedicated_customers``; see :class:`~triage_queue.sim.generate.Team`)
    and ``[[agent]]`` tables (``id``, ``skills``, ``capacity``,
    ``dedicated_customers``, ``shifts = [{start, end, breaks}]``), plus an
    optional top-level ``seed`` for the proficiency jitter.  Times are
    seconds or ``"HH:MM[:SS]"`` (seconds since midnight); skills are
    ``"billing:3;refunds"`` or a table; no shift means on duty all day.

    Raises :class:`InvalidSimulation` whose field names the key
    (``team[1].size``) and whose message starts with ``source``.  Bounds:
    at most :data:`MAX_STAFF_BYTES` characters, nesting at most
    :data:`~triage_queue.config.MAX_NESTING` deep, teams of at most
    :data:`~triage_queue.sim.model.MAX_TEAM_SIZE`,
    :data:`~triage_queue.sim.model.MAX_AGENTS` agents in all, 100 skills,
    capacity channels, breaks or shifts per team or agent, times of at most
    :data:`~triage_queue.sim.model.MAX_HOURS` hours.
    Runtime complexity: O(total staff * k).

    >>> staff = parse_staff('''
    ... [[team]]
    ... name = "billing"
    ... size = 2
    ... skills = "billing:3"
    ... shift = ["08:00", "16:00"]
    ... breaks = [["12:00", "12:30"]]
    ... ''')
    >>> [(s.agent.id, s.shifts[0].start) for s in staff]
    [('billing-01', 28800.0), ('billing-02', 28800.0)]
    >>> parse_staff('[[team]]\\nname = "x"\\nsize = 0\\n', source="staff.toml")
    Traceback (most recent call last):
    ...
    triage_queue.sim.model.InvalidSimulation: staff.toml: team[1].size=0: expected an int >= 1
    """
    if not isinstance(text, str):
        raise InvalidSimulation("text", _short(text), f"expected TOML text as a str, not {type(text).__name__}")
    if len(text) > MAX_STAFF_BYTES:
        raise InvalidSimulation("toml", source, f"too large: {len(text)} characters, at most {MAX_STAFF_BYTES} (MAX_STAFF_BYTES)")
    text = text.removeprefix("\ufeff")
    try:
        document = _toml(text, source, InvalidSimulation, "not valid TOML at ")
        _check_keys("staff", document, {"team", "agent", "seed"}, set())
        seed = document.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise InvalidSimulation("seed", seed, "expected an int")
        rng = random.Random(seed if seed is not None else 0)
        staff: list[Staff] = []
        for i, table in enumerate(_tables(document, "team"), start=1):
            where = f"team[{i}]"
            try:
                staff.extend(_team(where, table, len(staff)).members(rng))
            except InvalidValue as exc:
                if exc.field.startswith(where):
                    raise
                raise InvalidSimulation(f"{where}.{exc.field}", exc.value, exc.reason) from None
        for i, table in enumerate(_tables(document, "agent"), start=1):
            if len(staff) == MAX_AGENTS:
                raise InvalidSimulation(f"agent[{i}]", table.get("id") if isinstance(table, dict) else table,
                                        f"more than {MAX_AGENTS} agents in all (MAX_AGENTS)")
            staff.append(_agent(f"agent[{i}]", table))
        if not staff:
            raise InvalidSimulation("staff", text[:40], "no [[team]] or [[agent]] given")
        seen: set[str] = set()
        for member in staff:
            agent_id = member.agent.id
            if agent_id in seen:
                raise InvalidSimulation("agent id", agent_id, "appears twice (a team names its members <name>-01, ...)")
            seen.add(agent_id)
    except InvalidValue as exc:
        raise InvalidSimulation(f"{source}: {exc.field}", _short(exc.value), exc.reason) from None
    return tuple(staff)


def _tables(document: dict[str, Any], key: str) -> list[Any]:
    """The ``[[key]]`` tables of a staff file; ``key = 5`` or a single
    ``[key]`` table is refused naming the key."""
    tables = document.get(key, [])
    if not isinstance(tables, list):
        raise InvalidSimulation(key, _short(tables), f"expected an array of tables ([[{key}]]), not {type(tables).__name__}")
    return tables


def load_staff(path: str | os.PathLike[str]) -> tuple[Staff, ...]:
    """Read a staff TOML file (see :func:`parse_staff`).  Raises
    :class:`InvalidSimulation` naming the file and key (field ``path`` if
    it cannot be read).  Runtime complexity: as :func:`parse_staff`.

    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "staff.toml"
    >>> _ = path.write_text('[[agent]]\\nid = "ana"\\nskills = {billing = 3}\\n')
    >>> load_staff(path)[0].agent.id
    'ana'
    """
    path = _path(path)
    return parse_staff(_read_text(path, MAX_STAFF_BYTES), source=str(path))
