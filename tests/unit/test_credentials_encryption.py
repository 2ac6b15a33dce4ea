"""Secrets at rest, as short stories: the cipher, the master keys, a user's data key, credentials, shredding."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from adapters.aes_gcm import AesGcmCipher
from adapters.data_key_store import SQLiteDataKeyStore
from adapters.encryption_keys import EncryptionKeyError, add_generated_key, load_master_keys, parse_keys
from adapters.settings import Settings
from application.accounts import AccountsApplication
from application.credentials import CredentialsService
from application.encryption import MasterKeyRing, SecretsVault, UnreadableSecretError
from domain.credentials import (
    CredentialsMeta,
    CredentialsNotFoundError,
    CredentialsType,
    CredentialsUnavailableError,
    IntegrationCredentials,
)
from domain.data_key import UserDataKey

SECRET = "sk-live-" + "s3cr3t" * 6


def key(byte: int) -> bytes:
    return bytes([byte]) * 32


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


@pytest.fixture
def store(tmp_path: Path) -> SQLiteDataKeyStore:
    return SQLiteDataKeyStore(tmp_path / "keys.sqlite3")


def service(
    store: SQLiteDataKeyStore, *keys: tuple[str, bytes], accounts: AccountsApplication | None = None
) -> CredentialsService:
    accounts = accounts or AccountsApplication()
    ring = MasterKeyRing(list(keys) or [("k1", key(1))], AesGcmCipher())
    return CredentialsService(accounts, SecretsVault(accounts, ring, store))


def api_key_meta(user: str = "alice") -> CredentialsMeta:
    return CredentialsMeta(user_id=user, provider="openai", type=CredentialsType.API_KEY, title="mine")


def test_the_cipher_opens_what_it_sealed_and_nothing_else() -> None:
    cipher = AesGcmCipher()
    sealed = cipher.seal(key(1), b"hello", b"alice")
    assert b"hello" not in sealed
    assert cipher.open(key(1), sealed, b"alice") == b"hello"
    for wrong_key, aad in ((key(2), b"alice"), (key(1), b"bob")):
        with pytest.raises(UnreadableSecretError):
            cipher.open(wrong_key, sealed, aad)
    with pytest.raises(UnreadableSecretError):
        cipher.open(key(1), sealed[:-1] + bytes([sealed[-1] ^ 1]), b"alice")


def test_master_keys_are_kid_colon_key_newest_first() -> None:
    assert parse_keys(f"new:{b64(key(2))}, old:{b64(key(1))}") == [("new", key(2)), ("old", key(1))]
    twice = f"k:{b64(key(1))},k:{b64(key(2))}"
    for bad in ("", "nokid", f"bad kid:{b64(key(1))}", "k:notbase64!!", f"k:{b64(b'short')}", twice):
        with pytest.raises(EncryptionKeyError):
            parse_keys(bad)


def test_embedded_generates_a_key_file_and_distributed_requires_the_setting(tmp_path: Path) -> None:
    embedded = Settings(AGENTGRAPH_DATA_DIR=tmp_path, AGENTGRAPH_ENCRYPTION_KEY=None, AGENTGRAPH_DATABASE_URL=None)
    first = load_master_keys(embedded)
    assert (tmp_path / "encryption-keys").stat().st_mode & 0o777 == 0o600
    assert load_master_keys(embedded).keys == first.keys  # generated once, reused
    new_kid = add_generated_key(embedded)
    assert [kid for kid, _ in load_master_keys(embedded).keys] == [new_kid, first.newest_kid]
    distributed = Settings(AGENTGRAPH_DATABASE_URL="postgresql://x/y", AGENTGRAPH_ENCRYPTION_KEY=None)
    with pytest.raises(EncryptionKeyError, match="AGENTGRAPH_ENCRYPTION_KEY is required"):
        load_master_keys(distributed)


def test_stored_credentials_hold_only_a_ciphertext_and_open_for_their_owner(store: SQLiteDataKeyStore) -> None:
    credentials = service(store)
    written = credentials.create(api_key_meta(), {"api_key": SECRET})
    aggregate = credentials.accounts.repository.get(written.aggregate_id)
    assert isinstance(aggregate, IntegrationCredentials)
    assert aggregate.ciphertext.startswith("agc1:") and SECRET not in aggregate.ciphertext
    events = credentials.accounts.recorder.select_events(written.aggregate_id)
    assert all(SECRET.encode() not in event.state for event in events)

    opened = credentials.resolve("alice", {"id": str(written.aggregate_id), "provider": "openai", "type": "api_key"})
    assert opened.bearer_token == SECRET
    assert SECRET not in repr(opened)  # a log line naming it shows no secret
    with pytest.raises(CredentialsUnavailableError, match=f"Credentials #{written.aggregate_id} for user #bob"):
        credentials.resolve("bob", {"id": str(written.aggregate_id)})
    with pytest.raises(CredentialsUnavailableError, match="type/provider mismatch"):
        credentials.resolve("alice", {"id": str(written.aggregate_id), "provider": "anthropic"})


def test_deleted_credentials_cannot_be_resolved_or_deleted_again(store: SQLiteDataKeyStore) -> None:
    credentials = service(store)
    written = credentials.create(api_key_meta(), {"api_key": SECRET})
    with pytest.raises(CredentialsNotFoundError, match="do not match the specified provider"):
        credentials.delete("alice", "github", str(written.aggregate_id))
    with pytest.raises(CredentialsNotFoundError, match="Credentials not found"):
        credentials.delete("bob", "openai", str(written.aggregate_id))
    credentials.delete("alice", "openai", str(written.aggregate_id))
    with pytest.raises(CredentialsNotFoundError):
        credentials.delete("alice", "openai", str(written.aggregate_id))
    with pytest.raises(CredentialsUnavailableError, match="not found"):
        credentials.resolve("alice", {"id": str(written.aggregate_id)})


def test_one_data_key_per_user_wrapped_by_the_master_key(store: SQLiteDataKeyStore) -> None:
    credentials = service(store)
    credentials.create(api_key_meta("alice"), {"api_key": "a1"})
    credentials.create(api_key_meta("alice"), {"api_key": "a2"})
    credentials.create(api_key_meta("bob"), {"api_key": "b1"})
    rows = store.all_keys()
    assert sorted(row.user_id for row in rows) == ["alice", "bob"]
    assert {row.master_kid for row in rows} == {"k1"}
    data_key = credentials.accounts.repository.get(UserDataKey.id_for("alice"))
    assert data_key.data_key_id in {row.data_key_id for row in rows}


def test_shredding_makes_every_secret_of_the_user_unreadable_for_ever(store: SQLiteDataKeyStore) -> None:
    credentials = service(store)
    alice = credentials.create(api_key_meta("alice"), {"api_key": SECRET})
    bob = credentials.create(api_key_meta("bob"), {"api_key": "bobs"})
    result = credentials.erase_user_secrets("alice")
    assert result.destroyed and result.position is not None
    with pytest.raises(CredentialsUnavailableError, match="cannot be decrypted"):
        credentials.resolve("alice", {"id": str(alice.aggregate_id)})
    assert credentials.resolve("bob", {"id": str(bob.aggregate_id)}).bearer_token == "bobs"
    # the log still loads; the old ciphertext is still there and opens with nothing
    assert credentials.accounts.repository.get(alice.aggregate_id).ciphertext.startswith("agc1:")
    assert credentials.accounts.repository.get(UserDataKey.id_for("alice")).is_shredded
    # new credentials get a new data key; the shredded one stays dead
    again = credentials.create(api_key_meta("alice"), {"api_key": "fresh"})
    assert credentials.resolve("alice", {"id": str(again.aggregate_id)}).bearer_token == "fresh"
    with pytest.raises(CredentialsUnavailableError):
        credentials.resolve("alice", {"id": str(alice.aggregate_id)})
    assert not credentials.erase_user_secrets("carol").destroyed


def test_rotation_rewraps_data_keys_forward_and_old_secrets_still_open(store: SQLiteDataKeyStore) -> None:
    accounts = AccountsApplication()
    before = service(store, ("k1", key(1)), accounts=accounts)
    written = before.create(api_key_meta(), {"api_key": SECRET})
    after = service(store, ("k2", key(2)), ("k1", key(1)), accounts=accounts)
    report = after.vault.rotate()
    assert (report.newest_kid, report.rewrapped, report.already_current) == ("k2", 1, 0)
    assert {row.master_kid for row in store.all_keys()} == {"k2"}
    assert accounts.repository.get(UserDataKey.id_for("alice")).master_kid == "k2"
    # the old master key can go now
    only_new = service(store, ("k2", key(2)), accounts=accounts)
    assert only_new.resolve("alice", {"id": str(written.aggregate_id)}).bearer_token == SECRET
    assert only_new.vault.rotate().rewrapped == 0


def test_a_ciphertext_moved_to_other_credentials_does_not_open(store: SQLiteDataKeyStore) -> None:
    credentials = service(store)
    first = credentials.create(api_key_meta(), {"api_key": SECRET})
    second = credentials.create(api_key_meta(), {"api_key": "other"})
    stolen = credentials.accounts.repository.get(first.aggregate_id).ciphertext
    aad = f"agentgraph credentials|alice|{second.aggregate_id}".encode()
    with pytest.raises(UnreadableSecretError):
        credentials.vault.open("alice", stolen, aad)
    own = f"agentgraph credentials|alice|{first.aggregate_id}".encode()
    assert json.loads(credentials.vault.open("alice", stolen, own)) == {"api_key": SECRET}
