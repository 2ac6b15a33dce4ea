""" "Not found" as both sides say it.

The write side raises these when a command names a graph or run the caller
does not own; the read side when a query does. Ownership is never reported
as "forbidden": another user's graph or run, a deleted graph and an unknown
id all read as not found.
"""

from __future__ import annotations


class NotFoundError(LookupError):
    """Something the caller named does not exist for them."""


class GraphNotFoundError(NotFoundError):
    """No such graph (or version) for this user: unknown, deleted or someone else's."""


class ExecutionNotFoundError(NotFoundError):
    """No such execution for this user."""


class ApiKeyNotFoundError(NotFoundError):
    """No such API key for this user: unknown or someone else's."""


class ScheduleNotFoundError(NotFoundError):
    """No such schedule for this user: unknown, deleted or someone else's."""
