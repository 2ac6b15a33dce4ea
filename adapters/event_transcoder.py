"""How events are written as bytes: plain JSON, encoded in Rust.

Every event attribute we record is plain JSON by design (nodes, links,
inputs, outputs, stats) except the event's own ``timestamp``. So events are
stored as plain JSON documents, encoded with pydantic-core (several times
faster than the library's ``json``-module transcoder, which matters at
executor rates) and readable by any audit tool without our classes:

- ``timestamp`` is written as ISO 8601 and read back as a datetime;
- UUIDs and other datetimes are written as strings (none are recorded today);
- non-finite floats (a division by zero yields ``inf``) are written as
  ``Infinity``/``-Infinity``/``NaN``, which Python's json reads back.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from eventsourcing.persistence import Transcoder, Transcoding
from pydantic_core import to_json


class PlainJSONTranscoder(Transcoder):
    """Event state <-> plain JSON bytes (see the module docstring)."""

    def register(self, transcoding: Transcoding) -> None:
        """Custom transcodings are not needed: events hold plain JSON."""

    def encode(self, obj: Any) -> bytes:
        return to_json(obj, inf_nan_mode="constants", fallback=str)

    def decode(self, data: bytes) -> Any:
        state = json.loads(data)
        if isinstance(state, dict):
            stamp = state.get("timestamp")
            if isinstance(stamp, str):
                state["timestamp"] = datetime.fromisoformat(stamp)
        return state
