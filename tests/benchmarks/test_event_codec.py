"""The event codec on the executor's hot path: microseconds per typical node-output event.

Run on demand (not part of the default test run)::

    pytest -o addopts="" tests/benchmarks/test_event_codec.py -s

Prints the best of five rounds for: encoding a node-output event as the
event store does (``PlainJSONTranscoder.encode``), decoding it, building the
envelope a projection consumes, and the JSON-limit check the executor runs
on each block output (``json_size``). Measured when the one codec
(``domain.json_codec``) replaced the separate encoders and parsers (process
time, best of 15 rounds, old and new interleaved on a busy 2-core machine):
encode 4.6-5.2 -> 5.2-5.3 us, decode 4.8-5.6 -> 2.0 us, envelope 4.1-4.3 us
both; the limit check ~2.4 us on a small object, where the output size the
executor measured before took ~4.1 us.
"""

from __future__ import annotations

import time
import timeit
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from adapters.event_transcoder import PlainJSONTranscoder
from domain.json_codec import json_size
from projections.envelope import envelope_from_stored

OUTPUT_TOPIC = "domain.execution:GraphExecution.NodeOutputProduced"


def _microseconds(work: Callable[[], Any], number: int = 20_000) -> float:
    return min(timeit.repeat(work, number=number, repeat=15, timer=time.process_time)) / number * 1e6


def test_encoding_and_decoding_a_node_output_event_takes_microseconds() -> None:
    transcoder = PlainJSONTranscoder()
    value = {"answer": 42.0, "text": "The sum of 8 and 34", "items": [1, 2, 3]}
    state = {
        "timestamp": datetime.now(UTC),
        "originator_topic": "domain.execution:GraphExecution",
        "node_exec_id": "5f0c2a9e-8b1d-4c7e-9a3f-2d6b1e4c8a70",
        "pin": "result",
        "value": value,
        "graph_output_name": None,
    }
    data = transcoder.encode(state)

    figures = {
        "encode (event store)": _microseconds(lambda: transcoder.encode(state)),
        "decode (event store)": _microseconds(lambda: transcoder.decode(data)),
        "envelope (projections)": _microseconds(
            lambda: envelope_from_stored("executions", 1, "run", 2, OUTPUT_TOPIC, data)
        ),
        "limit check (executor, per output)": _microseconds(lambda: json_size(value)),
    }

    for name, micros in figures.items():
        print(f"{name:<36} {micros:6.2f} us")
    assert transcoder.decode(data)["value"] == value
