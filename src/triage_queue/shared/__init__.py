"""A desk shared by many processes and hosts: one ordered log of commands,
every desk a replica (see ``docs/shared.md``).

The core library never imports this package; the Redis engine needs the
``redis`` extra, the SQLite engine only the standard library.
"""

from triage_queue.shared.log import POSITION_SEQ_BITS, Entry, Log, StoredSnapshot

__all__ = ["POSITION_SEQ_BITS", "Entry", "Log", "StoredSnapshot"]
