"""Statistics books: running figures per ticket class, per skill group and
overall (waiting count, oldest waiting, wait percentiles of served
tickets, declined and expired offers), kept as tickets come and go.

Invariants: each book's ``waiting`` counts the waiting tickets of its class
or group; the overall book counts them all; each book's ``oldest`` heap
holds an entry for every waiting ticket of the book (stale entries are
dropped lazily).

>>> from triage_queue.ticket import Ticket
>>> books = Books(None, lambda ticket_id: None)
>>> t = Ticket("T-1", 0.0, skills=["api"])
>>> books.enter(t); books.by_class["normal"].waiting, books.by_skills["api"].waiting
(1, 1)
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Callable
from typing import Any

from triage_queue.errors import InvalidArgument
from triage_queue.stats import GroupFigures, WaitHistogram
from triage_queue.ticket import Severity, SkillSet, Ticket
from triage_queue.wire import Reader

__all__ = ["Book", "Books", "Books3", "NoBooks", "default_classify"]

# Stale entries checked per new ticket while a sweep is going on.
_SWEEP_STEP = 8


def _group_label(skills: SkillSet) -> str:
    # "api+billing"; "-" for none.  Names that would make it ambiguous (one
    # holding "+", a lone "-", one starting with '"') are each quoted as JSON.
    if not skills:
        return "-"
    if any("+" in name or name.startswith('"') for name in skills) or (len(skills) == 1 and "-" in skills):
        return "+".join(json.dumps(name) for name in skills)
    return "+".join(skills)


class Book:
    """Running figures of one ticket class or skill group."""

    __slots__ = ("declined", "expired", "kind", "label", "oldest", "skills", "sweep", "sweep_at", "waiting", "waits")

    def __init__(self, kind: int, label: str) -> None:
        self.kind = kind  # 0 overall, 1 a ticket class, 2 a skill group
        self.label = label
        # A skill group's skill names (its label joins them with "+", which a
        # name may itself contain): set when a ticket is first counted in it.
        self.skills: frozenset[str] | None = None
        self.waiting = 0
        self.oldest: list[tuple[float, str]] = []  # (created_at, ticket id), lazily cleaned
        # A former `oldest` whose live entries are being moved into the new
        # one a few at a time, so that cleaning never stalls one call.
        self.sweep: list[tuple[float, str]] | None = None
        self.sweep_at = 0
        self.waits = WaitHistogram()
        self.declined = 0
        self.expired = 0


Books3 = tuple[Book, Book, Book]  # (ticket class, skill group, overall)


_SEVERITY_NAMES = {severity: severity.name.lower() for severity in Severity}


def default_classify(ticket: Ticket) -> str:
    return _SEVERITY_NAMES[ticket.severity]


class Books:
    """The statistics books of one desk.  ``classify`` names a ticket's class
    (None: its severity); ``lookup_waiting`` finds a waiting ticket by id (to
    tell live entries of the oldest-heaps from stale ones)."""

    def __init__(self, classify: Callable[[Ticket], str] | None, lookup_waiting: Callable[[str], Ticket | None]) -> None:
        """Runtime complexity: O(1)."""
        self.classify = classify if classify is not None else default_classify
        self._lookup_waiting = lookup_waiting
        self.by_class: dict[str, Book] = {}
        self.by_skills: dict[str, Book] = {}
        self.overall = Book(0, "")
        self._group_names: dict[SkillSet, str] = {}
        # The default classify reads the severity only: books are then a
        # pure function of (severity, skills), looked up in one step.
        self._memo: dict[tuple[Severity, SkillSet], Books3] | None = {} if classify is None else None

    def _group_name(self, skills: SkillSet) -> str:
        name = self._group_names.get(skills)
        if name is None:
            name = _group_label(skills)
            if len(self._group_names) < 4096:
                self._group_names[skills] = name
        return name

    def of(self, ticket: Ticket) -> Books3:
        memo = self._memo
        if memo is not None:
            # The default classify reads the severity only: the books are a
            # pure function of (severity, skills), looked up in one step.
            key = (ticket.severity, ticket.skills)
            books = memo.get(key)
            if books is None:
                books = memo[key] = self._lookup(ticket)
                if len(memo) > 4096:
                    memo.clear()
            return books
        return self._lookup(ticket)

    def _lookup(self, ticket: Ticket) -> Books3:
        cls = self.classify(ticket)
        book = self.by_class.get(cls)
        if book is None:
            book = self.by_class[cls] = Book(1, cls)
        group = self._group_name(ticket.skills)
        gbook = self.by_skills.get(group)
        if gbook is None:
            gbook = self.by_skills[group] = Book(2, group)
        if gbook.skills is None:
            gbook.skills = frozenset(ticket.skills)
        return book, gbook, self.overall

    def _still_in(self, book: Book, created: float, ticket_id: str) -> bool:
        # Whether a (created_at, id) entry of a book's oldest-heap is live.
        ticket = self._lookup_waiting(ticket_id)
        if ticket is None or ticket.created_at != created:
            return False
        kind = book.kind
        if kind == 0:
            return True
        if self._memo is not None:
            # Default classify: the memo gives the ticket's books in one lookup
            # (one book per label, so identity is label equality).
            return self.of(ticket)[kind - 1] is book
        if kind == 1:
            return self.classify(ticket) == book.label
        return self._group_name(ticket.skills) == book.label

    def enter(self, ticket: Ticket, books: Books3 | None = None) -> None:
        entry = (ticket.created_at, ticket.id)
        for book in books or self.of(ticket):
            book.waiting += 1
            heapq.heappush(book.oldest, entry)
            if book.sweep is not None:
                self._sweep(book, _SWEEP_STEP)
            elif len(book.oldest) > 2 * book.waiting + 64:
                # Over half the entries are stale: start moving the live ones
                # to a fresh heap, _SWEEP_STEP per call (amortised O(1)).
                book.sweep, book.sweep_at, book.oldest = book.oldest, 0, []
                self._sweep(book, _SWEEP_STEP)

    def _sweep(self, book: Book, budget: int | None) -> None:
        old = book.sweep
        assert old is not None
        i = book.sweep_at
        end = len(old) if budget is None else min(len(old), i + budget)
        oldest = book.oldest
        still_in = self._still_in
        while i < end:
            entry = old[i]
            i += 1
            if still_in(book, *entry):
                heapq.heappush(oldest, entry)
        if i >= len(old):
            book.sweep = None
        else:
            book.sweep_at = i

    def leave(self, ticket: Ticket) -> Books3:
        books = self.of(ticket)
        for book in books:
            book.waiting -= 1
        return books

    def figures(self, book: Book, now: float) -> GroupFigures:
        if book.sweep is not None:
            self._sweep(book, None)
        oldest = book.oldest
        # Drop entries of tickets no longer waiting in this group.
        while oldest and not self._still_in(book, *oldest[0]):
            heapq.heappop(oldest)
        oldest_wait = max(0.0, now - oldest[0][0]) if oldest and book.waiting else None
        waits = book.waits
        return GroupFigures(
            book.waiting,
            oldest_wait,
            waits.count,
            waits.percentile(50),
            waits.percentile(90),
            waits.percentile(99),
            waits.max if waits.count else None,
            book.declined,
            book.expired,
        )

    @staticmethod
    def record_wait(books: Books3, waited: float) -> None:
        """A ticket of these books was answered after ``waited`` seconds.
        Runtime complexity: O(1)."""
        WaitHistogram.add_to_all((books[0].waits, books[1].waits, books[2].waits), waited)

    @staticmethod
    def undo_leave(books: Books3) -> None:
        """Count a ticket that :meth:`leave` took out as waiting again (its
        heap entries were never removed).  Runtime complexity: O(1)."""
        for book in books:
            book.waiting += 1

    @staticmethod
    def count_declined(books: Books3) -> None:
        """Runtime complexity: O(1)."""
        for book in books:
            book.declined += 1

    @staticmethod
    def count_expired(books: Books3) -> None:
        """Runtime complexity: O(1)."""
        for book in books:
            book.expired += 1

    def export(self) -> dict[str, Any]:
        """What the books have counted, as plain data: per book its declined
        and expired offers and its waits (the waiting counts and oldest
        waits follow from the queue).  Runtime complexity: O(books · B)."""

        def book(b: Book) -> dict[str, Any]:
            return {"declined": b.declined, "expired": b.expired, "waits": b.waits.to_dict()}

        return {
            "overall": book(self.overall),
            "by_class": {label: book(b) for label, b in self.by_class.items()},
            "by_skills": {label: book(b) for label, b in self.by_skills.items()},
        }

    def load(self, data: Reader) -> None:
        """Take what :meth:`export` gave (into empty books); then
        :meth:`enter` each waiting ticket.  Runtime complexity: O(books · B)."""

        def fill(b: Book, r: Reader) -> None:
            b.declined, b.expired = r.integer("declined"), r.integer("expired")
            b.waits = WaitHistogram.from_dict(r.raw("waits"), path=r.path + ".waits")

        fill(self.overall, data.table("overall"))
        for kind, section, books in ((1, "by_class", self.by_class), (2, "by_skills", self.by_skills)):
            table = data.table(section)
            for label in table.data:
                if not isinstance(label, str):
                    raise InvalidArgument(table.path, label, "expected string labels")
                books[label] = Book(kind, label)
                fill(books[label], table.table(label))

    def _check(self, waiting: int) -> None:
        """Assert the books agree with ``waiting`` tickets in the queue."""
        assert self.overall.waiting == waiting, "waiting count out of step"
        assert sum(b.waiting for b in self.by_class.values()) == waiting
        assert sum(b.waiting for b in self.by_skills.values()) == waiting


class NoBooks(Books):
    """The books of a desk made with ``stats=False``: nothing is counted.
    Every ticket gets the same three books, which nothing reads, and
    ``classify`` is never called.  A snapshot records empty books.

    >>> books = NoBooks(None, lambda ticket_id: None)
    >>> books.enter(Ticket("T-1", 0.0)); books.overall.waiting, books.of(Ticket("T-2", 0.0)) is books.of(Ticket("T-3", 0.0))
    (0, True)
    """

    def __init__(self, classify: Callable[[Ticket], str] | None, lookup_waiting: Callable[[str], Ticket | None]) -> None:
        """Runtime complexity: O(1)."""
        super().__init__(classify, lookup_waiting)
        self._unread: Books3 = (Book(1, ""), Book(2, ""), Book(0, ""))

    def of(self, ticket: Ticket) -> Books3:
        return self._unread

    def enter(self, ticket: Ticket, books: Books3 | None = None) -> None:
        pass

    def leave(self, ticket: Ticket) -> Books3:
        return self._unread

    def export(self) -> dict[str, Any]:
        """Empty books (see :meth:`Books.export`).  Runtime complexity: O(1)."""
        return Books(None, self._lookup_waiting).export()

    def load(self, data: Reader) -> None:
        """Nothing to take: a desk without statistics keeps none.  Runtime complexity: O(1)."""

    def _check(self, waiting: int) -> None:
        """Nothing is counted, so nothing can be out of step."""
