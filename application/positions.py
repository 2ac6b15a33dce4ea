"""Which log position a command just produced (for read-your-writes tokens).

An application mixes this in; after a command, the caller (in the same
thread) asks ``last_position()`` and hands it to the client, which can then
ask a query to wait until the read models have applied it.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any


class RemembersPositions:
    """Remembers, per thread, the highest log position of the last save."""

    _local = threading.local()

    def remember_positions(self, recordings: Sequence[Any]) -> None:
        """Record the positions of a save's recordings (call from ``_notify``)."""
        if recordings:
            setattr(self._local, str(id(self)), max(r.notification.id for r in recordings))

    def forget_position(self) -> None:
        """Before a command that may write nothing: ``last_position()`` then names only what it wrote."""
        if hasattr(self._local, str(id(self))):
            delattr(self._local, str(id(self)))

    def last_position(self) -> int | None:
        """The highest position this thread's last save on this application produced."""
        value = getattr(self._local, str(id(self)), None)
        return int(value) if value is not None else None
