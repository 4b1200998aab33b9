"""The dispatcher's structure: its parts reach one another only through
names without a leading underscore (``_check`` aside), and the facade stays
short enough to read in one sitting."""

from __future__ import annotations

import ast
from pathlib import Path

import triage_queue

PACKAGE = Path(triage_queue.__file__).parent
FILES = [*sorted((PACKAGE / "dispatch").glob("*.py")), PACKAGE / "aio.py"]
# Private helpers of modules owned elsewhere that a part may import by name: none.
KNOWN_IMPORTS: set[str] = set()
# A Dispatcher filling a copy of itself in its own classmethod (restore).
KNOWN_ACCESS = {("dispatcher.py", "copy", "_lock"), ("dispatcher.py", "copy", "_desk")}


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__") and name != "_check"


def test_no_part_reaches_into_another_modules_private_names() -> None:
    """No dispatch module (nor aio) imports another module's private name or
    reads a private attribute of anything but itself."""
    found = []
    for path in FILES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module != "__future__":
                found += [(path.name, a.name) for a in node.names if _private(a.name) and a.name not in KNOWN_IMPORTS]
            elif isinstance(node, ast.Attribute) and _private(node.attr):
                owner = node.value.id if isinstance(node.value, ast.Name) else ast.unparse(node.value)
                if owner not in ("self", "cls") and (path.name, owner, node.attr) not in KNOWN_ACCESS:
                    found.append((path.name, f"{owner}.{node.attr}"))
    assert found == []


def test_the_facade_reads_in_one_sitting() -> None:
    """dispatcher.py, the Dispatcher facade, stays under 500 lines."""
    assert len((PACKAGE / "dispatch" / "dispatcher.py").read_text(encoding="utf-8").splitlines()) < 500
