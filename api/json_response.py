"""JSON responses that survive non-finite floats.

Blocks can produce ``inf`` (a division by zero gives inf, as in AutoGPT) and
``nan``; strict JSON has no such numbers and browsers reject the literals
Python would write. The API writes them as the strings ``"Infinity"``,
``"-Infinity"`` and ``"NaN"`` (what JavaScript's ``Number()`` parses).
"""

from __future__ import annotations

import json
import math
from typing import Any

from fastapi.responses import JSONResponse


def finite_json(value: Any) -> Any:
    """``value`` with every non-finite float replaced by its string name."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {k: finite_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite_json(v) for v in value]
    return value


class SafeJSONResponse(JSONResponse):
    """The API's default response class (see the module docstring)."""

    def render(self, content: Any) -> bytes:
        try:
            text = json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        except ValueError:
            text = json.dumps(finite_json(content), ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        return text.encode("utf-8")
