"""Shared test configuration: hypothesis profiles.

``ci`` (the default) is thorough but bounded so the whole suite stays well
under the CI time budget on a 2-core machine; ``dev`` is quicker; ``deep``
runs many more examples for a local soak (HYPOTHESIS_PROFILE=deep).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile("dev", max_examples=50, deadline=None)
settings.register_profile("deep", max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


# --- A real redis-server for the shared desk's tests (pytest-redis) ---------
#
# pytest-redis starts Debian's redis-server on a free port once per session;
# `redis_client` is flushed after each test.  Without the binary the Redis
# tests skip with the install command, except under CI=true where a missing
# server is a failure (.ci/run installs it).

REDIS_SERVER = shutil.which("redis-server")
REDIS_INSTALL = "apt-get install redis-server (Debian/Ubuntu), then pip install 'triage-queue[redis]' pytest-redis"

if REDIS_SERVER:
    from pytest_redis import factories

    redis_server = factories.redis_proc(executable=REDIS_SERVER, port=None)  # a free port
    redis_client = factories.redisdb("redis_server")  # flushed after each test


def require_redis_server() -> str:
    """The path of redis-server, or skip (fail under CI=true) when it is missing."""
    if not REDIS_SERVER:
        message = f"redis-server is not installed: {REDIS_INSTALL}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true and {message}")
        pytest.skip(message)
    return REDIS_SERVER


@pytest.fixture
def redis_server_info(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Where the session's redis-server listens, for tests that start other
    processes: ``host``, ``port``, ``unixsocket`` and ``url`` (the unix socket
    as a ``unix://`` URL, the fastest way in)."""
    require_redis_server()
    proc = request.getfixturevalue("redis_server")
    request.getfixturevalue("redis_client")  # flush the database after the test
    return {
        "host": proc.host,
        "port": proc.port,
        "unixsocket": proc.unixsocket,
        "url": f"unix://{proc.unixsocket}",
    }


@pytest.fixture
def redis_log_factory(request: pytest.FixtureRequest) -> Iterator[Callable[..., Any]]:
    """``make(name, **options)``: a fresh :class:`~triage_queue.shared.RedisLog`
    on the session's redis-server (the database is flushed after the test)."""
    require_redis_server()
    client = request.getfixturevalue("redis_client")
    from triage_queue.shared.redis import RedisLog

    made: list[Any] = []

    def make(name: str, **options: Any) -> Any:
        log = RedisLog(client, name, **options)
        made.append(log)
        return log

    yield make
    for log in made:
        log.close()


@pytest.fixture
def redis_server_path() -> str:
    """The path of redis-server, for tests that start their own server
    (skipped without it; a failure under CI=true)."""
    return require_redis_server()
