"""The API key aggregate, its secret's stored form, and the batching of last uses."""

from __future__ import annotations

from collections.abc import Mapping
from uuid import UUID, uuid4

import pytest

from application.api_key_usage import ApiKeyUsage
from domain.api_key import ApiKey, APIKeyPermission, ApiKeyRevokedError, APIKeyStatus
from domain.api_key_secret import matches, new_raw_key, stored_secret


def test_only_a_salted_scrypt_hash_head_and_tail_are_kept() -> None:
    raw = new_raw_key()
    secret = stored_secret(raw)
    assert raw.startswith("agpt_") and secret.head == raw[:8] and secret.tail == raw[-8:]
    assert len(bytes.fromhex(secret.salt)) == 32 and len(bytes.fromhex(secret.hash)) == 32
    assert matches(raw, secret.salt, secret.hash)
    assert not matches(raw + "x", secret.salt, secret.hash)
    assert stored_secret(raw).hash != secret.hash  # a fresh salt each time
    key = ApiKey.create("alice", "ci", None, [APIKeyPermission.IDENTITY], secret)
    assert raw not in repr(vars(key)) and raw not in repr(key.collect_events())


def test_suspend_and_revoke() -> None:
    key = ApiKey.create("alice", "ci", None, [APIKeyPermission.IDENTITY], stored_secret(new_raw_key()))
    key.suspend()
    assert key.status == APIKeyStatus.SUSPENDED and not key.is_active
    key.revoke()
    assert key.status == APIKeyStatus.REVOKED and key.revoked_at
    with pytest.raises(ApiKeyRevokedError):
        key.suspend()
    with pytest.raises(ApiKeyRevokedError):
        key.set_permissions([APIKeyPermission.READ_BLOCK])


def test_uses_are_recorded_once_per_key_per_interval() -> None:
    batches: list[Mapping[UUID, str]] = []
    now = [0.0]
    usage = ApiKeyUsage(batches.append, interval=60, clock=lambda: now[0])
    a, b = uuid4(), uuid4()
    for _ in range(100):
        usage.touch(a)
    usage.touch(b)
    assert batches == []  # nothing written on the hot path before the interval
    now[0] = 61
    usage.touch(a)
    assert len(batches) == 1 and set(batches[0]) == {a, b}
    usage.flush()
    assert len(batches) == 1  # nothing new to record
