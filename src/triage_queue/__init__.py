"""triage-queue: decide which support ticket is handled next, and by whom.

The public API is everything listed in ``__all__``; import it from here.

>>> from triage_queue import ManualClock, Ticket, TicketQueue
>>> q = TicketQueue(clock=ManualClock(60.0))
>>> q.push(Ticket("T-1", 0.0))
>>> q.pop().id
'T-1'
"""

from triage_queue.clock import Clock, ManualClock
from triage_queue.errors import (
    DuplicateKey,
    DuplicateTicket,
    Empty,
    InvalidArgument,
    InvalidPolicy,
    InvalidPriority,
    InvalidTicket,
    InvalidValue,
    RuleError,
    TriageError,
    UnknownKey,
    UnknownTicket,
)
from triage_queue.heap import IndexedHeap
from triage_queue.policy import Composition, Explanation, Policy
from triage_queue.queue import TicketQueue
from triage_queue.rules import (
    DEFAULT_TIERS,
    Aging,
    BaseRule,
    Complexity,
    Contribution,
    Emergency,
    FeedbackOrder,
    FunctionRule,
    Prefer,
    Rule,
    SlaDeadline,
    Vip,
    rule,
)
from triage_queue.store import MemoryStore, Priority, TicketStore
from triage_queue.ticket import (
    Impact,
    IssueKind,
    Severity,
    SkillSet,
    SkillsLike,
    Ticket,
    classify_severity,
)

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_TIERS",
    "Aging",
    "BaseRule",
    "Clock",
    "Complexity",
    "Composition",
    "Contribution",
    "DuplicateKey",
    "DuplicateTicket",
    "Emergency",
    "Empty",
    "Explanation",
    "FeedbackOrder",
    "FunctionRule",
    "Impact",
    "IndexedHeap",
    "InvalidArgument",
    "InvalidPolicy",
    "InvalidPriority",
    "InvalidTicket",
    "InvalidValue",
    "IssueKind",
    "ManualClock",
    "MemoryStore",
    "Policy",
    "Prefer",
    "Priority",
    "Rule",
    "RuleError",
    "Severity",
    "SkillSet",
    "SkillsLike",
    "SlaDeadline",
    "Ticket",
    "TicketQueue",
    "TicketStore",
    "TriageError",
    "UnknownKey",
    "UnknownTicket",
    "Vip",
    "classify_severity",
    "rule",
]
