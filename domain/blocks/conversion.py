"""Loose type conversion for the values that flow along links.

Values reach a pin from anything upstream: an LLM's text, a user's form, a
JSON document. ``convert`` bends such a value into the type a pin declares,
the way AutoGPT's ``backend.util.type.convert`` does, so agents exported from
AutoGPT see the same values here. The UniversalTypeConverterBlock uses it
directly and the execution engine uses it to coerce node inputs.

A value that already is of the target type is returned as it is (the same
object; for ``list[int]`` and the like its items are still converted). The
rules for the others, by target type:

- ``str``: strings are kept; anything else becomes its JSON text
  (``5`` -> ``"5"``, ``[1, 2]`` -> ``"[1, 2]"``, ``True`` -> ``"true"``,
  ``None`` -> ``"null"``). Non-ASCII characters stay as they are, and sets,
  dates, enums, UUIDs and pydantic models are written as their JSON form.
- ``int`` / ``float``: a list, tuple, set or dict becomes its length; other
  values go through ``float(...)`` (so ``"5.5"`` -> ``5`` as an int; whole
  numbers written as text are read exactly). Text that is not a number, and
  None, become ``0``, as in AutoGPT. ``bool`` already counts as an int and is
  kept.
- ``bool``: a string is True only when it is ``"true"`` or ``"1"`` (any case);
  any other string, ``"yes"`` included, is False. Other values use Python
  truthiness.
- ``list``: tuples and sets become lists, a dict becomes its ``(key, value)``
  pairs, a string that looks like a JSON array (``"[...]"``) is parsed, any
  other value is wrapped in a one-item list.
- ``dict``: a string is parsed as JSON; a JSON object is returned as is, any
  other JSON value (or text that is not JSON) is wrapped as ``{"value": ...}``.
  A list or tuple maps each index to its item; other values are wrapped as
  ``{"value": ...}``.
- ``tuple`` / ``set``: as ``list``, then turned into a tuple or set (a string
  whose parsed items cannot go in a set is kept whole: ``{"[[1], [2]]"}``).
- Parametrised containers (``list[int]``, ``dict[str, float]``, ...) convert
  every item, key and value too.
- ``Optional[X]`` / ``X | Y``: None stays None when the union allows it, a
  value that already fits a member is kept, else the members are tried in
  order and the first conversion that works wins.
- ``Any``, ``Literal``, enums, pydantic models and every other type: the
  value is returned unchanged and left to validation.

A conversion that cannot happen raises ``ConversionError`` (a ``ValueError``)
with the cause chained.
"""

from __future__ import annotations

import datetime
import decimal
import enum
import json
import pathlib
import types
import uuid
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin, overload

from pydantic import BaseModel

T = TypeVar("T")


class ConversionError(ValueError):
    """A value could not be converted to the requested type."""


@overload
def convert(value: Any, target_type: type[T]) -> T: ...


@overload
def convert(value: Any, target_type: Any) -> Any: ...


def convert(value: Any, target_type: Any) -> Any:
    """Convert ``value`` to ``target_type`` with AutoGPT's loose rules.

    See the module docstring for the rules. Raises ``ConversionError`` when the
    value cannot be converted.
    """
    try:
        return _convert(value, target_type)
    except ConversionError:
        raise
    except Exception as exc:
        raise ConversionError(f"Failed to convert {value} to {target_type}") from exc


# The basic kinds convert knows, most specific first: bool is a subclass of
# int, so it must be matched before int.
_KINDS: tuple[type, ...] = (bool, int, float, str, list, dict, tuple, set)


def _convert(value: Any, target: Any) -> Any:
    if target is Any or target is object:
        return value
    origin = get_origin(target)
    args = get_args(target)
    if origin is Annotated:
        return _convert(value, args[0])
    if origin is Union or origin is types.UnionType:
        return _convert_union(value, args)
    if origin is Literal:
        return value
    kind = _kind_of(origin or target)
    if kind is None:
        return value
    if not isinstance(value, kind):
        value = _TO_KIND[kind](value)
    return _convert_items(value, kind, args) if args else value


def _kind_of(cls: Any) -> type | None:
    """The basic kind ``cls`` is (or derives from), or None when it has none.

    Enums that derive from str or int are not treated as plain strings or
    numbers: turning a value into an enum member is validation's job.
    """
    if not isinstance(cls, type) or issubclass(cls, enum.Enum):
        return None
    for kind in _KINDS:
        if issubclass(cls, kind):
            return kind
    return None


def _convert_union(value: Any, members: tuple[Any, ...]) -> Any:
    none_type = type(None)
    if value is None and none_type in members:
        return None
    candidates = [m for m in members if m is not none_type]
    if any(_fits(value, m) for m in candidates):
        return value
    last_error: Exception | None = None
    for member in candidates:
        try:
            return _convert(value, member)
        except Exception as exc:
            last_error = exc
    if last_error is not None:
        raise last_error
    return value


def _fits(value: Any, target: Any) -> bool:
    """Whether ``value`` already is of ``target``, items included."""
    if target is Any or target is object:
        return True
    origin = get_origin(target)
    args = get_args(target)
    if origin is Annotated:
        return _fits(value, args[0])
    if origin is Union or origin is types.UnionType:
        return any(_fits(value, m) for m in args)
    if origin is Literal:
        return value in args
    cls = origin or target
    if not isinstance(cls, type):
        return False
    if not isinstance(value, cls):
        return False
    if not args:
        return True
    if isinstance(value, dict):
        key_type, value_type = args
        return all(_fits(k, key_type) and _fits(v, value_type) for k, v in value.items())
    if isinstance(value, tuple):
        if len(args) == 2 and args[1] is Ellipsis:
            return all(_fits(v, args[0]) for v in value)
        return len(value) == len(args) and all(_fits(v, t) for v, t in zip(value, args, strict=True))
    if isinstance(value, list | set | frozenset):
        return all(_fits(v, args[0]) for v in value)
    return True


def _convert_items(value: Any, kind: type, args: tuple[Any, ...]) -> Any:
    if kind is list:
        return [_convert(v, args[0]) for v in value]
    if kind is set:
        return {_convert(v, args[0]) for v in value}
    if kind is dict:
        key_type, value_type = args
        return {_convert(k, key_type): _convert(v, value_type) for k, v in value.items()}
    if kind is tuple:
        # tuple[X, ...] and (as AutoGPT reads it) tuple[X] convert every item
        # to X; tuple[X, Y] converts item by item and drops any extra items.
        if len(args) == 1 or (len(args) == 2 and args[1] is Ellipsis):
            return tuple(_convert(v, args[0]) for v in value)
        return tuple(_convert(v, t) for v, t in zip(value, args, strict=False))
    return value


def _to_list(value: Any) -> list[Any]:
    if isinstance(value, list | tuple | set | frozenset):
        return list(value)
    if isinstance(value, dict):
        return list(value.items())
    if isinstance(value, str):
        # AutoGPT strips the text first, so the one-item fallback holds the
        # stripped text.
        text = value.strip()
        if text.startswith("[") and text.endswith("]"):
            try:
                parsed = json.loads(text)
            except json.JSONDecodeError:
                return [text]
            return list(parsed)
        return [text]
    return [value]


def _to_dict(value: Any) -> dict[Any, Any]:
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            return {"value": value}
        return parsed if isinstance(parsed, dict) else {"value": parsed}
    if isinstance(value, list | tuple):
        return dict(enumerate(value))
    return {"value": value}


def _to_tuple(value: Any) -> tuple[Any, ...]:
    return tuple(_to_list(value))


def _to_set(value: Any) -> set[Any]:
    items = _to_list(value)
    try:
        return set(items)
    except TypeError:
        # Parsed items that cannot be hashed (e.g. nested lists): keep the
        # original value whole, as AutoGPT does.
        return {value}


def _to_str(value: Any) -> str:
    if isinstance(value, str):
        return value
    # Non-ASCII text is kept readable (AutoGPT's stdlib json escaped it to
    # \u escapes; its later JSON helpers write UTF-8).
    return json.dumps(value, ensure_ascii=False, default=_json_default)


def _json_default(obj: Any) -> Any:
    """JSON form of the values json.dumps does not know."""
    if isinstance(obj, set | frozenset):
        return list(obj)
    if isinstance(obj, BaseModel):
        return obj.model_dump(mode="json")
    if isinstance(obj, datetime.date | datetime.time):
        return obj.isoformat()
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, uuid.UUID | decimal.Decimal | pathlib.PurePath):
        return str(obj)
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def _to_int(value: Any) -> int:
    if isinstance(value, str):
        # Whole numbers written as text are read exactly (going through float,
        # as AutoGPT does, would round anything past 2**53).
        try:
            return int(value.strip())
        except ValueError:
            pass
    return int(_to_number(value, int))


def _to_float(value: Any) -> float:
    return float(_to_number(value, float))


def _to_number(value: Any, num_type: type[int] | type[float]) -> int | float:
    if isinstance(value, list | tuple | set | frozenset | dict):
        return num_type(len(value))
    try:
        return num_type(float(value))
    except (ValueError, TypeError):
        # AutoGPT falls back to zero for text that is not a number (and for
        # None). Overflow (e.g. "inf" to int) is not caught and fails.
        return num_type(0)


def _to_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() in ("true", "1")
    return bool(value)


_TO_KIND: dict[type, Any] = {
    bool: _to_bool,
    int: _to_int,
    float: _to_float,
    str: _to_str,
    list: _to_list,
    dict: _to_dict,
    tuple: _to_tuple,
    set: _to_set,
}
