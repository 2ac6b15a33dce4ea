"""Non-finite numbers in JSON: one rule for the whole platform.

Blocks can produce ``inf`` (a division by zero gives inf, as in AutoGPT) and
``nan``. Strict JSON has no such numbers: browsers reject the literals Python
writes and PostgreSQL's jsonb refuses them. Wherever a value leaves as JSON
(API responses, read-model JSON columns) they become the strings
``"Infinity"``, ``"-Infinity"`` and ``"NaN"``, which JavaScript's ``Number()``
parses. The event store keeps the numbers themselves (see
``adapters.event_transcoder``).
"""

from __future__ import annotations

import math
from typing import Any


def finite_json(value: Any) -> Any:
    """``value`` with every non-finite float replaced by its string name."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {k: finite_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite_json(v) for v in value]
    return value
