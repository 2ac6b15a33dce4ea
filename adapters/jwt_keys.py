"""Where the JWT verification key comes from.

Distributed deployments must set ``JWT_VERIFY_KEY`` (and ``JWT_ALGORITHM``
for RS/ES keys). Embedded mode with no key generates a random HS256 secret
into the data folder once and reuses it, so ``agentgraph dev-token`` can mint
tokens the local server accepts.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from adapters.settings import Settings

DEV_KEY_FILE = "jwt-dev-secret"


@dataclass(frozen=True)
class JWTConfig:
    """How bearer tokens are verified (and, for HMAC keys, minted)."""

    verify_key: str
    algorithm: str
    generated_path: Path | None = None

    @property
    def can_sign(self) -> bool:
        """True for HMAC keys: the same secret signs and verifies."""
        return self.algorithm.upper().startswith("HS")


class MissingJWTKeyError(RuntimeError):
    """A distributed deployment started without ``JWT_VERIFY_KEY``."""


def load_jwt_config(settings: Settings, *, create: bool = True) -> JWTConfig:
    """The configured key, or in embedded mode the generated dev key."""
    if settings.jwt_verify_key:
        return JWTConfig(settings.jwt_verify_key, settings.jwt_algorithm)
    if not settings.embedded:
        raise MissingJWTKeyError("JWT_VERIFY_KEY is required when AGENTGRAPH_DATABASE_URL is set (distributed mode)")
    path = settings.data_dir / DEV_KEY_FILE
    if not path.exists():
        if not create:
            raise MissingJWTKeyError(f"no JWT key configured and none generated yet at {path}")
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        # write-then-rename with 0600 so the secret is never world-readable
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
        os.replace(tmp, path)
    return JWTConfig(path.read_text().strip(), "HS256", generated_path=path)
