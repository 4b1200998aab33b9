"""Determinism across processes: three replica processes, each with its own
PYTHONHASHSEED, put a random mixed load on one SQLite desk at once (with a
selection strategy under which every agent ties) and append digest
commands now and then; every replica reaches the same state digest at every
digest command and at the end, and none reports a divergence.

    python tests/test_shared_determinism.py worker LOG WORKER STEPS DONE_DIR
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
WORKERS = 3


def barrier(folder: str, mine: str, prefix: str) -> None:
    Path(folder, mine).write_text("done")
    deadline = time.monotonic() + 60
    while sum(name.startswith(prefix) for name in os.listdir(folder)) < WORKERS and time.monotonic() < deadline:
        time.sleep(0.02)


def worker(path: str, me: int, steps: int, done_dir: str) -> None:
    sys.path.insert(0, str(HERE))
    from desk_script import Tied
    from triage_queue import Agent, Ticket, TriageError
    from triage_queue.shared import SharedDesk, SqliteLog

    rng = random.Random(me)
    agents = [Agent(f"a{i}", skills=rng.sample(["billing", "api", "de"], 1), capacity=rng.choice([1, 2])) for i in range(5)]
    desk = SharedDesk(
        SqliteLog(path), agents=agents, name="eu", selection=Tied(), poll=0.005, digest_seconds=None, offer_timeout=0.5
    )
    replica = desk.replica
    assert replica is not None
    mine: list[str] = []
    ids = [a.id for a in agents]
    for step in range(steps):
        op = rng.choice(
            ["submit"] * 4
            + ["accept"] * 2
            + ["complete"] * 2
            + ["decline", "next_for", "update", "cancel"]
            + ["transfer", "set_status", "tick"]
        )
        try:
            if op == "submit":
                ticket_id = f"T-{me}-{step}"
                mine.append(ticket_id)
                desk.submit(
                    Ticket(
                        ticket_id,
                        0.0,
                        skills=rng.sample(["billing", "api", "de"], rng.randint(0, 1)),
                        severity=rng.choice(["low", "normal", "high"]),
                        customer_id=rng.choice([None, "acme"]),
                    )
                )
            elif op in ("accept", "decline"):
                offers = desk.offers_for(rng.choice(ids))
                if offers:
                    getattr(desk, op)(offers[0])
            elif op in ("complete", "transfer"):
                held = desk.assigned(rng.choice(ids))
                if held:
                    if op == "complete":
                        desk.complete(held[0].id)
                    else:
                        desk.transfer(held[0].id, skills=[rng.choice(["billing", "api"])])
            elif op == "next_for":
                desk.next_for(rng.choice(ids))
            elif op == "update" and mine:
                desk.update(rng.choice(mine), severity="critical")
            elif op == "cancel" and mine:
                desk.cancel(rng.choice(mine))
            elif op == "set_status":
                desk.set_status(rng.choice(ids), rng.choice(["available", "available", "away"]))
            elif op == "tick":
                desk.tick()
        except TriageError:
            pass
        if step % 25 == 24:
            desk.log.append(replica.digest_command(f"w{me}"))
    barrier(done_dir, f"load-{me}", "load-")
    desk.close()  # no more ticks from this process...
    barrier(done_dir, f"quiet-{me}", "quiet-")  # ...nor from any other: the log is final
    desk.sync()
    with replica.lock:
        digests = {cid: r.value for cid, r in replica._results.items() if r.op == "digest"}
        final = replica.digest()
    print(json.dumps({"position": replica.position, "final": final, "digests": digests, "alarms": len(replica.alarms)}))


def test_three_processes_with_different_hash_seeds_agree(tmp_path: Path) -> None:
    """Every replica has the same digest at every digest command and at the
    end of a concurrent random load, whatever its PYTHONHASHSEED."""
    path = str(tmp_path / "desk.db")
    done = tmp_path / "done"
    done.mkdir()
    from triage_queue.shared import SharedDesk, SqliteLog

    # Create the desk first, so that every worker joins the same one.
    sys.path.insert(0, str(HERE))
    from desk_script import Tied
    from triage_queue import Agent

    rng = random.Random(0)
    agents = [Agent(f"a{i}", skills=rng.sample(["billing", "api", "de"], 1), capacity=rng.choice([1, 2])) for i in range(5)]
    SharedDesk(SqliteLog(path), agents=agents, name="eu", selection=Tied(), follow=False, offer_timeout=0.5).close()
    procs = []
    for me, seed in enumerate(["0", "1", "4242"]):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        procs.append(
            subprocess.Popen(
                [sys.executable, __file__, "worker", path, str(me), "150", str(done)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
            )
        )
    reports: list[dict[str, Any]] = []
    for proc in procs:
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err[-2000:]
        reports.append(json.loads(out.strip().splitlines()[-1]))
    assert len({r["position"] for r in reports}) == 1
    assert len({r["final"] for r in reports}) == 1
    checkpoints = reports[0]["digests"]
    assert len(checkpoints) >= 3 * 5
    for report in reports[1:]:
        assert report["digests"] == checkpoints
    assert [r["alarms"] for r in reports] == [0, 0, 0]


if __name__ == "__main__":
    if sys.argv[1] == "worker":
        worker(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
