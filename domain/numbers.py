"""Whole numbers a client may name, bounded once so every route and body refuses the same way.

A number past what a read-model ``int`` column holds (32 bits on
PostgreSQL) would either fail the request deep in a query (a 500, and
uvicorn drops the keep-alive connection) or, worse, be recorded and then
stop the projection that cannot store it. Declared here, used by every path
parameter, query parameter and body field that takes one, so an
out-of-range number is a 422 at the edge wherever it appears.
"""

from __future__ import annotations

from typing import Annotated

from annotated_types import Interval

MAX_STORED_INT = 2**31 - 1
"""The largest number a read-model ``int`` column holds on every store."""

VersionNumber = Annotated[int, Interval(ge=1, le=MAX_STORED_INT)]
"""A graph version number: 1, 2, 3 ..."""
