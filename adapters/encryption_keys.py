"""Where the master keys come from: ``AGENTGRAPH_ENCRYPTION_KEY``, or a generated file when embedded.

The setting is a comma-separated list of ``kid:key`` pairs, **newest first**::

    AGENTGRAPH_ENCRYPTION_KEY="k2025b:<base64 of 32 bytes>,k2025a:<base64 of 32 bytes>"

New data keys are wrapped under the first; every listed key stays readable,
so a rotation is: put a new key first, keep the old ones after it, run
``agentgraph keys rotate`` (which re-wraps every data key under the first),
then drop the old keys. ``agentgraph keys generate`` prints a fresh pair.
A kid is 1-32 letters, digits, ``-`` or ``_``; a key is 32 bytes in
standard or URL-safe base64.

Embedded mode with no setting generates a key into the data folder
(``encryption-keys``, mode 0600) on first start and reuses it;
``agentgraph keys rotate`` there prepends a newly generated key to that
file. Distributed mode (``AGENTGRAPH_DATABASE_URL``) refuses to start without
the setting: every process must share the same keys.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import secrets
from datetime import UTC, datetime
from pathlib import Path

from adapters.aes_gcm import KEY_BYTES, AesGcmCipher
from adapters.settings import Settings
from application.encryption import MasterKeyRing

KEY_FILE = "encryption-keys"
_KID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


class EncryptionKeyError(RuntimeError):
    """The encryption key settings cannot be used: the process must not start."""


def parse_keys(value: str) -> list[tuple[str, bytes]]:
    """``kid:base64key,...`` -> ``[(kid, key)]`` in the given order; ``EncryptionKeyError`` naming the problem."""
    keys: list[tuple[str, bytes]] = []
    for number, item in enumerate((part.strip() for part in value.split(",")), 1):
        if not item:
            continue
        kid, sep, encoded = item.partition(":")
        if not sep or not _KID.match(kid):
            raise EncryptionKeyError(
                f"AGENTGRAPH_ENCRYPTION_KEY entry {number}: want kid:base64key (kid of letters, digits, - or _)"
            )
        try:
            key = base64.urlsafe_b64decode(encoded.replace("+", "-").replace("/", "_").encode() + b"==")
        except (binascii.Error, ValueError):
            raise EncryptionKeyError(f"AGENTGRAPH_ENCRYPTION_KEY key {kid!r} is not base64") from None
        if len(key) != KEY_BYTES:
            raise EncryptionKeyError(f"AGENTGRAPH_ENCRYPTION_KEY key {kid!r} is {len(key)} bytes: want {KEY_BYTES}")
        if any(kid == known for known, _ in keys):
            raise EncryptionKeyError(f"AGENTGRAPH_ENCRYPTION_KEY lists kid {kid!r} twice")
        keys.append((kid, key))
    if not keys:
        raise EncryptionKeyError("AGENTGRAPH_ENCRYPTION_KEY is empty")
    return keys


def new_key_entry() -> str:
    """A fresh ``kid:base64key`` (the kid is the UTC time, so newer kids sort later)."""
    kid = "k" + datetime.now(UTC).strftime("%Y%m%d%H%M%S") + secrets.token_hex(2)
    return f"{kid}:{base64.urlsafe_b64encode(AesGcmCipher().new_key()).decode()}"


def key_file(settings: Settings) -> Path:
    """Where embedded mode keeps its generated keys."""
    return settings.data_dir / KEY_FILE


def load_master_keys(settings: Settings, *, create: bool = True) -> MasterKeyRing:
    """The configured keys, or (embedded) the generated ones; ``EncryptionKeyError`` when there are none to use."""
    if settings.encryption_key:
        return MasterKeyRing(parse_keys(settings.encryption_key), AesGcmCipher())
    if not settings.embedded:
        raise EncryptionKeyError(
            "AGENTGRAPH_ENCRYPTION_KEY is required when AGENTGRAPH_DATABASE_URL is set (distributed mode): "
            "every process must share it. Make one with `agentgraph keys generate`."
        )
    path = key_file(settings)
    if not path.exists():
        if not create:
            raise EncryptionKeyError(f"no AGENTGRAPH_ENCRYPTION_KEY set and none generated yet at {path}")
        _write(path, new_key_entry())
    return MasterKeyRing(parse_keys(path.read_text().strip()), AesGcmCipher())


def add_generated_key(settings: Settings) -> str:
    """Embedded rotation: put a new key first in the generated file (the old ones stay readable); its kid."""
    if settings.encryption_key or not settings.embedded:
        raise EncryptionKeyError(
            "AGENTGRAPH_ENCRYPTION_KEY is set: put the new key first in it yourself (`agentgraph keys generate`)"
        )
    path = key_file(settings)
    old = path.read_text().strip() if path.exists() else ""
    entry = new_key_entry()
    _write(path, f"{entry},{old}" if old else entry)
    return entry.partition(":")[0]


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # write-then-rename with 0600 so the key is never world-readable, and never half written
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)
