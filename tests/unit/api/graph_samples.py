"""Small graphs the API tests post."""

from __future__ import annotations

from typing import Any

INPUT = "c0a8e994-ebf1-4a9c-a4d8-89d09c86741b"
OUTPUT = "363ae599-353e-4804-937e-b2ee3cef3da4"
CALCULATOR = "b1ab9b19-67a6-406d-abf5-2dba76d00c79"


def calculator(name: str = "Calculator", b: int = 34) -> dict[str, Any]:
    """Input -> Calculator(+b) -> Output, in AutoGPT's graph JSON."""
    return {
        "name": name,
        "description": "adds a constant",
        "nodes": [
            {"id": "in", "block_id": INPUT, "input_default": {"name": "Input"}},
            {"id": "calc", "block_id": CALCULATOR, "input_default": {"b": b, "operation": "Add"}},
            {"id": "out", "block_id": OUTPUT, "input_default": {"name": "Output"}},
        ],
        "links": [
            {"source_id": "in", "sink_id": "calc", "source_name": "result", "sink_name": "a"},
            {"source_id": "calc", "sink_id": "out", "source_name": "result", "sink_name": "value"},
        ],
    }
