"""Ids in paths: parsed once, canonical everywhere after.

A graph or run id in a path is a UUID in any of its spellings (upper case,
braces, ``urn:uuid:``); every route turns it into the canonical lower-case
form before it reaches a command or a query, so what a command records and
what a query matches are the same string. A malformed id names nothing: it
is "not found", like another user's graph.
"""

from __future__ import annotations

from uuid import UUID

from domain.not_found import ExecutionNotFoundError, GraphNotFoundError


def graph_uuid(value: str) -> UUID:
    """The graph id ``value`` spells; ``GraphNotFoundError`` when it is no UUID."""
    try:
        return UUID(value)
    except ValueError:
        raise GraphNotFoundError(f"Graph {value} not found") from None


def execution_uuid(value: str) -> UUID:
    """The run id ``value`` spells; ``ExecutionNotFoundError`` when it is no UUID."""
    try:
        return UUID(value)
    except ValueError:
        raise ExecutionNotFoundError(f"Execution {value} not found") from None
