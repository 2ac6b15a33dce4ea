"""One JSON codec and one set of limits for every value the platform records.

Why one: every layer that reads a value back (the event store's transcoder,
the envelope a projection consumes, the Kafka relay and consumers, the read
models) once had its own parser, each with its own recursion limit, so a
value one layer wrote could be one that another could not read: a single
run input nested ~230 levels deep was stored, then stopped every projection
for good. Now all of them encode and decode here, with one library
(pydantic-core: several times faster than the ``json`` module, which matters
at executor rates), and two promises hold:

- **the codec never writes what it cannot read back.** ``decode`` reads
  values nested up to ``DECODER_DEPTH`` levels (pydantic-core's parser, a
  fixed limit); ``encode`` refuses, with ``JSONLimitError`` naming the
  limit, anything nested deeper than that, and text that is not valid
  Unicode (a lone surrogate). The event store asks for one level less,
  ``MAX_STORED_DEPTH``: the envelope that carries an event's data to Kafka
  wraps it one level deeper, and must still be written and read;
- **anything accepted at the edge can be stored.** Every path that records
  data (graph create, update and import, run and credential inputs, block
  execute, and each block output the executor records) calls
  ``check_json_limits`` first. Its limits, chosen well above any real agent:

  ================================  ===========  ===========================
  limit                             default      why
  ================================  ===========  ===========================
  ``MAX_JSON_DEPTH`` (levels)       64           a graph nests ~6 levels;
                                                 even a user dict shaped like
                                                 a stored tag (3 levels each)
                                                 stays under ``MAX_STORED_DEPTH``
  ``MAX_JSON_STRING_CHARS``         500,000      a long LLM answer or web
                                                 page; no NUL (U+0000):
                                                 PostgreSQL cannot hold it
  ``MAX_JSON_ITEMS`` (per list or   100,000      CreateList and web-request
  object)                                        results with room to spare
  ``MAX_JSON_BYTES`` (compact JSON  1,000,000    one event fits one Kafka
  of the whole value)                            message at the broker's
                                                 default (1 MiB)
  ================================  ===========  ===========================

  The request body limit (``AGENTGRAPH_MAX_BODY_BYTES``, 10 MiB) is the
  transport's cap, checked before a body is read; it sits above
  ``MAX_JSON_BYTES`` so an indented export of an acceptable graph still
  arrives and is then measured by the rule above. A client gets 422 naming
  the limit; a block output over a limit fails its node with the same text.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from pydantic_core import PydanticSerializationError, from_json, to_json

DECODER_DEPTH = 200
"""Levels of nesting pydantic-core's parser reads (fixed in the library; a unit test pins it)."""
MAX_STORED_DEPTH = DECODER_DEPTH - 1
"""Deepest value ``encode`` writes: stored data wrapped in an envelope must still decode."""

MAX_JSON_DEPTH = 64
"""Levels of nesting (lists and objects) a recorded value may have."""
MAX_JSON_STRING_CHARS = 500_000
"""Characters in one string (object keys included)."""
MAX_JSON_ITEMS = 100_000
"""Items in one list, or members of one object."""
MAX_JSON_BYTES = 1_000_000
"""Bytes of the whole value as compact JSON."""

Path = tuple[str | int, ...]


class JSONLimitError(Exception):
    """A value breaks one of the limits above; ``limit`` names it, ``path`` says where.

    Deliberately not a ``ValueError``: raised inside a pydantic validator it
    passes through to the API's handler (a 422 naming the limit) instead of
    becoming an anonymous validation error.
    """

    def __init__(self, limit: str, maximum: int | None, message: str, path: Path = ()) -> None:
        super().__init__(message)
        self.limit = limit
        self.maximum = maximum
        self.message = message
        self.path = path

    def __str__(self) -> str:
        steps = [f"[{step}]" if isinstance(step, int) else f".{step}" for step in self.path]
        where = "".join(steps if len(steps) <= 12 else [*steps[:8], "...", *steps[-2:]])
        return f"{self.message} (at value{where})" if where else self.message


# -- the codec ---------------------------------------------------------------------------------------------


def encode(
    value: Any, *, non_finite: Literal["constants", "strings"] = "constants", max_depth: int = DECODER_DEPTH
) -> bytes:
    """``value`` (plain JSON values) as compact JSON bytes that ``decode`` reads back.

    Non-finite floats are written as ``Infinity``/``-Infinity``/``NaN``
    (``constants``, the event store and Kafka: they read back as floats) or
    as those strings (``strings``, read models: strict JSON). Raises
    ``JSONLimitError`` for a value nested deeper than ``max_depth`` (at most
    what ``decode`` reads) or text that is not valid Unicode; nothing is
    written then.
    """
    try:
        data = to_json(value, inf_nan_mode=non_finite)
    except PydanticSerializationError as exc:
        raise _unencodable(value, exc, max_depth) from None
    # a value with fewer brackets than the limit cannot nest deeper (the common case: no walk)
    if data.count(b"[") + data.count(b"{") > max_depth and json_depth(value) > max_depth:
        raise _too_deep(max_depth, "stored_depth")
    return data


def decode(data: bytes | str, object_hook: Callable[[dict[str, Any]], Any] | None = None) -> Any:
    """The value ``encode`` wrote (``Infinity``/``NaN`` read back as floats).

    ``object_hook``, as in ``json.loads``, replaces every object, innermost first.
    """
    value = from_json(data)
    return value if object_hook is None else _hooked(value, object_hook)


def _hooked(value: Any, hook: Callable[[dict[str, Any]], Any]) -> Any:
    # recursion is bounded: decode reads no deeper than DECODER_DEPTH
    if type(value) is dict:
        return hook({k: _hooked(v, hook) if type(v) in _CONTAINERS else v for k, v in value.items()})
    if type(value) is list:
        return [_hooked(v, hook) if type(v) in _CONTAINERS else v for v in value]
    return value


_CONTAINERS = (dict, list)


def _unencodable(value: Any, exc: PydanticSerializationError, max_depth: int) -> JSONLimitError:
    if json_depth(value) > max_depth:
        return _too_deep(max_depth, "stored_depth")
    if "surrogates not allowed" in str(exc):
        return _not_unicode()
    return JSONLimitError("json_type", None, f"the value is not plain JSON: {exc}")


def _not_unicode() -> JSONLimitError:
    return JSONLimitError("unicode", None, "text is not valid Unicode (it holds a lone surrogate)")


def _too_deep(maximum: int, limit: str = "max_depth", path: Path = ()) -> JSONLimitError:
    return JSONLimitError(limit, maximum, f"value nests deeper than {maximum} levels", path)


def json_depth(value: Any) -> int:
    """Levels of nesting of dicts and lists in ``value`` (a scalar is 0), counted without recursion.

    Stops counting once past ``DECODER_DEPTH``: deeper is refused whatever the depth.
    """
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list | tuple):
            deepest = max(deepest, depth + 1)
            if deepest > DECODER_DEPTH:
                return deepest
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


# -- the limits at the edge --------------------------------------------------------------------------------


def check_json_limits(value: Any) -> Any:
    """``value`` itself, or ``JSONLimitError`` naming the first limit it breaks (see the module docstring)."""
    json_size(value)
    return value


def json_size(value: Any) -> int:
    """Bytes of ``value`` as compact JSON, once it is known to keep every limit (else ``JSONLimitError``)."""
    _check_shape(value, 0)
    size = len(encode(value))
    if size > MAX_JSON_BYTES:
        raise JSONLimitError("max_bytes", MAX_JSON_BYTES, f"value is {size:,} bytes as JSON, over {MAX_JSON_BYTES:,}")
    return size


def _check_shape(value: Any, depth: int) -> None:
    """Depth, string and collection limits; recursion is bounded by ``MAX_JSON_DEPTH``."""
    kind = type(value)
    if kind is str:
        _check_string(value)
        return
    if kind is not dict and kind is not list and kind is not tuple:
        return
    if depth >= MAX_JSON_DEPTH:
        raise _too_deep(MAX_JSON_DEPTH)
    if len(value) > MAX_JSON_ITEMS:
        noun = "members" if kind is dict else "items"
        raise JSONLimitError("max_items", MAX_JSON_ITEMS, f"{len(value):,} {noun}, over {MAX_JSON_ITEMS:,}")
    items = value.items() if kind is dict else enumerate(value)
    for key, child in items:
        try:
            if kind is dict and type(key) is str:
                _check_string(key)
            _check_shape(child, depth + 1)
        except JSONLimitError as exc:
            exc.path = (key, *exc.path)
            raise


def _check_string(text: str) -> None:
    if len(text) > MAX_JSON_STRING_CHARS:
        raise JSONLimitError(
            "max_string_chars",
            MAX_JSON_STRING_CHARS,
            f"a string of {len(text):,} characters, over {MAX_JSON_STRING_CHARS:,}",
        )
    if "\x00" in text:
        raise JSONLimitError("nul_character", None, "a string holds a NUL character (U+0000), which no store keeps")
    if not text.isascii():
        try:
            text.encode()
        except UnicodeEncodeError:
            raise _not_unicode() from None


def recordable_text(text: str, max_chars: int = 10_000) -> str:
    """``text`` made to keep every limit: NUL and lone surrogates replaced, cut to ``max_chars`` (a marker says so).

    For text the platform itself records from what a block said (a node's
    error message), where failing on the text would hide the error.
    """
    text = text.replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")
    if len(text) > max_chars:
        text = f"{text[:max_chars]}... [{len(text) - max_chars:,} more characters]"
    return text
