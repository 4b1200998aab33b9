"""A helpdesk with several web workers sharing one triage desk.

Run it (three worker processes, one desk on a SQLite log)::

    pip install "triage-queue" fastapi uvicorn
    cd examples/helpdesk
    DESK_LOG=sqlite:///desk-log.db HELPDESK_DB=helpdesk.db \\
        uvicorn app:app --workers 3 --port 8000

or many hosts on Redis: ``DESK_LOG=redis://redis-host:6379/0`` (needs
``pip install "triage-queue[redis]"``).  Every worker process holds a
replica of the desk (a :class:`~triage_queue.shared.SharedDesk` on the
shared log); a call answered by one worker returns once that worker's
replica has applied it, so a ticket created on one worker can be pulled,
accepted and completed on any other.

The helpdesk keeps its own database (``HELPDESK_DB``, SQLite here): the
tickets, and the assignments with a unique constraint on
``(ticket_id, offer_id)``.  The offer id is a *fencing token*: the desk
hands each offer out once, and every write about an assignment names the
offer it came from, so a retried or stale accept cannot record a second
assignment and a completion from an agent whose offer was superseded
changes nothing (docs/deployment.md, "The offer id as a fencing token").

Endpoints::

    POST /agents/{agent}/login      {"skills": {"billing": 3}, "capacity": 2}
    POST /agents/{agent}/heartbeat
    POST /agents/{agent}/logout
    POST /tickets                   {"id": "T-1", "subject": "...", "severity": "high", "skills": {...}, "tier": "gold"}
    POST /agents/{agent}/next       -> {"offer_id", "ticket_id", "expires_at"} or {"offer_id": null}
    POST /offers/{offer_id}/accept  {"agent": "ana"}
    POST /tickets/{id}/complete     {"agent": "ana", "offer_id": "helpdesk-7"}
    POST /tickets/{id}/escalate     {"severity": "critical"} (or "tier", "contacts")
    GET  /tickets/{id}              the helpdesk's record and the desk's status
    GET  /tickets/{id}/position     {"status": "waiting", "position": 3}
    GET  /tickets/{id}/explanation  why it went (or did not go) to each agent
    GET  /stats                     the desk's live statistics
    GET  /board/                    the live board of the desk (a web page for supervisors)

Settings (environment): ``DESK_LOG`` (default ``sqlite:///desk-log.db``),
``HELPDESK_DB`` (``helpdesk.db``), ``DESK_NAME`` (``helpdesk``),
``DESK_POLICY`` (a policy TOML file; default the built-in policy),
``DESK_PRESENCE_GRACE`` (seconds without a heartbeat before an agent goes
away; ``30``), ``DESK_OFFER_TIMEOUT`` (``30``).

The live board (``/board/``: :mod:`triage_queue.board` on the worker's
replica) is served by three plain routes: the page and ``/board/state``
through the board's WSGI application, and the live stream
``/board/events`` through :meth:`Board.stream
<triage_queue.board.Board.stream>`, each stream on a thread of a pool of
its own.  Starlette's ``WSGIMiddleware`` (deprecated) never closes a
stream whose page went away, so it would keep the stream's place; with
``a2wsgi`` installed, ``app.mount("/board", WSGIMiddleware(board_app))``
serves it all.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any

import anyio
from fastapi import Body, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response, StreamingResponse

from triage_queue import Agent, AgentStatus, Ticket
from triage_queue.board import BoardApp, board_app
from triage_queue.config import load_policy
from triage_queue.errors import InvalidArgument, InvalidValue, NotAssigned, OfferClosed, TriageError, UnknownAgent, UnknownTicket
from triage_queue.shared import SharedDesk
from triage_queue.shared.cli import open_desk_log

JsonBody = Annotated[dict[str, Any] | None, Body()]

BOARD_STREAMS = 16  # live board pages at once per worker (more poll /board/state)
BOARD_STREAM_SECONDS = 20.0  # a page's stream then ends; the browser resumes it (Last-Event-ID), and a
# stopping worker waits for no stream longer than this plus a heartbeat (uvicorn waits for open responses)

SCHEMA = """
CREATE TABLE IF NOT EXISTS tickets (
    id TEXT PRIMARY KEY,
    subject TEXT NOT NULL,
    severity TEXT NOT NULL,
    tier TEXT,
    skills TEXT NOT NULL,
    status TEXT NOT NULL,             -- open, assigned, completed
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS assignments (
    ticket_id TEXT NOT NULL REFERENCES tickets(id),
    offer_id TEXT NOT NULL,           -- the fencing token
    agent_id TEXT NOT NULL,
    accepted_at REAL NOT NULL,
    completed_at REAL,
    UNIQUE (ticket_id, offer_id)
);
"""


class Helpdesk:
    """The worker's state: its replica of the desk and its database connections."""

    def __init__(self) -> None:
        self.db_path = os.environ.get("HELPDESK_DB", "helpdesk.db")
        self.log_url = os.environ.get("DESK_LOG", "sqlite:///desk-log.db")
        self.name = os.environ.get("DESK_NAME", "helpdesk")
        self.local = threading.local()
        settings: dict[str, Any] = {"offer_timeout": float(os.environ.get("DESK_OFFER_TIMEOUT", "30"))}
        policy_path = os.environ.get("DESK_POLICY")
        if policy_path:
            pf = load_policy(policy_path)
            settings.update(policy=pf.policy, selection=pf.selection_strategy())
        with contextlib.closing(sqlite3.connect(self.db_path, timeout=30)) as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(SCHEMA)
        self.log = open_desk_log(self.log_url, self.name)
        self.desk = SharedDesk(
            self.log,
            name=self.name,
            presence_grace=float(os.environ.get("DESK_PRESENCE_GRACE", "30")),
            **settings,
        )
        # The live board of this worker's replica, at /board/.
        self.board: BoardApp = board_app(
            self.desk, title=f"Helpdesk desk {self.name!r}", max_clients=BOARD_STREAMS, heartbeat=5.0
        )
        self.stream_threads: anyio.CapacityLimiter | None = None  # made on first use, in the event loop

    @contextlib.contextmanager
    def db(self) -> Iterator[sqlite3.Connection]:
        """This thread's connection, in a transaction (committed on success)."""
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.db_path, timeout=30, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA busy_timeout=30000")
            self.local.conn = conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def close(self) -> None:
        self.board.board.close()  # open board pages get "bye" and poll
        self.desk.close()
        self.log.close()


_running: dict[str, Helpdesk] = {}


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    _running["helpdesk"] = Helpdesk()
    try:
        yield
    finally:
        _running.pop("helpdesk").close()


app = FastAPI(title="helpdesk on a shared triage desk", lifespan=lifespan)


def hd() -> Helpdesk:
    return _running["helpdesk"]


@app.exception_handler(TriageError)
def triage_error(request: Any, exc: TriageError) -> JSONResponse:
    # The library's errors name the field and value: pass them on.
    if isinstance(exc, UnknownTicket | UnknownAgent):
        code = 404
    elif isinstance(exc, OfferClosed | NotAssigned):
        code = 409
    elif isinstance(exc, InvalidValue):
        code = 422
    else:
        code = 500
    return JSONResponse({"error": type(exc).__name__, "detail": str(exc)}, status_code=code)


# -- agents ----------------------------------------------------------------------------


@app.post("/agents/{agent_id}/login")
def login(agent_id: str, body: JsonBody = None) -> dict[str, Any]:
    body = body or {}
    desk = hd().desk
    skills = body.get("skills", {})
    capacity = body.get("capacity", 1)
    try:
        desk.add_agent(Agent(agent_id, skills=skills, capacity=capacity))
    except TriageError:  # known already (another worker, an earlier session): update and make available
        desk.update_agent(agent_id, skills=skills, capacity=capacity)
        desk.set_status(agent_id, AgentStatus.AVAILABLE)
    desk.heartbeat(agent_id)
    return {"agent": agent_id, "status": "available"}


@app.post("/agents/{agent_id}/heartbeat")
def heartbeat(agent_id: str) -> dict[str, Any]:
    hd().desk.heartbeat(agent_id)
    return {"agent": agent_id}


@app.post("/agents/{agent_id}/logout")
def logout(agent_id: str) -> dict[str, Any]:
    hd().desk.set_status(agent_id, AgentStatus.OFFLINE)
    return {"agent": agent_id, "status": "offline"}


# -- tickets ----------------------------------------------------------------------------


@app.post("/tickets")
def create_ticket(body: JsonBody = None) -> dict[str, Any]:
    body = body or {}
    h = hd()
    ticket_id = str(body.get("id") or uuid.uuid4().hex[:12])
    now = time.time()
    ticket = Ticket(
        ticket_id,
        now,
        severity=body.get("severity", "normal"),
        customer_tier=body.get("tier"),
        skills=body.get("skills", {}),
        customer_id=body.get("customer"),
    )
    with h.db() as db:
        try:
            db.execute(
                "INSERT INTO tickets (id, subject, severity, tier, skills, status, created_at) VALUES (?, ?, ?, ?, ?, 'open', ?)",
                (
                    ticket_id,
                    str(body.get("subject", "")),
                    ticket.severity.name.lower(),
                    ticket.customer_tier,
                    json.dumps(dict(ticket.skills.items())),
                    now,
                ),
            )
        except sqlite3.IntegrityError:
            raise HTTPException(409, f"ticket {ticket_id!r} exists") from None
        # Submitted inside the transaction: if the desk refuses it, the row is rolled back.
        offer = h.desk.submit(ticket)
    return {"id": ticket_id, "status": "offered" if offer is not None else "waiting"}


def _offer_json(offer: Any) -> dict[str, Any]:
    if offer is None:
        return {"offer_id": None}
    return {"offer_id": offer.id, "ticket_id": offer.ticket.id, "expires_at": offer.expires_at}


@app.post("/agents/{agent_id}/next")
def pull_next(agent_id: str) -> dict[str, Any]:
    """The agent's next offer: one not handed out yet, else the oldest one
    it holds (a retry after a lost response), else None."""
    desk = hd().desk
    offer = desk.next_for(agent_id)
    if offer is None:
        held = desk.offers_for(agent_id)
        offer = held[0] if held else None
    return _offer_json(offer)


@app.post("/offers/{offer_id}/accept")
def accept(offer_id: str, body: JsonBody = None) -> dict[str, Any]:
    body = body or {}
    h = hd()
    agent_id = body.get("agent")
    ticket = h.desk.accept(offer_id)
    with h.db() as db:
        # The fencing token: the same (ticket, offer) can be recorded once.
        cur = db.execute(
            "INSERT OR IGNORE INTO assignments (ticket_id, offer_id, agent_id, accepted_at) VALUES (?, ?, ?, ?)",
            (ticket.id, offer_id, str(agent_id), time.time()),
        )
        db.execute("UPDATE tickets SET status = 'assigned' WHERE id = ? AND status = 'open'", (ticket.id,))
    return {"ticket_id": ticket.id, "offer_id": offer_id, "recorded": cur.rowcount == 1}


@app.post("/tickets/{ticket_id}/complete")
def complete(ticket_id: str, body: JsonBody = None) -> dict[str, Any]:
    body = body or {}
    h = hd()
    agent_id, offer_id = body.get("agent"), body.get("offer_id")
    with h.db() as db:
        row = db.execute(
            "SELECT agent_id FROM assignments WHERE ticket_id = ? AND offer_id = ? AND completed_at IS NULL",
            (ticket_id, offer_id),
        ).fetchone()
        if row is None or row[0] != agent_id:
            raise HTTPException(409, f"ticket {ticket_id!r} is not assigned to {agent_id!r} by offer {offer_id!r}")
        h.desk.complete(ticket_id, agent_id)
        db.execute(
            "UPDATE assignments SET completed_at = ? WHERE ticket_id = ? AND offer_id = ?", (time.time(), ticket_id, offer_id)
        )
        db.execute("UPDATE tickets SET status = 'completed' WHERE id = ?", (ticket_id,))
    return {"ticket_id": ticket_id, "status": "completed"}


@app.post("/tickets/{ticket_id}/escalate")
def escalate(ticket_id: str, body: JsonBody = None) -> dict[str, Any]:
    body = body or {}
    h = hd()
    changes = {k: body[k] for k in ("severity", "tier", "contacts") if k in body}
    if "tier" in changes:
        changes["customer_tier"] = changes.pop("tier")
    if not changes:
        raise HTTPException(422, "nothing to change: give severity, tier or contacts")
    ticket = h.desk.update(ticket_id, **changes)
    with h.db() as db:
        db.execute(
            "UPDATE tickets SET severity = ?, tier = ? WHERE id = ?",
            (ticket.severity.name.lower(), ticket.customer_tier, ticket_id),
        )
    return {"ticket_id": ticket_id, "severity": ticket.severity.name.lower(), "tier": ticket.customer_tier}


@app.get("/tickets/{ticket_id}")
def show(ticket_id: str) -> dict[str, Any]:
    h = hd()
    with h.db() as db:
        row = db.execute("SELECT subject, severity, tier, status FROM tickets WHERE id = ?", (ticket_id,)).fetchone()
    if row is None:
        raise HTTPException(404, f"no ticket {ticket_id!r}")
    h.desk.sync()
    try:
        on_desk = h.desk.status(ticket_id)
    except UnknownTicket:
        on_desk = "gone"  # completed or cancelled
    return {"id": ticket_id, "subject": row[0], "severity": row[1], "tier": row[2], "status": row[3], "desk": on_desk}


@app.get("/tickets/{ticket_id}/position")
def position(ticket_id: str) -> dict[str, Any]:
    desk = hd().desk
    desk.sync()  # see every worker's latest commands
    try:
        status = desk.status(ticket_id)
    except UnknownTicket:
        show(ticket_id)  # 404 unless the helpdesk knows it
        return {"ticket_id": ticket_id, "status": "gone", "position": None}  # completed or cancelled
    if status != "waiting":
        return {"ticket_id": ticket_id, "status": status, "position": None}
    return {"ticket_id": ticket_id, "status": status, "position": desk.position(ticket_id)}


@app.get("/tickets/{ticket_id}/explanation")
def explanation(ticket_id: str) -> dict[str, Any]:
    desk = hd().desk
    desk.sync()
    return desk.explain_assignment(ticket_id).to_dict()


@app.get("/stats")
def stats() -> dict[str, Any]:
    desk = hd().desk
    desk.sync()
    return desk.stats().to_dict()


# -- the live board ------------------------------------------------------------------------


def _board_page(path: str, request: Request) -> Response:
    """One GET of the board's page or state, answered by its WSGI app."""
    started: list[tuple[str, list[tuple[str, str]]]] = []
    environ = {"REQUEST_METHOD": "GET", "SCRIPT_NAME": "/board", "PATH_INFO": path, "QUERY_STRING": request.url.query}
    body = b"".join(hd().board(environ, lambda status, headers: started.append((status, headers))))
    status, headers = started[0]
    return Response(body, status_code=int(status.split()[0]), headers=dict(headers))


@app.get("/board", include_in_schema=False)
def board_home() -> RedirectResponse:
    return RedirectResponse("/board/", status_code=308)  # the page's links are relative to /board/


@app.get("/board/", include_in_schema=False)
def board_page(request: Request) -> Response:
    return _board_page("/", request)


@app.get("/board/state", include_in_schema=False)
def board_state(request: Request) -> Response:
    hd().desk.sync()  # see every worker's latest commands, as /stats does
    return _board_page("/state", request)


@app.get("/board/events", include_in_schema=False)
async def board_events(request: Request) -> Response:
    h = hd()
    try:
        chunks = h.board.board.stream(request.headers.get("last-event-id"))
    except InvalidArgument as exc:  # too many pages open: this one polls /board/state
        return Response(exc.reason + "\n", status_code=503, headers={"Retry-After": "10"}, media_type="text/plain")
    if h.stream_threads is None:
        h.stream_threads = anyio.CapacityLimiter(BOARD_STREAMS)  # streams never hold the routes' threads

    async def body() -> AsyncIterator[bytes]:
        until = time.monotonic() + BOARD_STREAM_SECONDS
        try:
            while time.monotonic() < until:
                # Waits for the next event or heartbeat on a thread of its own;
                # when the page goes away, the stream ends at its next chunk.
                chunk = await anyio.to_thread.run_sync(next, chunks, None, limiter=h.stream_threads)
                if chunk is None:
                    return
                yield chunk
        finally:
            chunks.close()  # frees its place

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no", "X-Content-Type-Options": "nosniff"}
    return StreamingResponse(body(), media_type="text/event-stream; charset=utf-8", headers=headers)
