"""A process holding a replica of a shared desk, for the fault tests: it
acts for some agents (accepts their offers, completes their tickets, sends
their heartbeats) or submits tickets, and says what it did on stdout, one
flushed line per fact, so that a test can SIGKILL it at a chosen moment.

  python tests/desk_worker.py --log URL --name NAME --policy P.toml agent --agents ana,bo [--accept-max K] [--complete S]
  python tests/desk_worker.py --log URL --name NAME --policy P.toml submit --prefix W --count N

Lines: ``ready <position>``, ``accepted <ticket>``, ``completed <ticket>``,
``ack <ticket>`` (its submit returned), ``digest <position> <sha256>``.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from triage_queue import Ticket
from triage_queue.config import load_policy
from triage_queue.errors import TriageError
from triage_queue.shared import SharedDesk
from triage_queue.shared.cli import open_desk_log


def say(*parts: object) -> None:
    print(*parts, flush=True)


def run_agents(desk: SharedDesk, args: argparse.Namespace) -> None:
    agents = args.agents.split(",")
    accepted: dict[str, float] = {}
    taken = 0
    last_beat = last_digest = 0.0
    replica = desk.replica
    assert replica is not None
    while True:
        now = time.monotonic()
        if args.heartbeat and now - last_beat >= args.heartbeat:
            last_beat = now
            for agent in agents:
                desk.heartbeat(agent)
        for agent in agents:
            if args.complete is not None:
                for ticket in desk.assigned(agent):
                    since = accepted.setdefault(ticket.id, now)
                    if now - since >= args.complete:
                        desk.complete(ticket.id, agent)
                        say("completed", ticket.id)
            if args.ignore_offers:
                continue
            for offer in desk.offers_for(agent):
                if args.accept_max is not None and taken >= args.accept_max:
                    break
                try:
                    ticket = desk.accept(offer)
                except TriageError:
                    continue  # expired or revoked meanwhile
                taken += 1
                accepted[ticket.id] = time.monotonic()
                say("accepted", ticket.id)
        if now - last_digest >= 0.2:
            last_digest = now
            with replica.lock:
                say("digest", replica.position, replica.digest())
        time.sleep(0.01)


def run_submit(desk: SharedDesk, args: argparse.Namespace) -> None:
    for i in range(args.count):
        ticket_id = f"{args.prefix}-{i}"
        desk.submit(Ticket(ticket_id, time.time(), skills={"billing": 1} if i % 3 == 0 else {}))
        say("ack", ticket_id)
    say("done")
    while True:
        time.sleep(1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--log", required=True)
    parser.add_argument("--name", default="desk")
    parser.add_argument("--policy", required=True)
    parser.add_argument("--snapshot-every", type=int, default=10_000)
    modes = parser.add_subparsers(dest="mode", required=True)
    agent = modes.add_parser("agent")
    agent.add_argument("--agents", required=True)
    agent.add_argument("--accept-max", type=int)
    agent.add_argument("--complete", type=float, help="complete accepted tickets after S seconds")
    agent.add_argument("--ignore-offers", action="store_true")
    agent.add_argument("--heartbeat", type=float, help="send each agent's heartbeat every S seconds")
    submit = modes.add_parser("submit")
    submit.add_argument("--prefix", default="W")
    submit.add_argument("--count", type=int, default=1000)
    args = parser.parse_args(argv)
    pf = load_policy(args.policy)
    log: Any = open_desk_log(args.log, args.name)
    desk = SharedDesk(
        log,
        policy=pf.policy,
        selection=pf.selection_strategy(),
        name=args.name,
        snapshot_every=args.snapshot_every,
        digest_seconds=None,
        timeout=5.0,
    )
    replica = desk.replica
    assert replica is not None
    say("ready", replica.position)
    if args.mode == "agent":
        run_agents(desk, args)
    else:
        run_submit(desk, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
