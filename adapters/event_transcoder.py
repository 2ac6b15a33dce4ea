"""How events are written as bytes: plain JSON, strict about types.

Events are stored as plain JSON documents, readable by any audit tool
without our classes, written and read by the platform's one JSON codec
(``domain.json_codec``: pydantic-core, and it never writes what it cannot
read back: a value nested too deep is refused with ``JSONLimitError``
before anything is stored):

- ``str``, ``int``, ``float``, ``bool``, ``None``, dicts with string keys,
  lists and tuples (read back as lists) are written as they are; non-finite
  floats (a division by zero yields ``inf``) as ``Infinity``/``-Infinity``/
  ``NaN``, which Python's json reads back;
- the event's own top-level ``timestamp`` is written as an ISO 8601 string
  (``...Z``), as it always was: the envelope and the Kafka relay read it
  straight from the stored JSON; it is read back as a datetime;
- every other type needs a registered eventsourcing ``Transcoding`` and is
  written tagged, as eventsourcing's ``JSONTranscoder`` writes it:
  ``{"_type_": "decimal_str", "_data_": "1.50"}``. Decimal, UUID and
  datetime are registered (the library's own transcodings, so the library's
  transcoder reads these values too); they are read back as the same type.
  Being a ``JSONTranscoder``, it also takes what an application registers in
  its ``register_transcodings`` (the library's hook for more types);
- anything else raises ``TranscodingNotRegisteredError`` (a ``TypeError``)
  at write time, naming the type and where in the event it sits, instead of
  being stored as a string that reads back as something else.

Events written before the tagging (plain JSON plus the ISO ``timestamp``)
read back exactly as they did: they hold no tags.

Who caused an event (``application.command_metadata``: user id, API key id,
request id, whichever are set while the command runs) is written under the
reserved top-level key ``_metadata_`` of the event's JSON, so the domain's
event classes stay as they are; ``decode`` strips it again (the domain never
sees it) and the envelope (``projections.envelope``) exposes it as
``metadata``. Events without it (older ones, the executor's) read as before.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    Transcoding,
    TranscodingNotRegisteredError,
    UUIDAsHex,
)

from application import command_metadata
from domain.json_codec import MAX_STORED_DEPTH, decode, encode
from projections.envelope import DATA_KEY, ESCAPED_DICT, METADATA_KEY, TYPE_KEY

_TAG_MARKER = f'"{TYPE_KEY}"'.encode()
_PLAIN = frozenset({str, int, float, bool, type(None)})


class _UnencodableError(Exception):
    """A value without a transcoding; carries the path to it while the walk unwinds."""

    def __init__(self, value: Any, what: str = "value") -> None:
        super().__init__(value)
        self.value = value
        self.what = what
        self.path: list[str | int] = []


class PlainJSONTranscoder(JSONTranscoder):
    """Event state <-> plain JSON bytes (see the module docstring)."""

    def __init__(self) -> None:
        super().__init__()
        # also outside an application (which registers these again): a bare Mapper, the tests
        for transcoding in (DecimalAsStr(), UUIDAsHex(), DatetimeAsISO()):
            self.register(transcoding)

    def register(self, transcoding: Transcoding) -> None:
        """Store values of ``transcoding.type`` (exactly that type) tagged with ``transcoding.name``."""
        if transcoding.name == ESCAPED_DICT:
            raise ValueError(f"the transcoding name {ESCAPED_DICT!r} is reserved")
        super().register(transcoding)

    def encode(self, obj: Any) -> bytes:
        """``obj`` (an event's state) as JSON bytes; raises ``TranscodingNotRegisteredError`` on unknown types."""
        try:
            if type(obj) is dict:
                # pydantic-core writes the event's timestamp as the plain ISO string it always was
                state = {
                    key: value if key == "timestamp" and type(value) is datetime else self._plain(value, key)
                    for key, value in obj.items()
                }
                if actor := command_metadata.current().as_dict():
                    state[METADATA_KEY] = actor
            else:
                state = self._plain(obj, None)
        except _UnencodableError as exc:
            where = "".join(f"[{step}]" if isinstance(step, int) else f".{step}" for step in reversed(exc.path))
            raise TranscodingNotRegisteredError(
                f"cannot store a {exc.what} of type {type(exc.value).__module__}.{type(exc.value).__qualname__} "
                f"at event{where}: events hold plain JSON; convert the value, or register a Transcoding "
                f"for its type in {__name__}"
            ) from None
        return encode(state, max_depth=MAX_STORED_DEPTH)

    def decode(self, data: bytes) -> Any:
        """The state written by ``encode`` (or by the earlier untagged transcoder)."""
        # most events hold no tag: skip the per-object hook then
        state = decode(data, self._decode_tag) if _TAG_MARKER in data else decode(data)
        if isinstance(state, dict):
            state.pop(METADATA_KEY, None)
            stamp = state.get("timestamp")
            if isinstance(stamp, str):
                state["timestamp"] = datetime.fromisoformat(stamp)
        return state

    def _plain(self, value: Any, key: str | int | None) -> Any:
        """``value`` as plain JSON values (the hot path: every event passes here)."""
        kind = type(value)
        if kind in _PLAIN:
            return value
        try:
            if kind is dict:
                if not set(map(type, value)) <= {str}:
                    # JSON keys are strings: an int key would read back as a string
                    raise _UnencodableError(next(k for k in value if type(k) is not str), "dict key")
                if len(value) == 2 and TYPE_KEY in value and DATA_KEY in value:
                    # a user's dict shaped like a tag must not read back as the tagged type
                    return {TYPE_KEY: ESCAPED_DICT, DATA_KEY: [[k, self._plain(v, k)] for k, v in value.items()]}
                return {k: v if type(v) in _PLAIN else self._plain(v, k) for k, v in value.items()}
            if kind is list or kind is tuple:
                return [v if type(v) in _PLAIN else self._plain(v, i) for i, v in enumerate(value)]
            transcoding = self.types.get(kind)
            if transcoding is None:
                raise _UnencodableError(value)
            return {TYPE_KEY: transcoding.name, DATA_KEY: self._plain(transcoding.encode(value), None)}
        except _UnencodableError as exc:
            if key is not None:
                exc.path.append(key)
            raise

    def _decode_tag(self, obj: dict[str, Any]) -> Any:
        if len(obj) != 2 or TYPE_KEY not in obj or DATA_KEY not in obj:
            return obj
        name = obj[TYPE_KEY]
        if name == ESCAPED_DICT:
            return dict(obj[DATA_KEY])
        transcoding = self.names.get(name) if isinstance(name, str) else None
        # an unknown name can only be a user's dict stored before tags existed: keep it as it was
        return obj if transcoding is None else transcoding.decode(obj[DATA_KEY])
