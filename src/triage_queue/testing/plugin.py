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
    or the path of a policy TOML file; a policy file also sets the
    dispatcher's selection strategy and options.
``@pytest.mark.triage_agents(agents)``
    :class:`~triage_queue.Agent` values, or agent ids (an agent with no skills
    and capacity 1).
``@pytest.mark.triage_options(**options)``
    keyword arguments for the :class:`~triage_queue.Dispatcher` (they win
    over a policy file's).
``@pytest.mark.triage_start(seconds)``
    where ``triage_clock`` starts.

>>> import triage_queue.testing.plugin as plugin
>>> sorted(name for name in plugin.__all__ if name.startswith("triage_"))
['triage_clock', 'triage_dispatcher', 'triage_queue']
"""

from __future__ import annotations

import os
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


def _policy_source(request: pytest.FixtureRequest) -> Any:
    found = _marker_args(request, "triage_policy")
    if found is None:
        return None
    args, kwargs = found
    if len(args) != 1 or kwargs:
        raise InvalidArgument("triage_policy", args, "expected one argument: a Policy, a PolicyFile or a TOML path")
    source = args[0]
    if isinstance(source, str | os.PathLike):
        from triage_queue.config import load_policy

        return load_policy(source)
    return source


@pytest.fixture
def triage_clock(request: pytest.FixtureRequest) -> FakeClock:
    """A :class:`~triage_queue.testing.FakeClock` at 0 (or at the
    ``triage_start`` marker's time).

    Runtime complexity: O(1).
    """
    found = _marker_args(request, "triage_start")
    if found is None:
        return FakeClock()
    args, _ = found
    return FakeClock(*args)


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
    agents: list[Agent] = []
    found = _marker_args(request, "triage_agents")
    if found is not None:
        args, _ = found
        members = args[0] if len(args) == 1 and not isinstance(args[0], str | Agent) else args
        agents = [Agent(a) if isinstance(a, str) else a for a in members]
    return Dispatcher(triage_queue, agents, **options)
