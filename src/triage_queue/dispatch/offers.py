"""Reservations: the tickets out of the queue (offered to an agent, or
assigned), the pending offers, the offers closed lately, each agent's inbox
of offers not yet handed out, and the passes (who declined or missed which
ticket, and until when they are not offered it again).

Invariants (``_check``): every pending offer belongs to exactly one track,
whose ``offer`` it is; an inbox holds only pending offers of its agent;
offer numbers only grow.

>>> res = Reservations("offer")
>>> res.next_id()
(1, 'offer-1')
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any

from triage_queue.dispatch.books import Books3
from triage_queue.dispatch.values import Offer, OfferStatus
from triage_queue.errors import InvalidArgument, NotAssigned, OfferClosed, UnknownOffer, UnknownTicket
from triage_queue.ticket import Ticket
from triage_queue.wire import Reader, number, read_number

__all__ = ["CLOSED_MEMORY", "Reservations", "Track"]

# Closed offers remembered, so that answering one says "expired" rather than
# "unknown".
CLOSED_MEMORY = 100_000


class Track:
    """A ticket out of the queue: offered to, or assigned to, an agent."""

    __slots__ = ("agent_id", "assigned_at", "books", "how", "note", "offer", "seq", "slot", "ticket")

    def __init__(  # noqa: PLR0917
        self, ticket: Ticket, seq: int, agent_id: str, slot: str, offer: Offer | None, note: str | float, how: str, books: Books3
    ) -> None:
        """Runtime complexity: O(1)."""
        self.ticket = ticket
        # Where the chosen agent stood by the strategy, when chosen (for
        # LongestIdle only its idle_since, worded when explained).
        self.note = note
        self.how = how  # why this agent got it
        # The ticket's statistics books, looked up once: acceptance records
        # the wait in them without asking classify again.
        self.books = books
        self.seq = seq  # its arrival number: its place when it goes back
        self.agent_id = agent_id
        self.slot = slot
        self.offer: Offer | None = offer
        self.assigned_at: float | None = None


class Reservations:
    """Tracks, pending and closed offers, inboxes and passes of one desk."""

    __slots__ = ("closed", "count", "inbox", "name", "passed", "pending", "tracks")

    def __init__(self, name: str) -> None:
        """Runtime complexity: O(1)."""
        self.name = name  # offer ids are f"{name}-{number}"
        self.tracks: dict[str, Track] = {}  # ticket id -> offered or assigned, in the order they left the queue
        self.pending: dict[str, Offer] = {}  # offer id -> pending offer, oldest first
        self.closed: OrderedDict[str, OfferStatus] = OrderedDict()
        self.count = 0  # the number of the latest offer
        self.inbox: dict[str, deque[str]] = {}  # agent id -> offers not yet handed out
        # Ticket id -> {agent id: until}: agents who declined or missed it, and
        # until when they are not offered it again.
        self.passed: dict[str, dict[str, float]] = {}

    def next_id(self) -> tuple[int, str]:
        """Number and id of a new offer.  Runtime complexity: O(1)."""
        count = self.count = self.count + 1
        return count, f"{self.name}-{count}"

    def pending_offer(self, offer: Offer | str) -> Offer:
        """The pending offer ``offer`` names (an Offer or its id).  Raises
        :class:`UnknownOffer`, :class:`OfferClosed` or :class:`InvalidArgument`.
        Runtime complexity: O(1)."""
        # The usual cases first: a pending Offer, or its id.
        if offer.__class__ is Offer:
            found = self.pending.get(offer.id)
            if found is not None:
                return found
        elif offer.__class__ is str:
            found = self.pending.get(offer)
            if found is not None:
                return found
        offer_id = offer.id if isinstance(offer, Offer) else offer
        if not isinstance(offer_id, str):
            raise InvalidArgument("offer", offer, "expected an Offer or an offer id")
        found = self.pending.get(offer_id)
        if found is None:
            status = self.closed.get(offer_id)
            if status is None:
                raise UnknownOffer(offer_id)
            raise OfferClosed(offer_id, status.value)
        return found

    def close(self, offer: Offer, status: OfferStatus) -> None:
        """The offer is answered, expired or revoked.  Runtime complexity: O(inbox)."""
        del self.pending[offer.id]
        closed = self.closed
        closed[offer.id] = status
        if len(closed) > CLOSED_MEMORY:
            closed.popitem(last=False)
        inbox = self.inbox.get(offer.agent_id)
        if inbox:
            if offer.id in inbox:  # not handed out yet (inboxes hold a few ids)
                inbox.remove(offer.id)
            if not inbox:
                del self.inbox[offer.agent_id]

    def post(self, agent_id: str, offer_id: str) -> None:
        """Put an offer in the agent's inbox, last.  Runtime complexity: O(1)."""
        inbox = self.inbox.get(agent_id)
        if inbox is None:
            inbox = self.inbox[agent_id] = deque()
        inbox.append(offer_id)

    def put_back(self, agent_id: str, offer_id: str) -> None:
        """An offer handed out but not received (a listener raised): first in
        its agent's inbox again, if still pending.  Runtime complexity: O(1)."""
        if offer_id in self.pending:
            self.inbox.setdefault(agent_id, deque()).appendleft(offer_id)

    def hand_out(self, agent_id: str) -> Offer | None:
        """The oldest offer in the agent's inbox, taken out.  Runtime complexity: O(1) amortised."""
        inbox = self.inbox.get(agent_id)
        while inbox:
            offer = self.pending.get(inbox.popleft())
            if offer is not None:
                return offer
        return None

    def offers_to(self, agent_id: str) -> list[Offer]:
        """Pending offers to an agent, oldest first.  Runtime complexity: O(pending)."""
        return [o for o in self.pending.values() if o.agent_id == agent_id]

    def assigned_to(self, agent_id: str) -> list[Ticket]:
        """Tickets the agent accepted and has not finished.  Runtime complexity: O(tracks)."""
        return [t.ticket for t in self.tracks.values() if t.agent_id == agent_id and t.offer is None]

    def tracks_of(self, agent_id: str) -> list[Track]:
        """Every track of an agent.  Runtime complexity: O(tracks)."""
        return [t for t in self.tracks.values() if t.agent_id == agent_id]

    def assigned_track(self, ticket_id: str, agent_id: str | None, waiting: bool) -> Track:
        """The track of an assigned ticket (held by ``agent_id`` if given), or
        the right error: ``waiting`` says whether the ticket waits in the
        queue.  Runtime complexity: O(1)."""
        track = self.tracks.get(ticket_id)
        if track is None:
            if waiting:
                raise NotAssigned(ticket_id, "is waiting in the queue, not assigned")
            raise UnknownTicket(ticket_id)
        if track.offer is not None:
            raise NotAssigned(ticket_id, f"is offered to {track.agent_id!r} but not accepted yet")
        if agent_id is not None and agent_id != track.agent_id:
            raise NotAssigned(ticket_id, f"is assigned to {track.agent_id!r}, not to {agent_id!r}")
        return track

    def pass_on(self, ticket_id: str, agent_id: str, until: float) -> None:
        """The agent passed on the ticket: not offered it again before ``until``.
        Runtime complexity: O(1)."""
        self.passed.setdefault(ticket_id, {})[agent_id] = until

    def lapse(self, ticket_id: str, agent_id: str, until: float) -> bool:
        """A pass scheduled to lapse at ``until`` lapses, unless it was
        forgotten or renewed since; return whether it did.  Runtime complexity: O(1)."""
        passed = self.passed.get(ticket_id)
        if passed is None or passed.get(agent_id) != until:
            return False
        del passed[agent_id]
        if not passed:
            del self.passed[ticket_id]
        return True

    def forget_passes(self, ticket_id: str) -> None:
        """Runtime complexity: O(1)."""
        if self.passed:
            self.passed.pop(ticket_id, None)

    def export(self) -> dict[str, Any]:
        """Everything reserved, as plain data, in order: tracks (with their
        offer, if pending), the offer number, closed offers, inboxes and
        passes.  Runtime complexity: O(tracks + closed + passes)."""
        return {
            "count": self.count,
            "tracks": [
                {
                    "ticket": t.ticket.to_dict(),
                    "seq": t.seq,
                    "agent_id": t.agent_id,
                    "slot": t.slot,
                    "offer": None if t.offer is None else t.offer.to_dict(),
                    "note": number(t.note) if isinstance(t.note, float) else t.note,
                    "how": t.how,
                    "assigned_at": t.assigned_at,
                }
                for t in self.tracks.values()
            ],
            "closed": [[offer_id, status.value] for offer_id, status in self.closed.items()],
            "inbox": [[agent_id, list(ids)] for agent_id, ids in self.inbox.items()],
            "passed": [
                [ticket_id, agent_id, number(until)] for ticket_id, by in self.passed.items() for agent_id, until in by.items()
            ],
        }

    def load(self, data: Reader, books_of: Callable[[Ticket], Books3]) -> None:
        """Take what :meth:`export` gave (into empty reservations);
        ``books_of`` gives a ticket's statistics books.
        Runtime complexity: O(tracks + closed + passes)."""
        self.count = data.integer("count")
        for item in data.seq("tracks").items():
            ticket = Ticket.from_dict(item.raw("ticket"))
            offer_data = item.raw("offer")
            offer = None if offer_data is None else Offer.from_dict(offer_data, path=item.path + ".offer")
            note_data = item.raw("note")
            note: str | float = note_data if isinstance(note_data, str) else read_number(note_data, item.path + ".note")
            agent_id = item.string("agent_id")
            mismatched = offer is not None and (
                offer.id in self.pending
                or offer.agent_id != agent_id
                or offer.ticket.id != ticket.id
                or not self._numbered(offer.id)
            )
            if ticket.id in self.tracks or mismatched:
                raise InvalidArgument(
                    item.path, item.data, "a ticket or offer listed twice, or an offer of another ticket, agent or desk, or ahead"
                )
            seq, slot, how = item.integer("seq"), item.string("slot"), item.string("how")
            track = Track(ticket, seq, agent_id, slot, offer, note, how, books_of(ticket))
            track.assigned_at = item.real("assigned_at", allow_none=True)
            self.tracks[ticket.id] = track
            if offer is not None:
                self.pending[offer.id] = offer
        for entry in data.seq("closed").items():
            offer_id, status = entry.fields(str, str)
            if offer_id in self.pending:
                raise InvalidArgument(entry.path, entry.data, "an offer both pending and closed")
            try:
                self.closed[offer_id] = OfferStatus(status)
            except ValueError:
                raise InvalidArgument(entry.path, entry.data, "not an offer status") from None
        for entry in data.seq("inbox").items():
            agent_id, ids = entry.fields(str, list)
            if agent_id in self.inbox or len(set(map(str, ids))) != len(ids):
                raise InvalidArgument(entry.path, entry.data, "an inbox listed twice, or an offer in it twice")
            for offer_id in ids:
                offer = self.pending.get(offer_id) if isinstance(offer_id, str) else None
                if offer is None or offer.agent_id != agent_id:
                    raise InvalidArgument(entry.path, entry.data, "an inbox may hold only pending offers to its agent")
            self.inbox[agent_id] = deque(ids)
        for entry in data.seq("passed").items():
            ticket_id, agent_id, until = entry.fields(str, str, float)
            self.pass_on(ticket_id, agent_id, until)

    def _numbered(self, offer_id: str) -> bool:
        # Whether an offer id is this desk's, numbered at most ``count``.
        name, _, digits = offer_id.rpartition("-")
        return name == self.name and digits.isdigit() and len(digits) < 20 and int(digits) <= self.count

    def _check(self) -> None:
        """Assert the reservations' invariants (used by the test suite)."""
        offered = [t for t in self.tracks.values() if t.offer is not None]
        assert len(offered) == len(self.pending), "pending offers and offered tickets disagree"
        for ticket_id, track in self.tracks.items():
            assert track.ticket.id == ticket_id
            if track.offer is not None:
                assert self.pending.get(track.offer.id) is track.offer
        for agent_id, inbox in self.inbox.items():
            for offer_id in inbox:
                assert offer_id in self.pending and self.pending[offer_id].agent_id == agent_id
        numbers = [int(o.id.rsplit("-", 1)[1]) for o in self.pending.values()]
        assert all(n <= self.count for n in numbers)
