"""Contact-centre simulator: replay a day of tickets through the real
:class:`~triage_queue.Dispatcher` under one or more policies and compare
waits, SLA attainment, abandonment, occupancy and fairness.

Never imported by the core.  The guide is ``docs/simulation.md``; the
command line is ``python -m triage_queue simulate``.

>>> from triage_queue import Policy
>>> from triage_queue.sim import build_scenario, simulate
>>> result = simulate(build_scenario("mmc", seed=1, scale=0.1), Policy.default(), name="default")
>>> result.policy, result.overall.count == result.overall.served
('default', True)
"""

from triage_queue.sim.claims import InvalidClaim, ServiceLevel, Verdict, assert_service_level, check_service_level
from triage_queue.sim.engine import DISPATCHER_OPTIONS, PolicySource, compare, simulate
from triage_queue.sim.generate import (
    Choice,
    Customers,
    Distribution,
    Exponential,
    Fixed,
    Lognormal,
    RateProfile,
    Team,
    TicketClass,
    build_staff,
    default_staff,
    generate_arrivals,
    generate_day,
    parse_skills,
)
from triage_queue.sim.model import Arrival, Day, InvalidSimulation, Shift, Staff
from triage_queue.sim.report import (
    markdown_report,
    plot_queue_length,
    plot_waits,
    results_json,
    summary_text,
    write_report,
)
from triage_queue.sim.results import (
    AgentOutcome,
    Fairness,
    Figures,
    SimulationResult,
    TicketOutcome,
    erlang_c,
    erlang_c_wait,
    nearest_rank,
)
from triage_queue.sim.scenarios import (
    SCENARIOS,
    Scenario,
    build_scenario,
    helpdesk_classes,
    helpdesk_teams,
    mmc_day,
    scenario,
)
from triage_queue.sim.trace import TRACE_COLUMNS, TraceError, load_staff, parse_staff, read_trace, write_trace

__all__ = [
    "DISPATCHER_OPTIONS",
    "SCENARIOS",
    "TRACE_COLUMNS",
    "AgentOutcome",
    "Arrival",
    "Choice",
    "Customers",
    "Day",
    "Distribution",
    "Exponential",
    "Fairness",
    "Figures",
    "Fixed",
    "InvalidClaim",
    "InvalidSimulation",
    "Lognormal",
    "PolicySource",
    "RateProfile",
    "Scenario",
    "ServiceLevel",
    "Shift",
    "SimulationResult",
    "Staff",
    "Team",
    "TicketClass",
    "TicketOutcome",
    "TraceError",
    "Verdict",
    "assert_service_level",
    "build_scenario",
    "build_staff",
    "check_service_level",
    "compare",
    "default_staff",
    "erlang_c",
    "erlang_c_wait",
    "generate_arrivals",
    "generate_day",
    "helpdesk_classes",
    "helpdesk_teams",
    "load_staff",
    "markdown_report",
    "mmc_day",
    "nearest_rank",
    "parse_skills",
    "parse_staff",
    "plot_queue_length",
    "plot_waits",
    "read_trace",
    "results_json",
    "scenario",
    "simulate",
    "summary_text",
    "write_report",
    "write_trace",
]
