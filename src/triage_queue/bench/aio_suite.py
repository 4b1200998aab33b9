"""asyncio: thousands of agent coroutines awaiting work on one dispatcher.

``coroutines`` agents (capacity 1, in four teams of four skill groups each,
so the roster has four agent profiles) each loop on ``await
AsyncDispatcher.next_ticket(agent_id)``, accept the offer and complete the
ticket at once.  Producers push ``tickets`` tickets of the contact-centre
mix (see :mod:`triage_queue.bench.load_suite`); the teams hold all 16
groups, so every ticket has takers:

* ``coroutines`` mode: producer coroutines on the same event loop (an async
  web back end's request handlers), each submitting one ticket and then
  yielding to the loop (``await asyncio.sleep(0)``): as fast as the loop
  allows, so this is the hand-over latency of a saturated loop;
* ``threads`` mode: producer threads submitting from outside the loop,
  paced at ``thread_rate`` tickets per second each, well below what the
  loop can serve (the dispatcher wakes the coroutine with
  ``call_soon_threadsafe``).

Wake-up latency: from the start of the ``submit`` call to the agent
coroutine resuming with its offer in hand (before it accepts).  There is
always a free agent, so a ticket never waits in the queue: this is the cost
of the hand-over itself, including the event loop's turn.  Accounting: every
ticket served exactly once, cross-checked with the dispatcher's own view.
"""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from pathlib import Path
from typing import Any

from triage_queue import Agent, AsyncDispatcher, Dispatcher, Policy, Ticket, TicketQueue
from triage_queue._progress import Progress, Task
from triage_queue.bench.load_suite import (
    CDF_QUANTILES,
    GcWatch,
    _quantiles,
    account,
    dispatcher_checks,
    make_tickets,
    percentiles,
    triple,
)
from triage_queue.bench.suite import pyplot

__all__ = ["NAME", "TITLE", "make_team_agents", "markdown", "params", "plots", "run"]

NAME = "asyncio"
TITLE = "asyncio: thousands of agent coroutines awaiting next_ticket while producers push"

TEAMS = 4
GROUPS_PER_TEAM = 4


def make_team_agents(count: int) -> list[Agent]:
    """``count`` agents of capacity 1 in four teams; team ``i % 4`` holds
    groups ``4t .. 4t+3`` at level 3, so the roster has four profiles.

    Runtime complexity: O(count).

    >>> agents = make_team_agents(8)
    >>> len({a.skills for a in agents}), sorted(agents[1].skills)
    (4, ['group4', 'group5', 'group6', 'group7'])
    """
    agents = []
    for i in range(count):
        team = i % TEAMS
        skills = {f"group{g}": 3 for g in range(team * GROUPS_PER_TEAM, (team + 1) * GROUPS_PER_TEAM)}
        agents.append(Agent(f"C{i}", skills=skills, capacity=1))
    return agents


def _dispatcher(agent_count: int, tickets: int) -> Dispatcher:
    q = TicketQueue(Policy.default(), clock=time.monotonic)
    return Dispatcher(q, make_team_agents(agent_count), affinity_wait=0)


async def _run_async(
    dispatcher: Dispatcher, tickets: list[Ticket], mode: str, *, producers: int, thread_rate: float, task: Task
) -> dict[str, Any]:
    aio = AsyncDispatcher(dispatcher)
    clock = time.perf_counter
    total = len(tickets)
    submitted_at: dict[str, float] = {}
    latencies: list[float] = []
    completed: list[str] = []
    all_done = asyncio.Event()
    agent_ids = [agent.id for agent in dispatcher.roster]

    async def agent(agent_id: str) -> None:
        # The agent's work is instantaneous: what is measured is the dispatcher
        # and the event loop.
        next_ticket, accept, complete = aio.next_ticket, aio.accept, aio.complete
        while True:
            offer = await next_ticket(agent_id)
            assert offer is not None  # no timeout was given
            latencies.append(clock() - submitted_at[offer.ticket.id])
            completed.append(complete(accept(offer).id, agent_id).id)
            if len(completed) == total:
                all_done.set()
            if len(completed) % 256 == 0:
                task.advance(256)

    agents = [asyncio.ensure_future(agent(agent_id)) for agent_id in agent_ids]
    # Every agent task runs to its first await (nothing to take yet) before
    # this one resumes: the first ticket finds them all waiting.
    await asyncio.sleep(0)
    started = clock()

    async def producer(mine: list[Ticket]) -> None:
        submit = aio.submit
        for ticket in mine:
            submitted_at[ticket.id] = clock()
            submit(ticket)
            await asyncio.sleep(0)

    def thread_producer(mine: list[Ticket]) -> None:
        submit = aio.submit
        interval = 1.0 / thread_rate
        due = clock()
        for ticket in mine:
            submitted_at[ticket.id] = clock()
            submit(ticket)
            due += interval
            pause = due - clock()
            if pause > 0:
                time.sleep(pause)

    threads: list[threading.Thread] = []
    if mode == "coroutines":
        feeders = [asyncio.ensure_future(producer(tickets[i::producers])) for i in range(producers)]
        await asyncio.gather(*feeders)
    else:
        threads = [threading.Thread(target=thread_producer, args=(tickets[i::producers],)) for i in range(producers)]
        for thread in threads:
            thread.start()
    await all_done.wait()
    wall = clock() - started
    for future in agents:
        future.cancel()
    await asyncio.gather(*agents, return_exceptions=True)
    for thread in threads:
        thread.join()
    submitted = [t.id for t in tickets]
    return {
        "mode": mode,
        "producers": producers,
        "thread_rate_per_producer": thread_rate if mode == "threads" else None,
        "wall_s": wall,
        "completed_per_s": len(completed) / wall,
        "wakeup_us": percentiles(latencies),
        "wakeup_cdf_us": _quantiles(latencies),
        "accounting": account(submitted, [completed], checks=dispatcher_checks(dispatcher, submitted)),
    }


def _measure(
    coroutines: int, tickets: int, mode: str, *, producers: int, thread_rate: float, seed: int, task: Task
) -> dict[str, Any]:
    # The teams hold all 16 groups at level 3: every ticket has takers.
    batch = make_tickets(tickets, seed=seed, prefix=f"{mode[0].upper()}", now=time.monotonic())
    dispatcher = _dispatcher(coroutines, tickets)
    gc.collect()
    with GcWatch() as watch:
        row = asyncio.run(_run_async(dispatcher, batch, mode, producers=producers, thread_rate=thread_rate, task=task))
    row["gc"] = watch.figures()
    row["coroutines"] = coroutines
    row["tickets"] = tickets
    return row


def params(quick: bool) -> dict[str, Any]:
    """Coroutines, tickets, producers per mode.  Runtime complexity: O(1).

    >>> params(quick=True)["coroutines"] < params(quick=False)["coroutines"]
    True
    """
    if quick:
        return {
            "coroutines": 1_000,
            "tickets": 2_000,
            "producers": 4,
            "modes": ["coroutines", "threads"],
            "thread_rate": 250.0,
            "seed": 20261124,
        }
    return {
        "coroutines": 10_000,
        "tickets": 20_000,
        "producers": 4,
        "modes": ["coroutines", "threads"],
        "thread_rate": 250.0,
        "seed": 20261124,
    }


def run(params: dict[str, Any], progress: Progress) -> dict[str, Any]:
    """Run every mode; wake-up latency percentiles and the accounting.

    Runtime complexity: O(modes * (coroutines + tickets) * per-operation cost).

    >>> small = dict(params(True), coroutines=20, tickets=50, thread_rate=20_000.0)
    >>> result = run(small, Progress(enabled=False))
    >>> result["accounting"]["ok"], result["modes"]["coroutines"]["accounting"]["served_once"]
    (True, 50)
    """
    coroutines, tickets = int(params["coroutines"]), int(params["tickets"])
    producers, rate, seed = int(params["producers"]), float(params["thread_rate"]), int(params["seed"])
    result: dict[str, Any] = {
        "params": dict(params),
        "workload": __doc__.split("\n\n", 1)[1].strip() if __doc__ else "",
        "modes": {},
    }
    modes = list(params["modes"])
    with progress.task(f"asyncio: {coroutines:,} awaiting coroutines", total=tickets * len(modes)) as task:
        for mode in modes:
            row = _measure(coroutines, tickets, mode, producers=producers, thread_rate=rate, seed=seed, task=task)
            result["modes"][mode] = row
            wake = row["wakeup_us"]
            progress.note(
                f"  {mode} producers: {row['completed_per_s']:,.0f} tickets/s, wake-up p50/p99/p99.9 {triple(wake)} us;"
                f" served once: {row['accounting']['ok']}"
            )
    ledger = {f"asyncio {mode}": row["accounting"] for mode, row in result["modes"].items()}
    result["accounting"] = {"ok": all(entry["ok"] for entry in ledger.values()), "by_run": ledger}
    return result


def markdown(result: dict[str, Any]) -> list[str]:
    """The summary table.  Runtime complexity: O(modes).

    >>> markdown({"params": {"coroutines": 10}, "modes": {}, "accounting": {"ok": True, "by_run": {}}})[0]
    '### asyncio: 10 agent coroutines awaiting work'
    """
    lines = [
        f"### asyncio: {result['params']['coroutines']:,} agent coroutines awaiting work",
        "",
        "Wake-up latency: from the start of `submit` to the awaiting coroutine resuming with its offer, microseconds.",
        "",
        "| producers | tickets | tickets/s | wake-up p50 | p99 | p99.9 | max | gen-2 GC passes (longest ms) | served once |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for mode, row in result["modes"].items():
        wake = row["wakeup_us"]
        how = f"{row['producers']} {mode}" + (
            f" at {row['thread_rate_per_producer']:,.0f}/s each" if row.get("thread_rate_per_producer") else ""
        )
        lines.append(
            f"| {how} | {row['tickets']:,} | {row['completed_per_s']:,.0f}"
            f" | {triple(wake).replace(' / ', ' | ')} | {wake['max']:,.1f}"
            f" | {_gen2(row)} | {'yes' if row['accounting']['ok'] else 'NO'} |"
        )
    lines += ["", "Accounting: every ticket served exactly once." if result["accounting"]["ok"] else "Accounting FAILED."]
    return lines


def _gen2(row: dict[str, Any]) -> str:
    figures = row.get("gc", {}).get("2")
    return "n/a" if figures is None else f"{figures['collections']} ({figures['longest_ms']:,.1f})"


def plots(result: dict[str, Any], out_dir: Path) -> list[Path]:
    """The wake-up latency CDF per producer mode, as a PNG in ``out_dir``;
    ``[]`` without matplotlib or data.  Runtime complexity: O(modes).

    >>> import tempfile
    >>> plots({"modes": {}}, Path(tempfile.mkdtemp()))
    []
    """
    if not result["modes"]:
        return []
    plt = pyplot()
    if plt is None:
        return []
    out_dir.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    quantiles = [q * 100 for q in CDF_QUANTILES]
    for mode, row in result["modes"].items():
        if row["wakeup_cdf_us"]:
            ax.plot(row["wakeup_cdf_us"], quantiles, label=f"{row['producers']} producer {mode}")
    ax.set_xscale("log")
    ax.set_xlabel("wake-up latency, microseconds (submit -> coroutine resumed with its offer)")
    ax.set_ylabel("percentile")
    ax.set_title(f"{result['params']['coroutines']:,} awaiting agent coroutines")
    ax.grid(True, alpha=0.3, which="both")
    ax.legend(fontsize=8)
    path = out_dir / "asyncio_wakeup_cdf.png"
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return [path]
