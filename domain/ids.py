"""Ids as the platform records them: a UUID in its canonical lower-case, dashed form.

A client may spell a UUID many ways (upper case, no dashes, braces,
``urn:uuid:``); each names the same graph or run, so whatever is recorded
or matched is the canonical spelling. Body fields that name a resource
(a fork's origin, a sub-agent's graph) use ``CanonicalUUID``; path
parameters use ``api.ids``, which answers "not found" for a malformed id.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import AfterValidator


def canonical_uuid(value: str) -> str:
    """The canonical spelling of the UUID ``value`` spells; ``ValueError`` when it is no UUID."""
    return str(UUID(value))


CanonicalUUID = Annotated[str, AfterValidator(canonical_uuid)]
"""A string field holding a UUID, stored in its canonical spelling (422 when it is none)."""
