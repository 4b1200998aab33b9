"""The public surface: __all__, the API docs, docstrings and the demo command."""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
from pathlib import Path

import triage_queue
from triage_queue import (
    Agent,
    AsyncDispatcher,
    Dispatcher,
    IndexedHeap,
    Policy,
    PolicyFile,
    Roster,
    SkillSet,
    SlaTargets,
    Ticket,
    TicketQueue,
    WaitHistogram,
)
from triage_queue._demo import AGENTS, _arrivals, _returning, run

ROOT = Path(__file__).resolve().parent.parent


def test_all_matches_api_docs() -> None:
    """Every name in __all__ has a section in docs/api.md, and nothing else does."""
    doc = (ROOT / "docs" / "api.md").read_text()
    documented = set(re.findall(r"^### `([A-Za-z_]+)`", doc, re.MULTILINE))
    assert documented == set(triage_queue.__all__)


def test_all_names_exist_and_are_sorted() -> None:
    """__all__ lists only real attributes, once each, in sorted order."""
    names = triage_queue.__all__
    assert len(names) == len(set(names))
    assert names == sorted(names, key=lambda n: (not n.isupper(), n)) or names == sorted(names)
    for name in names:
        assert hasattr(triage_queue, name), name


def test_every_public_class_and_function_is_documented() -> None:
    """Each public class and function carries a docstring."""
    for name in triage_queue.__all__:
        obj = getattr(triage_queue, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert obj.__doc__ and obj.__doc__.strip(), name


def _public_methods(cls: type) -> list[str]:
    return [
        n
        for n, member in vars(cls).items()
        if callable(member) and (not n.startswith("_") or n in {"__getitem__", "__setitem__", "__delitem__", "__len__", "__contains__", "__iter__"})
    ]


def test_core_operations_state_their_complexity() -> None:
    """Every public operation of the core structures states its complexity."""
    for cls in (TicketQueue, IndexedHeap, Policy, SkillSet, Agent, Roster, Dispatcher, AsyncDispatcher, WaitHistogram, PolicyFile, SlaTargets):
        for name in _public_methods(cls):
            doc = inspect.getdoc(getattr(cls, name)) or ""
            assert "complexity" in doc.lower(), f"{cls.__name__}.{name} does not state its complexity"


def test_package_ships_py_typed() -> None:
    """The package is marked as typed for mypy users."""
    assert (Path(triage_queue.__file__).parent / "py.typed").is_file()


def test_demo_serves_every_ticket_once_to_a_qualified_agent() -> None:
    """The demo serves the emergency first, every ticket exactly once, each to an agent with the skills."""
    lines: list[str] = []
    assignments = run(lines.append)
    served = [ticket_id for ticket_id, _ in assignments]
    assert served[0] == "T-104", "the outage must be served first"
    tickets = {t.id: t for t in [*_arrivals(), _returning()]}
    assert len(served) == len(set(served)) == len(tickets)
    for ticket_id, agent in assignments:
        assert tickets[ticket_id].skills.satisfied_by(AGENTS[agent]), (ticket_id, agent)
    text = "\n".join(lines)
    assert "emergency" in text and "customer tier 'gold'" in text and "follow-up" in text
    assert "declines" in text and "held for" in text, "the demo shows a decline and an affinity hold"
    assert dict(assignments)["T-110"] == dict(assignments)["T-101"], "the returning customer gets their agent back"


def test_demo_command_runs() -> None:
    """`python -m triage_queue demo` exits 0 and prints the assignments."""
    result = subprocess.run([sys.executable, "-m", "triage_queue", "demo"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "takes T-104" in result.stdout


def test_ticket_is_a_frozen_value() -> None:
    """Tickets are immutable values: equal by content, hashable."""
    a, b = Ticket("T", 1.0, skills=["x"]), Ticket("T", 1.0, skills={"x": 1})
    assert a == b and hash(a) == hash(b)


OPTIONAL_EXTRAS = ("matplotlib", "tqdm", "simpy", "pqdict", "heapdict", "hypothesis", "pytest", "numpy")


def _modules_after(statement: str) -> set[str]:
    code = f"import sys\n{statement}\nprint('\\n'.join(sys.modules))"
    # -I: no user site, no PYTHONPATH, so only what the import itself pulls in counts.
    result = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, check=True)
    return {line.split(".")[0] for line in result.stdout.splitlines()}


def test_core_imports_no_optional_extra() -> None:
    """`import triage_queue` and its command line pull in attrs and sortedcontainers only: never a plotting,
    progress-bar, benchmark or testing package, so the core works without any extra installed."""
    for statement in ("import triage_queue", "import triage_queue.__main__", "import triage_queue.sim", "import triage_queue.testing"):
        loaded = _modules_after(statement)
        assert not loaded & set(OPTIONAL_EXTRAS), (statement, sorted(loaded & set(OPTIONAL_EXTRAS)))
