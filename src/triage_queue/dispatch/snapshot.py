"""What a snapshot of a desk is: its schema and version, and the identity
of the code it ran with (the policy, the selection strategy, the classify
function), which a restore must be given again and which must match.

A policy is code, not data: the snapshot records its composition, its
``max_wait``, its weights and, per rule, the rule's type, name and
parameters, so that :meth:`Dispatcher.restore` can refuse a different
policy and name the difference.

>>> from triage_queue import Policy
>>> identity = policy_identity(Policy.default())
>>> [rule["name"] for rule in identity["rules"]]
['emergency', 'vip', 'complexity', 'feedback_order']
>>> policy_difference(identity, policy_identity(Policy.default(max_wait=60))) is not None
True
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from triage_queue.analytics import AnalyticsOptions
from triage_queue.dispatch.finished import DEFAULT_FINISHED_MEMORY, MAX_FINISHED_MEMORY
from triage_queue.errors import InvalidArgument
from triage_queue.policy import Policy
from triage_queue.selection import LongestIdle, Selection
from triage_queue.wire import Reader

__all__ = ["SCHEMA", "VERSION", "code_name", "policy_difference", "policy_identity", "read_code", "read_settings"]

SCHEMA = "triage-queue/desk"
VERSION = 1


def code_name(obj: Any) -> str:
    """A stable name for a piece of code (``module.qualname``), the same in
    every process.  Runtime complexity: O(1)."""
    target = obj if callable(obj) and hasattr(obj, "__qualname__") else type(obj)
    return f"{getattr(target, '__module__', '?')}.{getattr(target, '__qualname__', repr(target))}"


def _plain(value: Any) -> Any:
    # A rule parameter as plain, process-independent data.
    if isinstance(value, enum.Enum):
        return value.name.lower()
    if isinstance(value, bool | str | int) or value is None:
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, list | tuple | frozenset | set):
        items = [_plain(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, frozenset | set) else items
    if callable(value):
        return code_name(value)
    text = repr(value)
    # A repr with a memory address differs in every process: the type's name stands for it.
    return code_name(type(value)) if " at 0x" in text else text


def _rule_identity(rule: Any) -> dict[str, Any]:
    if attrs.has(type(rule)):
        params = {f.name: _plain(getattr(rule, f.name)) for f in attrs.fields(type(rule)) if f.name != "name"}
    elif hasattr(rule, "__dict__"):
        params = {k: _plain(v) for k, v in sorted(vars(rule).items()) if not k.startswith("_")}
    else:
        params = {}
    return {"type": code_name(type(rule)), "name": getattr(rule, "name", "?"), "params": params}


def policy_identity(policy: Policy) -> dict[str, Any]:
    """The policy as plain data that is the same in every process for the
    same policy: composition, ``max_wait``, weights and each rule's type,
    name and parameters.  Runtime complexity: O(R).
    """
    return {
        "composition": policy.composition.value,
        "max_wait": policy.max_wait,
        "weights": None if policy.weights is None else list(policy.weights),
        "rules": [_rule_identity(rule) for rule in policy.rules],
    }


def policy_difference(recorded: Any, given: dict[str, Any]) -> str | None:
    """What differs between a recorded policy identity and the given one,
    in words, or None if they match.  Runtime complexity: O(R).
    """
    if recorded == given:
        return None
    if not isinstance(recorded, Mapping):
        return "the snapshot records no policy"
    for key in ("composition", "max_wait", "weights"):
        if recorded.get(key) != given[key]:
            return f"the snapshot's {key} is {recorded.get(key)!r}, this policy's is {given[key]!r}"
    rules = recorded.get("rules")
    if not isinstance(rules, list) or len(rules) != len(given["rules"]):
        count = len(rules) if isinstance(rules, list) else "no"
        return f"the snapshot's policy has {count} rules, this one {len(given['rules'])}"
    for i, (a, b) in enumerate(zip(rules, given["rules"], strict=True)):
        if a != b:
            return f"the snapshot's rule {i + 1} is {_describe(a)}, this policy's is {_describe(b)}"
    return "the policies differ"


def _describe(rule: Any) -> str:
    if not isinstance(rule, Mapping):
        return repr(rule)
    params = rule.get("params")
    if not isinstance(params, Mapping):
        params = {}
    inner = ", ".join(f"{k}={v!r}" for k, v in params.items())
    return f"{rule.get('name')}({inner})"


def describe_callable(obj: Callable[..., Any] | None, default: str) -> str:
    """``default`` for None, else :func:`code_name`.  Runtime complexity: O(1)."""
    return default if obj is None else code_name(obj)


def read_code(
    data: Any, policy: Policy | None, selection: Selection | None, classify: Callable[..., str] | None
) -> tuple[Reader, Policy, Selection]:
    """Check a snapshot's schema and version, and that the code given to
    restore it (``policy``, default :meth:`Policy.default`; ``selection``,
    default :class:`LongestIdle`; ``classify``) is what it records; return
    the snapshot's reader and the policy and selection to use.  Raises
    :class:`InvalidArgument` naming the version or the difference.
    Runtime complexity: O(rules).

    >>> read_code({"schema": "triage-queue/desk", "version": 0}, None, None, None)
    Traceback (most recent call last):
    ...
    triage_queue.errors.InvalidArgument: snapshot.version=0: this library reads desk snapshots of version 1, not 0
    """
    top = Reader(data, "snapshot")
    if top.raw("schema", None) != SCHEMA:
        raise InvalidArgument("snapshot.schema", top.raw("schema", None), f"not a desk snapshot (expected {SCHEMA!r})")
    version = top.raw("version", None)
    if version != VERSION:
        raise InvalidArgument(
            "snapshot.version", version, f"this library reads desk snapshots of version {VERSION}, not {version!r}"
        )
    policy = Policy.default() if policy is None else policy
    if not isinstance(policy, Policy):
        raise InvalidArgument("policy", policy, "expected a triage_queue.Policy")
    difference = policy_difference(top.raw("policy"), policy_identity(policy))
    if difference is not None:
        raise InvalidArgument("policy", policy, f"not the policy the snapshot was made with: {difference}")
    selection = LongestIdle() if selection is None else selection
    recorded = top.string("selection")
    if not isinstance(selection, Selection) or selection.name != recorded:
        raise InvalidArgument("selection", selection, f"the snapshot was made with selection {recorded!r}")
    recorded = top.string("classify")
    given = "severity" if classify is None else code_name(classify)
    if given != recorded:
        raise InvalidArgument("classify", classify, f"the snapshot was made with classify {recorded!r}, not {given!r}")
    return top, policy, selection


def read_settings(top: Reader, settings: Reader, max_audit: int) -> dict[str, Any]:
    """The desk's settings a snapshot (``top``) records in its ``settings``
    table, checked, as ``Dispatcher`` keyword arguments.  Runtime complexity: O(1)."""
    return {
        "offer_timeout": settings.real("offer_timeout", allow_none=True),
        "mark_not_responding": settings.flag("mark_not_responding"),
        "affinity_wait": settings.real("affinity_wait"),
        "retry_after": settings.real("retry_after", allow_none=True),
        "sla_warning": settings.real("sla_warning", allow_none=True),
        "audit": settings.integer("audit", high=max_audit),
        "refuse_unroutable": settings.flag("refuse_unroutable"),
        "advance_on_read": settings.flag("advance_on_read"),
        "name": top.string("name"),
        "stats": settings.flag("stats") if "stats" in settings.data else True,
        # Settings a snapshot made before analytics lacks: the defaults.
        "analytics": (
            AnalyticsOptions.from_dict(settings.raw("analytics"), path=f"{settings.path}.analytics")
            if "analytics" in settings.data
            else None
        ),
        "finished_memory": (
            settings.integer("finished_memory", high=MAX_FINISHED_MEMORY)
            if "finished_memory" in settings.data
            else DEFAULT_FINISHED_MEMORY
        ),
    }
