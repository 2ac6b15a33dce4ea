"""Dynamic pins: reaching into and building up structured values through pin names.

``_$_`` is a list index, ``_#_`` a dict key, ``_@_`` an object attribute,
and they nest (``values_#_person_$_0``).

- Output side: a link from ``result_#_key`` receives ``output["result"]["key"]``
  when ``result`` yields; a link whose pin does not match the yielded pin (or
  whose path does not exist in the value) receives nothing.
- Input side: pins named ``values_#_name`` or ``items_$_0`` merge into
  ``values={"name": ...}`` and ``items=[...]`` before the block runs.
"""

from __future__ import annotations

import re
from typing import Any

LIST_INDEX = "_$_"
DICT_KEY = "_#_"
OBJECT_ATTR = "_@_"
_SPLIT = re.compile("(" + "|".join(re.escape(d) for d in (LIST_INDEX, DICT_KEY, OBJECT_ATTR)) + ")")


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()
"""Marks "this link gets nothing from this output"."""


def split_pin(name: str) -> tuple[str, list[tuple[str, str]]]:
    """``"values_#_a_$_0"`` -> ``("values", [("_#_", "a"), ("_$_", "0")])``."""
    parts = _SPLIT.split(name)
    base, rest = parts[0], parts[1:]
    return base, [(rest[i], rest[i + 1]) for i in range(0, len(rest) - 1, 2)]


def _step(value: Any, delimiter: str, key: str) -> Any:
    if delimiter == LIST_INDEX:
        if isinstance(value, list | tuple) and key.lstrip("-").isdigit():
            index = int(key)
            return value[index] if -len(value) <= index < len(value) else MISSING
        return MISSING
    if delimiter == DICT_KEY:
        return value.get(key, MISSING) if isinstance(value, dict) else MISSING
    if isinstance(value, dict):
        return value.get(key, MISSING)
    return getattr(value, key, MISSING)


def extract_output(yielded_pin: str, value: Any, link_pin: str) -> Any:
    """What a link from ``link_pin`` receives when ``yielded_pin`` yields ``value``.

    ``MISSING`` when the link does not take this output.
    """
    if link_pin == yielded_pin:
        return value
    base, path = split_pin(link_pin)
    if base != yielded_pin or not path:
        return MISSING
    current = value
    for delimiter, key in path:
        current = _step(current, delimiter, key)
        if current is MISSING:
            return MISSING
    return current


def _container_for(delimiter: str) -> Any:
    return [] if delimiter == LIST_INDEX else {}


def _put(container: Any, delimiter: str, key: str, value: Any) -> Any:
    if delimiter == LIST_INDEX:
        items = list(container) if isinstance(container, list) else []
        index = int(key) if key.lstrip("-").isdigit() else len(items)
        while len(items) <= index:
            items.append(None)
        items[index] = value
        return items
    mapping = dict(container) if isinstance(container, dict) else {}
    mapping[key] = value
    return mapping


def _get(container: Any, delimiter: str, key: str) -> Any:
    found = _step(container, delimiter, key) if container is not None else MISSING
    return None if found is MISSING else found


def merge_dynamic_inputs(data: dict[str, Any]) -> dict[str, Any]:
    """Fold dynamic input pins into their base field.

    Plain pins are kept; ``values_#_k`` entries are merged into ``values``
    (creating it when absent), in sorted pin order so the result does not
    depend on arrival order; list indexes are placed at their position.
    """
    merged: dict[str, Any] = {k: v for k, v in data.items() if not _SPLIT.search(k)}
    for name in sorted(k for k in data if _SPLIT.search(k)):
        base, path = split_pin(name)
        merged[base] = _assign(merged.get(base), path, data[name])
    return merged


def _assign(container: Any, path: list[tuple[str, str]], value: Any) -> Any:
    delimiter, key = path[0]
    if container is None:
        container = _container_for(delimiter)
    if len(path) == 1:
        return _put(container, delimiter, key, value)
    child = _get(container, delimiter, key)
    return _put(container, delimiter, key, _assign(child, path[1:], value))
