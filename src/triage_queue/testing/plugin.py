"""pytest plugin for testing your own routing policies.

Installed with triage-queue and loaded automatically (entry point
``pytest11``); it imports nothing beyond the core library.  Fixtures:

``triage_clock``
    a :class:`~triage_queue.testing.FakeClock` at 0.
``triage_queue``
    a :class:`~triage_queue.TicketQueue` on ``triage_clock`` with the default
    policy, or the test's ``triage_policy`` marker.
``triage_dispatcher``
    a :class:`~triage_queue.Dispatcher` over ``triage_queue`` with no agents,
    or the ``triage_agents`` marker's.

Markers (on a test, a class or a module):

``@pytest.mark.triage_policy(policy)``
    a :class:`~triage_queue.Policy`, a :class:`~triage_queue.config.PolicyFile`
    or the path of a policy TOML file (a relative path is taken from the test
    file's directory; an error names the resolved path); a policy file also
    sets the dispatcher's selection strategy and options.
``@pytest.mark.triage_agents(agents)``
    :class:`~triage_queue.Agent` values, or agent ids (an agent with no skills
    and capacity 1): one list, or each as an argument.
``@pytest.mark.triage_options(**options)``
    keyword arguments for the :class:`~triage_queue.Dispatcher` (they win
    over a policy file's).
``@pytest.mark.triage_start(seconds)``
    where ``triage_clock`` starts.

``triage_policy``, ``triage_agents`` and ``triage_start`` also take their
argument by the keyword shown (``triage_start(seconds=100)``); any other
keyword, or a wrong number of arguments, fails the test with
:class:`~triage_queue.InvalidArgument` rather than being ignored.

>>> import triage_queue.testing.plugin as plugin
>>> sorted(name for name in plugin.__all__ if name.startswith("triage_"))
['triage_clock', 'triage_dispatcher', 'triage_queue']
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from triage_queue.agents import Agent
from triage_queue.dispatch import Dispatcher
from triage_queue.errors import InvalidArgument
from triage_queue.policy import Policy
from triage_queue.queue import TicketQueue
from triage_queue.testing import FakeClock

__all__ = ["MARKERS", "pytest_configure", "triage_clock", "triage_dispatcher", "triage_queue"]

MARKERS: dict[str, str] = {
    "triage_policy": "triage_policy(policy): the Policy, PolicyFile or policy TOML path for the triage_queue fixture",
    "triage_agents": "triage_agents(agents): Agent values or agent ids for the triage_dispatcher fixture",
    "triage_options": "triage_options(**options): Dispatcher keyword arguments for the triage_dispatcher fixture",
    "triage_start": "triage_start(seconds): the time at which the triage_clock fixture starts",
}
"""The markers this plugin registers, with their help text."""


def pytest_configure(config: pytest.Config) -> None:
    """Register the plugin's markers (so ``--strict-markers`` accepts them).

    Runtime complexity: O(1).
    """
    for text in MARKERS.values():
        config.addinivalue_line("markers", text)


def _marker_args(request: pytest.FixtureRequest, name: str) -> tuple[tuple[Any, ...], dict[str, Any]] | None:
    marker = request.node.get_closest_marker(name)
    if marker is None:
        return None
    return marker.args, dict(marker.kwargs)


_ABSENT: Any = object()


def _marker_value(request: pytest.FixtureRequest, name: str, keyword: str, expected: str) -> Any:
    """The one argument of marker ``name``, given positionally or as
    ``keyword=``; ``_ABSENT`` without the marker.  A marker's keyword
    arguments reach no function signature, so an unknown one must be
    refused here or it would be silently dropped."""
    found = _marker_args(request, name)
    if found is None:
        return _ABSENT
    args, kwargs = found
    for key in kwargs:
        if key != keyword:
            raise InvalidArgument(name, kwargs, f"unknown keyword {key!r}: expected {name}({keyword}) or {name}({keyword}=...)")
    given = [*args, *kwargs.values()]
    if len(given) != 1:
        raise InvalidArgument(name, (*args, kwargs) if kwargs else args, f"expected one argument: {expected}")
    return given[0]


def _policy_source(request: pytest.FixtureRequest) -> Any:
    source = _marker_value(request, "triage_policy", "policy", "a Policy, a PolicyFile or a TOML path")
    if source is _ABSENT:
        return None
    if isinstance(source, str | os.PathLike):
        from triage_queue.config import load_policy

        return load_policy(_beside_the_test(request, source))
    return source


def _beside_the_test(request: pytest.FixtureRequest, source: str | os.PathLike[str]) -> Path:
    """A relative policy path is taken from the test file's directory, not
    from wherever pytest was started; the path read (and named in an error)
    is the resolved one."""
    path = Path(os.fsdecode(source))
    if not path.is_absolute():
        path = Path(request.path).parent / path
    return path.resolve()


@pytest.fixture
def triage_clock(request: pytest.FixtureRequest) -> FakeClock:
    """A :class:`~triage_queue.testing.FakeClock` at 0 (or at the
    ``triage_start`` marker's time).

    Runtime complexity: O(1).
    """
    start = _marker_value(request, "triage_start", "seconds", "the start time in seconds")
    return FakeClock() if start is _ABSENT else FakeClock(start)


@pytest.fixture
def triage_queue(request: pytest.FixtureRequest, triage_clock: FakeClock) -> TicketQueue:
    """A :class:`~triage_queue.TicketQueue` on ``triage_clock`` with the
    default policy or the ``triage_policy`` marker's.

    Runtime complexity: O(1) (O(file size) for a TOML path).
    """
    source = _policy_source(request)
    if source is None:
        return TicketQueue(clock=triage_clock)
    if isinstance(source, Policy):
        return TicketQueue(source, clock=triage_clock)
    policy = getattr(source, "policy", None)
    if not isinstance(policy, Policy):
        raise InvalidArgument("triage_policy", source, "expected a Policy, a PolicyFile or the path of a policy TOML file")
    return TicketQueue(policy, clock=triage_clock)


@pytest.fixture
def triage_dispatcher(request: pytest.FixtureRequest, triage_queue: TicketQueue) -> Dispatcher:
    """A :class:`~triage_queue.Dispatcher` over ``triage_queue``, with the
    ``triage_agents`` marker's agents (none by default), the policy file's
    selection and options if ``triage_policy`` gave one, and the
    ``triage_options`` marker's options on top.

    Runtime complexity: O(A log A) for A agents.
    """
    options: dict[str, Any] = {}
    source = _policy_source(request)
    if source is not None and not isinstance(source, Policy):
        options["selection"] = source.selection_strategy()
        options.update(source.dispatcher_options)
    found = _marker_args(request, "triage_options")
    if found is not None:
        args, kwargs = found
        if args:
            raise InvalidArgument("triage_options", args, "expected keyword arguments only")
        options.update(kwargs)
    return Dispatcher(triage_queue, _agents(request), **options)


def _agents(request: pytest.FixtureRequest) -> list[Agent]:
    found = _marker_args(request, "triage_agents")
    if found is None:
        return []
    args, kwargs = found
    for key in kwargs:
        if key != "agents":
            raise InvalidArgument(
                "triage_agents", kwargs, f"unknown keyword {key!r}: expected triage_agents([...]) or triage_agents(agents=[...])"
            )
    members: Any
    if kwargs:
        if args:
            raise InvalidArgument("triage_agents", (*args, kwargs), "give the agents positionally or as agents=[...], not both")
        members = kwargs["agents"]
    else:
        members = args[0] if len(args) == 1 and not isinstance(args[0], str | Agent) else args
    if isinstance(members, str | Agent):
        members = [members]
    try:
        listed = list(members)
    except TypeError:
        raise InvalidArgument("triage_agents", members, "expected Agent values or agent ids") from None
    for member in listed:
        if not isinstance(member, str | Agent):
            raise InvalidArgument("triage_agents", member, "expected an Agent or an agent id")
    return [Agent(a) if isinstance(a, str) else a for a in listed]
