"""Ids in paths: parsed once, canonical everywhere after.

A graph or run id in a path is a UUID in any of its spellings (upper case,
braces, ``urn:uuid:``); every route turns it into the canonical lower-case
form before it reaches a command or a query, so what a command records and
what a query matches are the same string. A malformed id names nothing: it
is "not found", like another user's graph.

Routes declare ``graph_id: GraphId`` / ``execution_id: ExecutionId`` and
receive the parsed UUID; body fields use ``domain.ids.CanonicalUUID``.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import Depends

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


def _graph_id_param(graph_id: str) -> UUID:
    return graph_uuid(graph_id)


def _execution_id_param(execution_id: str) -> UUID:
    return execution_uuid(execution_id)


GraphId = Annotated[UUID, Depends(_graph_id_param)]
"""The ``{graph_id}`` path parameter, parsed (404 when it is no UUID)."""

ExecutionId = Annotated[UUID, Depends(_execution_id_param)]
"""The ``{execution_id}`` path parameter, parsed (404 when it is no UUID)."""
