"""The dispatcher: who handles which ticket.

A :class:`Dispatcher` joins a :class:`~triage_queue.TicketQueue` (what is
waiting, in what order) and a :class:`~triage_queue.Roster` (who can work on
what).  Every assignment is an :class:`Offer` that the agent accepts or
declines before it times out.  The dispatcher is *work-conserving*: after
every call, no available agent with room has a waiting ticket it qualifies
for, except tickets it declined or let expire, tickets held for another
agent, and while :meth:`Dispatcher.paused`.

* A ticket arriving when several free agents qualify goes to the one the
  selection strategy prefers (:class:`~triage_queue.LongestIdle` by default).
* An agent freeing up gets the best waiting ticket it qualifies for.
* A returning customer's ticket is kept for the agent who served them, and a
  VIP's for their dedicated agent, for ``affinity_wait`` seconds.
* :meth:`Dispatcher.assign_all` assigns a whole backlog to all free capacity
  at once, as a maximum, priority-optimal matching.

>>> from triage_queue import Agent, ManualClock, Ticket, TicketQueue
>>> clock = ManualClock(0.0)
>>> d = Dispatcher(TicketQueue(clock=clock), [Agent("ana", skills={"billing": 3}), Agent("bo")])
>>> offer = d.submit(Ticket("T-1", 0.0, skills={"billing": 2}))
>>> offer.agent_id, d.accept(offer).id
('ana', 'T-1')
>>> d.complete("T-1").id
'T-1'

Concurrency: the dispatcher, its queue and its roster share one re-entrant
lock (the queue's); every public operation holds it briefly and is atomic.
Listeners run after the operation, outside the lock, on the calling thread.
"""

from triage_queue.dispatch.dispatcher import (
    MAX_AUDIT,
    AgentVerdict,
    AssignmentExplanation,
    Dispatcher,
    Offer,
    OfferStatus,
    log_listener_error,
)

__all__ = ["MAX_AUDIT", "AgentVerdict", "AssignmentExplanation", "Dispatcher", "Offer", "OfferStatus", "log_listener_error"]
