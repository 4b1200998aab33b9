"""A bounded load on the helpdesk app: creators file tickets, agents pull,
accept and complete them over HTTP, until every ticket is completed or the
deadline passes.  Prints a JSON summary.

    python load.py --url http://127.0.0.1:8000 --tickets 300 --agents 6
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import threading
import time
from typing import Any

import httpx


def run(
    url: str, *, tickets: int = 300, agents: int = 6, creators: int = 3, deadline: float = 60.0, seed: int = 7
) -> dict[str, Any]:
    """Drive the app at ``url``; return what happened (counts, conflicts, seconds)."""
    start = time.monotonic()
    stop_at = start + deadline
    lock = threading.Lock()
    summary: dict[str, Any] = {"created": 0, "completed": 0, "escalated": 0, "conflicts": 0, "errors": []}
    completed_ids: list[str] = []

    def note_error(text: str) -> None:
        with lock:
            if len(summary["errors"]) < 20:
                summary["errors"].append(text)

    def creator(c: int) -> None:
        rng = random.Random(seed * 100 + c)
        with httpx.Client(base_url=url, timeout=20) as http:
            for i in range(c, tickets, creators):
                body = {
                    "id": f"T-{i:05d}",
                    "subject": f"ticket {i}",
                    "severity": rng.choice(["low", "normal", "normal", "high"]),
                    "skills": {"billing": rng.randint(1, 3)} if rng.random() < 0.4 else {},
                    "tier": rng.choice([None, None, "gold"]),
                }
                r = http.post("/tickets", json=body)
                if r.status_code != 200:
                    note_error(f"create {i}: {r.status_code} {r.text[:200]}")
                    continue
                with lock:
                    summary["created"] += 1
                if rng.random() < 0.05:  # a customer escalates while waiting
                    r = http.post(f"/tickets/T-{i:05d}/escalate", json={"severity": "critical"})
                    if r.status_code == 200:
                        with lock:
                            summary["escalated"] += 1
                    r = http.get(f"/tickets/T-{i:05d}/position")
                    if r.status_code != 200:
                        note_error(f"position {i}: {r.status_code} {r.text[:200]}")

    def agent(a: int) -> None:
        name = f"agent-{a}"
        skills = {"billing": 3} if a % 2 == 0 else {"billing": 1}
        with httpx.Client(base_url=url, timeout=20) as http:
            http.post(f"/agents/{name}/login", json={"skills": skills, "capacity": 2}).raise_for_status()
            last_beat = time.monotonic()
            idle = 0.0
            while time.monotonic() < stop_at:
                with lock:
                    if summary["completed"] >= tickets:
                        break
                if time.monotonic() - last_beat > 1.0:
                    http.post(f"/agents/{name}/heartbeat")
                    last_beat = time.monotonic()
                offer = http.post(f"/agents/{name}/next").json()
                if offer.get("offer_id") is None:
                    idle = min(0.2, idle + 0.02)
                    time.sleep(idle)
                    continue
                idle = 0.0
                r = http.post(f"/offers/{offer['offer_id']}/accept", json={"agent": name})
                if r.status_code == 409:  # expired or taken meanwhile
                    with lock:
                        summary["conflicts"] += 1
                    continue
                if r.status_code != 200:
                    note_error(f"accept {offer}: {r.status_code} {r.text[:200]}")
                    continue
                ticket_id = r.json()["ticket_id"]
                r = http.post(f"/tickets/{ticket_id}/complete", json={"agent": name, "offer_id": offer["offer_id"]})
                if r.status_code != 200:
                    note_error(f"complete {ticket_id}: {r.status_code} {r.text[:200]}")
                    continue
                with lock:
                    summary["completed"] += 1
                    completed_ids.append(ticket_id)

    threads = [threading.Thread(target=creator, args=(c,)) for c in range(creators)]
    threads += [threading.Thread(target=agent, args=(a,)) for a in range(agents)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    summary["seconds"] = round(time.monotonic() - start, 2)
    summary["distinct_completed"] = len(set(completed_ids))
    with httpx.Client(base_url=url, timeout=20) as http:
        summary["stats"] = http.get("/stats").json().get("overall")
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--tickets", type=int, default=300)
    parser.add_argument("--agents", type=int, default=6)
    parser.add_argument("--creators", type=int, default=3)
    parser.add_argument("--deadline", type=float, default=60.0)
    args = parser.parse_args(argv)
    summary = run(args.url, tickets=args.tickets, agents=args.agents, creators=args.creators, deadline=args.deadline)
    print(json.dumps(summary, indent=2))
    return 0 if summary["completed"] == args.tickets and not summary["errors"] else 1


if __name__ == "__main__":
    sys.exit(main())
