"""The multi-worker helpdesk example (examples/helpdesk): a FastAPI app run
by uvicorn with three real worker processes on 127.0.0.1, sharing one desk
on a SQLite log and on a real Redis, driven over HTTP by a bounded load
(300 tickets, six agents pulling, accepting and completing): every ticket
is served exactly once, none is lost, in the helpdesk's own database and
on the desk, and the live board mounted at /board agrees."""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "helpdesk"
TICKETS = 300


def _require(module: str) -> None:
    if importlib.util.find_spec(module) is None:
        message = f"{module} is not installed (pip install fastapi uvicorn httpx, or the dev extra)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true and {message}")
        pytest.skip(message)


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("helpdesk_load", EXAMPLE / "load.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(params=["sqlite", "redis"])
def desk_log(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'desk-log.db'}"
    info: dict[str, Any] = request.getfixturevalue("redis_server_info")
    return str(info["url"])


def test_three_workers_serve_every_ticket_exactly_once(desk_log: str, tmp_path: Path) -> None:
    """300 tickets created, pulled, accepted and completed over HTTP across
    three uvicorn workers: each completed once, none lost, none recorded
    twice, and the desk agrees (nothing waiting, 300 served)."""
    for module in ("fastapi", "uvicorn", "httpx"):
        _require(module)
    port = _free_port()
    db = tmp_path / "helpdesk.db"
    env = dict(os.environ, DESK_LOG=desk_log, HELPDESK_DB=str(db), DESK_NAME=f"helpdesk-{port}")
    err_path = tmp_path / "uvicorn.err"
    with err_path.open("wb") as err:
        server = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "app:app", "--app-dir", str(EXAMPLE), "--workers", "3",
             "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
            stdout=subprocess.DEVNULL,
            stderr=err,
            env=env,
        )  # fmt: skip
    try:
        load = _load_script()
        import httpx

        deadline = time.monotonic() + 30
        while True:  # every worker up: each answers from its own replica
            try:
                if httpx.get(f"http://127.0.0.1:{port}/stats", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None, err_path.read_text(errors="replace")
            assert time.monotonic() < deadline, "the app did not start"
            time.sleep(0.2)

        summary = load.run(f"http://127.0.0.1:{port}", tickets=TICKETS, agents=6, creators=3, deadline=30.0)
        assert summary["errors"] == []
        assert summary["created"] == TICKETS
        assert summary["completed"] == summary["distinct_completed"] == TICKETS
        assert summary["stats"]["waiting"] == 0 and summary["stats"]["served"] == TICKETS
        board = httpx.get(f"http://127.0.0.1:{port}/board/state", timeout=10).json()  # the live board, on any worker
        assert (board["stats"]["overall"]["waiting"], board["stats"]["overall"]["served"]) == (0, TICKETS)
        assert sorted(a["id"] for a in board["agents"]) == [f"agent-{a}" for a in range(6)]

        with sqlite3.connect(db) as check:
            statuses = dict(check.execute("SELECT status, COUNT(*) FROM tickets GROUP BY status").fetchall())
            assert statuses == {"completed": TICKETS}
            rows = check.execute("SELECT ticket_id, offer_id, completed_at FROM assignments").fetchall()
        assert len(rows) == TICKETS  # one assignment per ticket: none assigned twice
        assert len({ticket for ticket, _, _ in rows}) == TICKETS
        assert len({offer for _, offer, _ in rows}) == TICKETS
        assert all(done is not None for _, _, done in rows)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            assert server.wait(20) == 0
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(10)
            raise
