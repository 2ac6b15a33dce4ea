"""How deep a JSON value may nest: one limit for everything a client sends.

Every layer that handles a value (the request parser, validation, the event
store's codec, read models, the API's encoder) walks it recursively, and
each has its own recursion limit; a value nested deeper than the shallowest
of them would be accepted at one layer and fail at a later one. So input is
refused at the edge, with a clear 422, beyond ``MAX_JSON_DEPTH`` levels:
far more than any graph or run input needs.
"""

from __future__ import annotations

from typing import Any

MAX_JSON_DEPTH = 64


def json_depth(value: Any) -> int:
    """Levels of nesting of dicts and lists in ``value`` (a scalar is 0), counted without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list | tuple):
            deepest = max(deepest, depth + 1)
            if deepest > MAX_JSON_DEPTH:
                return deepest  # deep enough to refuse: no need to walk the rest
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return deepest


def check_json_depth(value: Any) -> Any:
    """``value`` itself, or ``ValueError`` when it nests deeper than ``MAX_JSON_DEPTH`` levels."""
    if json_depth(value) > MAX_JSON_DEPTH:
        raise ValueError(f"value nests deeper than {MAX_JSON_DEPTH} levels")
    return value
