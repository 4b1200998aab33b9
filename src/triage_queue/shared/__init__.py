"""A desk shared by many processes and hosts: one ordered log of commands,
every desk a replica (see ``docs/shared.md``).

The core library never imports this package; the Redis engine needs the
``redis`` extra, the SQLite engine only the standard library.
"""

from typing import TYPE_CHECKING, Any

from triage_queue.shared.log import POSITION_SEQ_BITS, Entry, Log, StoredSnapshot

__all__ = ["POSITION_SEQ_BITS", "Entry", "Log", "StoredSnapshot"]

# The Redis engine is imported only when first named (it needs redis-py, the
# `redis` extra), so that importing this package never imports redis.
__all__ += ["RedisLog", "RedisLogConnectionError"]

if TYPE_CHECKING:
    from triage_queue.shared.redis import RedisLog, RedisLogConnectionError


def __getattr__(name: str) -> Any:
    if name in ("RedisLog", "RedisLogConnectionError"):
        from triage_queue.shared import redis as _redis_engine

        return getattr(_redis_engine, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


from triage_queue.shared.commands import CommandFailed, NoReply  # noqa: E402 - appended below the Redis engine's lines
from triage_queue.shared.desk import SharedDesk, open_log  # noqa: E402 - appended below the Redis engine's lines
from triage_queue.shared.replica import Alarm, Replica  # noqa: E402 - appended below the Redis engine's lines
from triage_queue.shared.sqlite import SqliteLog  # noqa: E402 - appended below the Redis engine's lines

__all__ += ["Alarm", "CommandFailed", "NoReply", "Replica", "SharedDesk", "SqliteLog", "open_log"]
from triage_queue.shared.aio import AsyncSharedDesk  # noqa: E402 - appended below the Redis engine's lines

__all__ += ["AsyncSharedDesk"]
