"""Where the JWT verification key comes from, and which keys may be used.

``JWT_VERIFY_KEY`` is either an HMAC secret (HS256/384/512) or a PEM public
key: RSA (RS256/384/512, PS256/384/512) or EC (ES256 on P-256, ES384 on
P-384, ES512 on P-521). A PEM key may come with literal ``\\n`` escapes (as
env files often hold it); both forms are accepted. ``JWT_ALGORITHM`` names
the algorithm; unset, it is HS256 for a secret, RS256 for an RSA key and the
curve's ES algorithm for an EC key. A key that does not fit the algorithm (a
PEM key with HS256, a secret with RS256, a P-384 key with ES256, a private
key) refuses to start, with an error naming the setting: a mismatch would
otherwise reject every token, or worse, verify HMAC tokens against a public
key anyone can read.

With ``AGENTGRAPH_ENV=production`` an HMAC secret must be at least 32
characters (as autogpt_libs requires) and ``JWT_VERIFY_KEY`` must be set:
the generated dev key is for development only.

Embedded mode with no key generates a random HS256 secret into the data
folder once and reuses it, so ``agentgraph dev-token`` can mint tokens the
local server accepts. Distributed deployments must set ``JWT_VERIFY_KEY``.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from adapters.settings import Settings

DEV_KEY_FILE = "jwt-dev-secret"
MIN_PRODUCTION_HMAC_KEY_LENGTH = 32

HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
RSA_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
EC_ALGORITHMS = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}
"""The one ES algorithm each curve is used with (RFC 7518, 3.4)."""

PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey


@dataclass(frozen=True)
class JWTConfig:
    """How bearer tokens are verified (and, for HMAC keys, minted)."""

    verify_key: str
    algorithm: str
    generated_path: Path | None = None
    public_key: PublicKey | None = field(default=None, compare=False)
    """The parsed PEM key of RS/ES algorithms (parsed once, not per token); derived from ``verify_key``, so
    left out of equality and hashing (the key objects are unhashable; the config is a cache key of api.auth)."""

    @property
    def can_sign(self) -> bool:
        """True for HMAC keys: the same secret signs and verifies."""
        return self.algorithm.upper().startswith("HS")

    @property
    def decoding_key(self) -> str | PublicKey:
        """What ``jwt.decode`` verifies with."""
        return self.public_key if self.public_key is not None else self.verify_key


class JWTKeyError(RuntimeError):
    """The JWT settings cannot be used: the process must not start."""


class MissingJWTKeyError(JWTKeyError):
    """A deployment started without ``JWT_VERIFY_KEY`` where one is required."""


def load_jwt_config(settings: Settings, *, create: bool = True) -> JWTConfig:
    """The configured key, or in embedded development mode the generated dev key.

    Raises ``JWTKeyError`` (see the module docstring) when the settings are unusable.
    """
    if settings.jwt_verify_key:
        return _configured(settings)
    if settings.production:
        raise MissingJWTKeyError(
            "JWT_VERIFY_KEY is required when AGENTGRAPH_ENV=production (the generated dev key is for development)"
        )
    if not settings.embedded:
        raise MissingJWTKeyError("JWT_VERIFY_KEY is required when AGENTGRAPH_DATABASE_URL is set (distributed mode)")
    if settings.jwt_algorithm and settings.jwt_algorithm.upper() != "HS256":
        raise JWTKeyError(f"JWT_ALGORITHM={settings.jwt_algorithm} needs JWT_VERIFY_KEY (the dev key is HS256)")
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


def _configured(settings: Settings) -> JWTConfig:
    key = settings.jwt_verify_key or ""
    algorithm = settings.jwt_algorithm.upper() if settings.jwt_algorithm else None
    if "-----BEGIN" in key:
        return _public_key_config(key, algorithm)
    algorithm = algorithm or "HS256"
    if algorithm not in HMAC_ALGORITHMS:
        raise JWTKeyError(
            f"JWT_ALGORITHM={algorithm} needs a PEM public key in JWT_VERIFY_KEY, not a shared secret"
            if algorithm in RSA_ALGORITHMS or algorithm.startswith("ES")
            else f"JWT_ALGORITHM={algorithm} is not supported (HS/RS/PS 256/384/512, ES256/384/512)"
        )
    if settings.production and len(key) < MIN_PRODUCTION_HMAC_KEY_LENGTH:
        raise JWTKeyError(
            f"JWT_VERIFY_KEY is {len(key)} characters: AGENTGRAPH_ENV=production needs an HMAC key of at least "
            f"{MIN_PRODUCTION_HMAC_KEY_LENGTH}"
        )
    return JWTConfig(key, algorithm)


def _public_key_config(key: str, algorithm: str | None) -> JWTConfig:
    pem = key.strip().replace("\\n", "\n")  # an env file's one-line form
    if "PRIVATE KEY-----" in pem:
        raise JWTKeyError("JWT_VERIFY_KEY holds a private key: give the API the public key only")
    try:
        public_key = load_pem_public_key(pem.encode())
    except ValueError as exc:
        raise JWTKeyError(f"JWT_VERIFY_KEY is not a readable PEM public key: {exc}") from None
    if isinstance(public_key, rsa.RSAPublicKey):
        fitting = RSA_ALGORITHMS
        inferred = "RS256"
    elif isinstance(public_key, ec.EllipticCurvePublicKey) and public_key.curve.name in EC_ALGORITHMS:
        inferred = EC_ALGORITHMS[public_key.curve.name]
        fitting = frozenset({inferred})
    else:
        raise JWTKeyError("JWT_VERIFY_KEY: only RSA keys and EC keys on P-256, P-384 or P-521 are supported")
    chosen = algorithm or inferred
    if chosen not in fitting:
        kind = "an RSA" if isinstance(public_key, rsa.RSAPublicKey) else f"an EC ({public_key.curve.name})"
        raise JWTKeyError(
            f"JWT_ALGORITHM={chosen} does not fit JWT_VERIFY_KEY, {kind} public key (use {', '.join(sorted(fitting))})"
        )
    return JWTConfig(pem, chosen, public_key=public_key)
