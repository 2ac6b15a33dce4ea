"""JSON responses that survive non-finite floats.

Blocks can produce ``inf`` (a division by zero gives inf, as in AutoGPT) and
``nan``; strict JSON has no such numbers and browsers reject the literals
Python would write. The API writes them as the strings ``"Infinity"``,
``"-Infinity"`` and ``"NaN"`` (``domain.json_values``).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi.responses import JSONResponse

from domain.json_values import finite_json

__all__ = ["SafeJSONResponse", "finite_json"]


class SafeJSONResponse(JSONResponse):
    """The API's default response class (see the module docstring)."""

    def render(self, content: Any) -> bytes:
        try:
            text = json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        except ValueError:
            text = json.dumps(finite_json(content), ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        return text.encode("utf-8")
