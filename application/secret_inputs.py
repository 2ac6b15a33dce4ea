"""Secret run inputs: sealed under the run owner's data key when a run is requested, opened by the executor.

A value given to a ``secret`` INPUT node (``domain.secret_inputs``) is sealed
through the ``SecretsVault`` before the run's ``Requested`` event records
it, bound to the owner, the run id and the input name (a token copied into
another run or another input does not open). The executor opens a run's
tokens when it takes the run, keeps them in memory for that run only
(``OpenedSecrets``), hands blocks the clear value and records the token
wherever the exact value would have been recorded. Once the owner's data key
is shredded, a run needing the value fails with ``SecretInputUnavailableError``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any
from uuid import UUID

from application.encryption import SecretsVault, UnreadableSecretError
from domain.secret_inputs import OpenedSecrets, is_sealed


class SecretInputUnavailableError(Exception):
    """A run's secret input cannot be opened (the owner's secrets were erased); the message names no secret."""


def _aad(user_id: str, execution_id: UUID, name: str) -> bytes:
    return f"agentgraph run input|{user_id}|{execution_id}|{name}".encode()


class RunInputSecrets:
    """Seals a run's secret inputs when it is requested and opens them when it runs."""

    def __init__(self, vault: SecretsVault) -> None:
        self.vault = vault

    def seal_inputs(
        self,
        user_id: str,
        execution_id: UUID,
        names: Iterable[str],
        inputs: dict[str, Any],
        opened: OpenedSecrets | None = None,
    ) -> dict[str, Any]:
        """``inputs`` with the value of each secret input in ``names`` sealed (JSON) for this run.

        ``opened``: a parent run's secrets, revealed first (a sub-agent run given its parent's token).
        """
        sealed = dict(inputs)
        for name in names:
            if name not in inputs:
                continue
            clear = opened.reveal(inputs[name]) if opened is not None else inputs[name]
            plaintext = json.dumps(clear, separators=(",", ":")).encode()
            sealed[name] = self.vault.seal(user_id, plaintext, _aad(user_id, execution_id, name))
        return sealed

    def open_inputs(
        self, user_id: str, execution_id: UUID, names: Iterable[str], inputs: dict[str, Any], into: OpenedSecrets
    ) -> None:
        """Open the run's sealed secret inputs into ``into``; ``SecretInputUnavailableError`` if one cannot be."""
        for name in sorted(names):
            token = inputs.get(name)
            if not is_sealed(token) or token in into.clear_by_token:
                continue
            try:
                plaintext = self.vault.open(user_id, token, _aad(user_id, execution_id, name))
            except UnreadableSecretError:
                raise SecretInputUnavailableError(
                    f"Secret input {name!r} of execution {execution_id} cannot be decrypted "
                    f"(the secrets of user #{user_id} were erased)"
                ) from None
            into.add(token, json.loads(plaintext))
