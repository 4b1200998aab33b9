"""triage-queue: decide which support ticket is handled next, and by whom.

The public API is everything listed in ``__all__``; import it from here.

>>> from triage_queue import ManualClock, Ticket, TicketQueue
>>> q = TicketQueue(clock=ManualClock(60.0))
>>> q.push(Ticket("T-1", 0.0))
>>> q.pop().id
'T-1'
"""

from triage_queue.agents import ANY_CHANNEL, Agent, AgentState, AgentStatus, Roster, Service
from triage_queue.aio import AsyncDispatcher
from triage_queue.analytics import AnalyticsOptions
from triage_queue.clock import Clock, ManualClock
from triage_queue.config import PolicyFile, SlaTargets, load_policy, parse_policy
from triage_queue.criteria import (
    ComplexityCriteria,
    ComplexityDecision,
    Criteria,
    TierCriteria,
    TierDecision,
    TierLevel,
    assess_complexity,
    classify_tier,
    explain_complexity,
    explain_tier,
)
from triage_queue.dispatch import AgentVerdict, AssignmentExplanation, Dispatcher, Offer, OfferStatus, log_listener_error
from triage_queue.dispatch.finished import TicketStatus
from triage_queue.dispatch.overflow import OverflowRule
from triage_queue.dispatch.strain import StrainGuard, StrainLimits
from triage_queue.errors import (
    AgentBusy,
    AlreadyFinished,
    DuplicateAgent,
    DuplicateKey,
    DuplicateTicket,
    Empty,
    InvalidAgent,
    InvalidArgument,
    InvalidKey,
    InvalidPolicy,
    InvalidPriority,
    InvalidTicket,
    InvalidValue,
    NotAssigned,
    OfferClosed,
    RuleError,
    TriageError,
    UnknownAgent,
    UnknownKey,
    UnknownOffer,
    UnknownTicket,
    Unroutable,
)
from triage_queue.events import Event, EventKind
from triage_queue.heap import IndexedHeap
from triage_queue.matching import priority_matching
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
from triage_queue.selection import LeastLoaded, LongestIdle, MostProficient, RoundRobin, Selection
from triage_queue.staffing import (
    ForecastError,
    ForecastInterval,
    QueueFigures,
    ServiceTarget,
    StaffingResult,
    agents_needed,
    erlang_a,
    erlang_c,
    read_forecast,
    staffing_plan,
)
from triage_queue.stats import (
    AgentFigures,
    GroupFigures,
    HourFigures,
    OverflowFigures,
    RecurringFigures,
    Statistics,
    WaitHistogram,
)
from triage_queue.store import Lane, MemoryStore, Priority, TicketStore
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
    "ANY_CHANNEL",
    "DEFAULT_TIERS",
    "Agent",
    "AgentBusy",
    "AgentFigures",
    "AgentState",
    "AgentStatus",
    "AgentVerdict",
    "Aging",
    "AlreadyFinished",
    "AnalyticsOptions",
    "AssignmentExplanation",
    "AsyncDispatcher",
    "BaseRule",
    "Clock",
    "Complexity",
    "ComplexityCriteria",
    "ComplexityDecision",
    "Composition",
    "Contribution",
    "Criteria",
    "Dispatcher",
    "DuplicateAgent",
    "DuplicateKey",
    "DuplicateTicket",
    "Emergency",
    "Empty",
    "Event",
    "EventKind",
    "Explanation",
    "FeedbackOrder",
    "ForecastError",
    "ForecastInterval",
    "FunctionRule",
    "GroupFigures",
    "HourFigures",
    "Impact",
    "IndexedHeap",
    "InvalidAgent",
    "InvalidArgument",
    "InvalidKey",
    "InvalidPolicy",
    "InvalidPriority",
    "InvalidTicket",
    "InvalidValue",
    "IssueKind",
    "Lane",
    "LeastLoaded",
    "LongestIdle",
    "ManualClock",
    "MemoryStore",
    "MostProficient",
    "NotAssigned",
    "Offer",
    "OfferClosed",
    "OfferStatus",
    "OverflowFigures",
    "OverflowRule",
    "Policy",
    "PolicyFile",
    "Prefer",
    "Priority",
    "QueueFigures",
    "RecurringFigures",
    "Roster",
    "RoundRobin",
    "Rule",
    "RuleError",
    "Selection",
    "Service",
    "ServiceTarget",
    "Severity",
    "SkillSet",
    "SkillsLike",
    "SlaDeadline",
    "SlaTargets",
    "StaffingResult",
    "Statistics",
    "StrainGuard",
    "StrainLimits",
    "Ticket",
    "TicketQueue",
    "TicketStatus",
    "TicketStore",
    "TierCriteria",
    "TierDecision",
    "TierLevel",
    "TriageError",
    "UnknownAgent",
    "UnknownKey",
    "UnknownOffer",
    "UnknownTicket",
    "Unroutable",
    "Vip",
    "WaitHistogram",
    "agents_needed",
    "assess_complexity",
    "classify_severity",
    "classify_tier",
    "erlang_a",
    "erlang_c",
    "explain_complexity",
    "explain_tier",
    "load_policy",
    "log_listener_error",
    "parse_policy",
    "priority_matching",
    "read_forecast",
    "rule",
    "staffing_plan",
]
