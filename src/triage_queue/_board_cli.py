"""``python -m triage_queue board``: serve the live board of a desk.

``--desk URL`` shows a desk shared by several processes (``sqlite:///path``
or ``redis://host:port/db``, with ``--name`` the desk's name, as for the
``desk`` command): the board runs a replica of that desk (a
:class:`~triage_queue.shared.SharedDesk` that follows the log) and shows
it live.  ``--policy`` must be the desk's own policy file (a different
policy is refused, naming the difference); the desk must exist already
(started by a desk server or the application).  The replica does what
every replica does: it appends a ``tick`` when something falls due, digest
checks, and snapshots.

Without ``--desk``, the desk is built here from a policy TOML
(``--policy``, default: the default policy with demo SLA targets) and a
staff TOML (``--staff``, default: five agents).  With ``--demo``, a small
simulated desk feeds it: tickets arrive, agents accept (now and then
decline), work and finish, step away and come back, on a clock that runs
``--speed`` times faster than the wall clock, so you can watch the page
move.  Without ``--demo`` nothing feeds that desk: embed the board in your
own app instead (see docs/board.md).

Examples::

  python -m triage_queue board --demo
  python -m triage_queue board --desk sqlite:///var/desk.db --policy examples/policies/vip-first.toml
  python -m triage_queue board --desk redis://localhost:6379/0 --name eu --policy examples/policies/vip-first.toml
"""

from __future__ import annotations

import argparse
import functools
import math
import os
import random
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any

from triage_queue.agents import Agent, AgentStatus
from triage_queue.board import Board
from triage_queue.clock import ManualClock
from triage_queue.config import PolicyFile, SlaTargets, load_policy
from triage_queue.dispatch import Dispatcher, Offer
from triage_queue.errors import TriageError
from triage_queue.policy import Policy
from triage_queue.ticket import Ticket

START = 9 * 3600.0  # the demo desk opens at 09:00
MEAN_HANDLING = 240.0  # desk seconds of work per ticket, on average
SURGE = 0.45  # arrivals swing this much above and below their mean...
WAVE = 2400.0  # ...over this many desk seconds


def default_agents() -> list[Agent]:
    """Five agents with a mix of skills, for a board without ``--staff``."""
    return [
        Agent("ana", skills={"billing": 4, "payments": 3, "general": 2}, capacity=2),
        Agent("bo", skills={"general": 3, "billing": 2}, capacity=3),
        Agent("cy", skills={"api": 5, "payments": 2}, capacity=2),
        Agent("dee", skills={"general": 2, "german": 4, "billing": 1}, capacity=2),
        Agent("eli", skills={"api": 3, "general": 3}, capacity=2),
    ]


def default_policy() -> PolicyFile:
    """The default policy, with SLA targets and an early warning, so that the
    board has SLAs to show."""
    return PolicyFile.from_policy(
        Policy.default(),
        name="board-demo",
        sla=SlaTargets(default=900, by_tier={"gold": 420, "platinum": 300}, by_severity={"critical": 240}),
        dispatcher_options={"sla_warning": 180, "offer_timeout": 45, "affinity_wait": 60},
    )


class DemoDriver:
    """Feeds a desk with simulated traffic, one :meth:`step` at a time
    (seeded: the same seed gives the same day)."""

    def __init__(self, desk: Dispatcher, clock: ManualClock, policy: PolicyFile, agents: Sequence[Agent], seed: int = 1) -> None:
        self.desk = desk
        self.clock = clock
        self.policy = policy
        self.rng = random.Random(seed)
        self.agents = [a.id for a in agents]
        self.skills = {a.id: sorted(a.skills) for a in agents if len(a.skills)}
        capacity = sum(sum(a.capacity.values()) for a in agents)
        # Arrivals per desk second: on average about what the agents can
        # serve, in waves (SURGE above and below every WAVE seconds), so the
        # queue builds up and drains.
        self.rate = 0.95 * max(1, capacity) / MEAN_HANDLING
        self.start = clock()
        self.next_arrival = self._draw(clock())
        self.finish: dict[str, float] = {}  # ticket id -> when its agent completes it
        self.back: dict[str, float] = {}  # agent id -> when it comes back from a break
        self.submitted = 0

    def step(self, seconds: float) -> None:
        """Move the desk's clock ``seconds`` on and play what happens."""
        rng, desk = self.rng, self.desk
        now = self.clock.advance(seconds)
        while self.next_arrival <= now:
            self._arrive(self.next_arrival)
            self.next_arrival = self._draw(self.next_arrival)
        for ticket_id, due in list(self.finish.items()):
            if due <= now:
                del self.finish[ticket_id]
                self._quietly(functools.partial(desk.complete, ticket_id))
        for agent_id in self.agents:
            for offer in self._offers(agent_id):
                roll = rng.random()
                if roll < 0.06:
                    self._quietly(functools.partial(desk.decline, offer, "on another call"))
                elif roll < 0.75:
                    handling = rng.expovariate(1 / MEAN_HANDLING) * (0.5 + 0.25 * offer.ticket.complexity)
                    if self._quietly(functools.partial(desk.accept, offer)):
                        self.finish[offer.ticket.id] = now + max(20.0, handling)
            self._break(agent_id, now)
        desk.tick()

    def rate_at(self, at: float) -> float:
        """Arrivals per desk second at instant ``at``."""
        return self.rate * (1 + SURGE * math.sin(2 * math.pi * (at - self.start) / WAVE))

    def _draw(self, after: float) -> float:
        # The next arrival of a Poisson process of varying rate (thinning).
        top = self.rate * (1 + SURGE)
        at = after
        while True:
            at += self.rng.expovariate(top)
            if self.rng.random() * top <= self.rate_at(at):
                return at

    def _arrive(self, at: float) -> None:
        rng = self.rng
        self.submitted += 1
        owner = rng.choice(sorted(self.skills)) if self.skills else None
        skills = {rng.choice(self.skills[owner]): 1} if owner is not None else {}
        ticket = Ticket(
            f"T-{1000 + self.submitted}",
            at,
            severity=rng.choices(["low", "normal", "high", "critical"], [15, 66, 15, 4])[0],
            customer_tier=rng.choices([None, "silver", "gold", "platinum"], [60, 22, 13, 5])[0],
            complexity=rng.choices([1, 2, 3, 4, 5], [40, 30, 15, 10, 5])[0],
            skills=skills,
            customer_id=f"C-{rng.randrange(80):02d}",
        )
        self._quietly(lambda: self.desk.submit(self.policy.with_sla(ticket)))

    def _offers(self, agent_id: str) -> list[Offer]:
        try:
            return list(self.desk.offers_for(agent_id))
        except TriageError:
            return []

    def _break(self, agent_id: str, now: float) -> None:
        desk, rng = self.desk, self.rng
        back = self.back.get(agent_id)
        if back is not None:
            if back <= now:
                del self.back[agent_id]
                self._quietly(lambda: desk.set_status(agent_id, AgentStatus.AVAILABLE))
            return
        if len(self.agents) > 1 and rng.random() < 0.004 and not self._busy(agent_id):
            self.back[agent_id] = now + rng.uniform(120, 600)
            self._quietly(lambda: desk.set_status(agent_id, AgentStatus.AWAY))

    def _busy(self, agent_id: str) -> bool:
        try:
            return bool(self.desk.assigned(agent_id) or self.desk.offers_for(agent_id))
        except TriageError:
            return True

    @staticmethod
    def _quietly(call: Callable[[], object]) -> bool:
        # An offer that expired or was revoked meanwhile: the demo moves on.
        try:
            call()
        except TriageError:
            return False
        return True


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``board`` subcommand's options."""
    parser.add_argument("--desk", metavar="URL", help="show the shared desk on this log: sqlite:///path or redis://host:port/db")
    parser.add_argument("--name", default="desk", help="--desk: the desk's name (the Redis stream's name; default desk)")
    parser.add_argument(
        "--policy",
        metavar="FILE",
        help="a policy TOML file (--desk: the desk's own; default: the default policy, with demo SLAs without --desk)",
    )
    parser.add_argument(
        "--allow-code", action="store_true", help='let the policy file run the code its kind = "python" rules name'
    )
    parser.add_argument("--staff", metavar="FILE", help="a staff TOML file (default: five demo agents; not with --desk)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=8765, help="port to listen on (default 8765; 0: any free port)")
    parser.add_argument("--title", default="triage-queue board", help="the page's heading")
    parser.add_argument("--demo", action="store_true", help="feed the desk with simulated traffic, so the page moves")
    parser.add_argument("--speed", type=float, default=20.0, help="demo: desk seconds per wall-clock second (default 20)")
    parser.add_argument("--seed", type=int, default=1, help="demo: random seed (default 1)")
    parser.add_argument("--seconds", type=float, default=None, help="stop after this many seconds (default: at Ctrl-C)")


def build(args: argparse.Namespace) -> tuple[Dispatcher, ManualClock | None, PolicyFile, list[Agent]]:
    """The desk the arguments describe (a ManualClock for the demo, else the wall clock)."""
    policy = load_policy(args.policy, allow_code=args.allow_code) if args.policy else default_policy()
    if args.staff:
        from triage_queue.sim.trace import load_staff  # noqa: PLC0415 - the simulator only when a staff file is read

        # Shifts are the simulator's business: on the board everyone is on duty.
        agents = [s.agent.evolve(status=AgentStatus.AVAILABLE) for s in load_staff(args.staff)]
    else:
        agents = default_agents()
    if args.demo:
        clock = ManualClock(START)
        return policy.build(clock, agents), clock, policy, agents
    return policy.build(agents=agents), None, policy, agents


def open_shared(args: argparse.Namespace) -> tuple[Any, Any]:
    """``--desk``: a replica of the shared desk on the log at ``args.desk``
    (a :class:`~triage_queue.shared.SharedDesk` with ``replica=True,
    follow=True``) run with ``args.policy``, and its log (close both).
    Raises :class:`~triage_queue.errors.InvalidArgument` naming the URL
    when no desk is there yet (nothing is created), or the error the
    replica gives (a policy that is not the desk's, say).

    Runtime complexity: O(snapshot + tail) to join the desk.
    """
    from triage_queue.errors import InvalidArgument  # noqa: PLC0415 - the shared desk only with --desk
    from triage_queue.shared import SharedDesk  # noqa: PLC0415
    from triage_queue.shared.cli import open_desk_log, policy_settings  # noqa: PLC0415

    url = args.desk
    if isinstance(url, str) and url.startswith("sqlite:///") and not os.path.exists(url[len("sqlite:///") :]):
        raise InvalidArgument("desk", url, "no such file: start the desk (a desk server or the application) first")
    settings: dict[str, Any] = {}
    if args.policy:
        settings = policy_settings(load_policy(args.policy, allow_code=args.allow_code))
    log = open_desk_log(url, args.name)
    try:
        if log.last_position() == 0:
            raise InvalidArgument("desk", url, f"no desk named {args.name!r} on this log yet: start it first")
        return SharedDesk(log, name=args.name, replica=True, follow=True, **settings), log
    except BaseException:
        log.close()
        raise


def run(args: argparse.Namespace, out: Callable[[str], object] = print) -> int:
    """Serve the board until Ctrl-C (or ``--seconds``); 0 on success, 2 for
    bad options or files."""
    if not math.isfinite(args.speed) or args.speed <= 0 or args.speed > 10_000:  # NaN passes every comparison
        out("error: --speed must be > 0 and at most 10000")
        return 2
    if args.seconds is not None and (not math.isfinite(args.seconds) or not 0 <= args.seconds <= 1e9):
        out("error: --seconds must be a number of seconds from 0 to 1e9")
        return 2
    if args.desk is not None and (args.demo or args.staff):
        out("error: --desk shows a desk that exists: it takes no --demo or --staff")
        return 2
    shared: Any = None
    log: Any = None
    clock: ManualClock | None = None
    try:
        if args.desk is not None:
            shared, log = open_shared(args)
            desk: Any = shared
        else:
            desk, clock, policy, agents = build(args)
    except (TriageError, OSError) as exc:
        out(f"error: {exc}")
        return 2
    board = Board(desk, title=args.title)
    try:
        server = board.serve(args.host, args.port)
    except (TriageError, OSError) as exc:
        out(f"error: cannot listen on {args.host}:{args.port}: {exc}")
        board.close()
        _close_shared(shared, log)
        return 2
    stop = threading.Event()
    driver: threading.Thread | None = None
    if shared is not None:
        out(f"Shared desk {args.name!r} on {args.desk}: this board follows it live.")
    elif clock is not None:
        demo = DemoDriver(desk, clock, policy, agents, args.seed)
        tick = 0.25

        def drive() -> None:
            while not stop.wait(tick):
                demo.step(tick * args.speed)

        driver = threading.Thread(target=drive, name="triage-board-demo", daemon=True)
        driver.start()
        out(f"Demo desk: {len(agents)} agents, about {demo.rate * 3600:.0f} tickets an hour, {args.speed:g}x real time.")
    else:
        out("Nothing feeds this desk: pass --demo to watch simulated traffic, or mount the board in your app (docs/board.md).")
    out(f"Board: {server.url}  (Ctrl-C to stop)")
    sys.stdout.flush()
    try:
        stop.wait(args.seconds)
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        if driver is not None:
            driver.join(timeout=5)
        server.close()
        board.close()
        _close_shared(shared, log)
    return 0


def _close_shared(shared: Any, log: Any) -> None:
    if shared is not None:
        shared.close()
    if log is not None:
        log.close()
