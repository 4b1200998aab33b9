"""`python -m triage_queue board --desk URL`: a real board process showing a
shared desk (SQLite log) that another SharedDesk, here in the test, feeds:
its /state shows the tickets submitted elsewhere, its page follows them in
a real headless Chromium, and it refuses a desk that is not there."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest

from test_board import browser, text_of, wait_for  # noqa: F401 - the module-scoped browser fixture
from triage_queue import Agent, Ticket
from triage_queue.config import load_policy
from triage_queue.shared import SharedDesk, SqliteLog

POLICY = Path(__file__).resolve().parent.parent / "examples" / "policies" / "vip-first.toml"
NAME = "front"


def _lines(stream: IO[str], into: queue.Queue[str]) -> None:
    for line in stream:
        into.put(line)


@pytest.fixture
def shared_board(tmp_path: Path) -> Iterator[tuple[SharedDesk, str]]:
    """A shared desk on a SQLite log (created here, fed by this test) and a
    board process following it: (the feeding desk, the board's URL)."""
    pf = load_policy(POLICY)
    path = tmp_path / "desk.db"
    feeder = SharedDesk(
        SqliteLog(path),
        name=NAME,
        agents=[Agent("ana", skills={"billing": 2}), Agent("bo", status="away")],
        policy=pf.policy,
        selection=pf.selection_strategy(),
        follow=False,
        **pf.dispatcher_options,
    )
    board = subprocess.Popen(
        [sys.executable, "-m", "triage_queue", "board", "--desk", f"sqlite:///{path}", "--name", NAME,
         "--policy", str(POLICY), "--port", "0", "--title", "Shared desk"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    out: queue.Queue[str] = queue.Queue()
    assert board.stdout is not None
    threading.Thread(target=_lines, args=(board.stdout, out), daemon=True).start()
    try:
        url = None
        deadline = time.monotonic() + 20
        while url is None:
            assert time.monotonic() < deadline, "the board did not start"
            try:
                line = out.get(timeout=0.2)
            except queue.Empty:
                assert board.poll() is None, board.stderr.read() if board.stderr else ""
                continue
            if line.startswith("Board: "):
                url = line.split()[1]
        yield feeder, url
        board.send_signal(signal.SIGINT)
        assert board.wait(15) == 0  # Ctrl-C: a clean stop
    finally:
        if board.poll() is None:
            board.kill()
            board.wait(10)
        feeder.close()
        feeder.log.close()


def state_at(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url + "state", timeout=5) as response:
        data: dict[str, Any] = json.load(response)
    return data


def eventually(url: str, check: Any, what: str, timeout: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        state = state_at(url)
        if check(state):
            return state
        assert time.monotonic() < deadline, f"/state never showed {what}: {state}"
        time.sleep(0.05)


def test_board_process_shows_tickets_submitted_by_another_process(shared_board: tuple[SharedDesk, str]) -> None:
    """A ticket submitted through another SharedDesk on the log reaches the
    board process: offered to the agent who can take it, counted by class,
    and listed among the recent events."""
    feeder, url = shared_board
    feeder.submit(Ticket("T-1", time.time(), skills={"billing": 1}))
    feeder.submit(Ticket("T-2", time.time(), skills={"payments": 1}))  # nobody can take it
    state = eventually(url, lambda s: s["stats"]["overall"]["waiting"] == 1, "T-2 waiting")
    assert state["title"] == "Shared desk"
    agents = {a["id"]: (a["status"], a["offers"]) for a in state["agents"]}
    assert agents == {"ana": ("available", ["T-1"]), "bo": ("away", [])}
    assert state["stats"]["by_class"]["normal"]["waiting"] == 1 and state["stats"]["unroutable"] == 1
    assert {(e["kind"], e["ticket_id"]) for e in state["recent"]} >= {("submitted", "T-1"), ("offered", "T-1")}


def test_board_page_follows_the_shared_desk_live(browser: Any, shared_board: tuple[SharedDesk, str]) -> None:  # noqa: F811
    """In Chromium: the page of the board process connects its live stream
    and updates when another process submits tickets and an agent accepts."""
    feeder, url = shared_board
    feeder.submit(Ticket("T-1", time.time(), skills={"payments": 1}))
    eventually(url, lambda s: s["stats"]["overall"]["waiting"] == 1, "T-1 waiting")
    browser.get(url)
    wait_for(browser, lambda d: text_of(d, "#conn") == "live", "the live stream connected")
    assert text_of(browser, '#classes tr[data-class="normal"] td.waiting') == "1"
    feeder.submit(Ticket("T-2", time.time(), severity="high", skills={"payments": 1}))
    feeder.submit(Ticket("T-3", time.time(), skills={"billing": 1}))
    wait_for(browser, lambda d: text_of(d, '#classes tr[data-class="high"] td.waiting') == "1", "T-2 waiting")
    wait_for(browser, lambda d: text_of(d, '#agents tr[data-agent="ana"] td.work') == "offered T-3", "T-3 offered to ana")
    feeder.accept(feeder.offers_for("ana")[0])  # the agent accepts, elsewhere: the page shows it working
    wait_for(browser, lambda d: text_of(d, '#agents tr[data-agent="ana"] td.work') == "T-3", "ana working on T-3")
    assert [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"] == []


def test_board_refuses_a_desk_that_is_not_there(tmp_path: Path) -> None:
    """--desk on a missing SQLite file, or on a log holding no desk, is an
    error naming the URL and exit status 2; nothing is created."""
    missing = tmp_path / "missing.db"
    run = [sys.executable, "-m", "triage_queue", "board", "--port", "0", "--seconds", "0"]
    done = subprocess.run([*run, "--desk", f"sqlite:///{missing}"], capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 2 and f"desk='sqlite:///{missing}'" in done.stdout
    assert not missing.exists()
    empty = tmp_path / "empty.db"
    SqliteLog(empty).close()
    done = subprocess.run([*run, "--desk", f"sqlite:///{empty}"], capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 2 and "no desk named 'desk'" in done.stdout
    assert SqliteLog(empty).last_position() == 0
    done = subprocess.run(
        [*run, "--desk", f"sqlite:///{empty}", "--demo"], capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 2 and "--desk" in done.stdout
