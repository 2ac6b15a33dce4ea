"""Who issued the command being handled, and in which request.

Every event a command causes is recorded with this metadata (the event
transcoder reads it when it writes the event), so audit tooling can say who
acted: a user, or a user through one of their API keys, and which HTTP
request it was (``X-Request-ID``). The API sets it once per request; the
executor's own events carry none (the run's ``ExecutionRequested`` event
already names who asked for it).

A ``ContextVar`` and not a parameter: the metadata crosses every layer (route,
application, repository, recorder) without each of them passing it on, and
asyncio tasks and Starlette's thread pool copy the context into the code they
run for the request.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass, replace


@dataclass(frozen=True)
class CommandMetadata:
    """The actor and request behind a command; every field is optional."""

    user_id: str | None = None
    api_key_id: str | None = None
    request_id: str | None = None

    def as_dict(self) -> dict[str, str]:
        """The fields that are set, for the stored event."""
        return {name: value for name, value in asdict(self).items() if value is not None}


_CURRENT: ContextVar[CommandMetadata] = ContextVar("command_metadata", default=CommandMetadata())  # noqa: B039 - frozen: immutable


def current() -> CommandMetadata:
    """The metadata of the command being handled (empty outside a request)."""
    return _CURRENT.get()


def set_current(**fields: str | None) -> None:
    """Add ``fields`` to the current metadata for the rest of this context (a request's task)."""
    _CURRENT.set(replace(_CURRENT.get(), **fields))


@contextmanager
def acting(**fields: str | None) -> Iterator[CommandMetadata]:
    """Within the block, the current metadata has ``fields`` too; it is restored afterwards."""
    token = _CURRENT.set(replace(_CURRENT.get(), **fields))
    try:
        yield _CURRENT.get()
    finally:
        _CURRENT.reset(token)
