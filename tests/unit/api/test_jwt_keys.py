"""Which JWT keys the API accepts: HMAC secrets, RSA and EC public keys, and the production rules."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from adapters.jwt_keys import JWTKeyError, MissingJWTKeyError, load_jwt_config
from adapters.settings import Settings
from api.app import create_app
from api.cli import app as cli
from api.composition import build_container
from tests.signing_keys import KeyPair, ec_pair, rsa_pair

RSA = rsa_pair()
EC = ec_pair()
STRONG_SECRET = "s" * 32


def _claims(**overrides: Any) -> dict[str, Any]:
    return {"sub": "alice", "aud": "authenticated", "exp": int(time.time()) + 60, **overrides}


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Any]:
    """``serve(JWT_VERIFY_KEY=..., ...)`` -> a client of an API started with those settings."""
    opened: list[Any] = []

    def start(**env: Any) -> TestClient:
        container = build_container(Settings(AGENTGRAPH_DATA_DIR=tmp_path / f"data{len(opened)}", **env))
        client = TestClient(create_app(container))
        client.__enter__()
        opened.append((client, container))
        return client

    yield start
    for client, container in opened:
        client.__exit__(None, None, None)
        container.close()


@pytest.mark.parametrize(("pair", "algorithm"), [(RSA, "RS256"), (EC, "ES256")])
def test_tokens_signed_with_the_private_key_are_accepted(serve: Any, pair: KeyPair, algorithm: str) -> None:
    client = serve(JWT_VERIFY_KEY=pair.public_pem, JWT_ALGORITHM=algorithm)
    token = jwt.encode(_claims(), pair.private_pem, algorithm=algorithm)
    response = client.get("/api/graphs", headers=_bearer(token))
    assert response.status_code == 200, response.text
    assert response.json() == []


@pytest.mark.parametrize(("pair", "algorithm"), [(RSA, "RS256"), (EC, "ES256")])
def test_the_algorithm_is_inferred_from_the_key_and_env_file_escapes_are_read(
    serve: Any, pair: KeyPair, algorithm: str
) -> None:
    one_line = pair.public_pem.strip().replace("\n", "\\n")  # how an env file carries a PEM key
    client = serve(JWT_VERIFY_KEY=one_line)  # no JWT_ALGORITHM
    token = jwt.encode(_claims(), pair.private_pem, algorithm=algorithm)
    assert client.get("/api/graphs", headers=_bearer(token)).status_code == 200


@pytest.mark.parametrize(("pair", "other", "algorithm"), [(RSA, rsa_pair(), "RS256"), (EC, ec_pair(), "ES256")])
def test_a_token_signed_by_another_key_is_401(serve: Any, pair: KeyPair, other: KeyPair, algorithm: str) -> None:
    client = serve(JWT_VERIFY_KEY=pair.public_pem)
    response = client.get("/api/graphs", headers=_bearer(jwt.encode(_claims(), other.private_pem, algorithm=algorithm)))
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token signature", "code": "unauthorized"}


def test_an_hmac_token_against_a_public_key_is_401(serve: Any) -> None:
    client = serve(JWT_VERIFY_KEY=RSA.public_pem)
    response = client.get("/api/graphs", headers=_bearer(jwt.encode(_claims(), STRONG_SECRET, algorithm="HS256")))
    assert response.status_code == 401
    assert response.json()["detail"] == "Invalid token: The specified alg value is not allowed"


def test_an_empty_sub_is_401(serve: Any) -> None:
    client = serve(JWT_VERIFY_KEY=EC.public_pem)
    response = client.get("/api/graphs", headers=_bearer(jwt.encode(_claims(sub=" "), EC.private_pem, "ES256")))
    assert response.status_code == 401
    assert response.json()["detail"] == "Token has an empty 'sub' claim"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"JWT_VERIFY_KEY": RSA.public_pem, "JWT_ALGORITHM": "HS256"}, "JWT_ALGORITHM=HS256 does not fit"),
        ({"JWT_VERIFY_KEY": RSA.public_pem, "JWT_ALGORITHM": "ES256"}, "JWT_ALGORITHM=ES256 does not fit"),
        ({"JWT_VERIFY_KEY": EC.public_pem, "JWT_ALGORITHM": "RS256"}, "JWT_ALGORITHM=RS256 does not fit"),
        ({"JWT_VERIFY_KEY": ec_pair(ec.SECP384R1()).public_pem, "JWT_ALGORITHM": "ES256"}, "use ES384"),
        ({"JWT_VERIFY_KEY": STRONG_SECRET, "JWT_ALGORITHM": "RS256"}, "needs a PEM public key"),
        ({"JWT_VERIFY_KEY": STRONG_SECRET, "JWT_ALGORITHM": "none"}, "is not supported"),
        ({"JWT_VERIFY_KEY": RSA.private_pem}, "holds a private key"),
        ({"JWT_VERIFY_KEY": "-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----"}, "not a readable PEM"),
        ({"JWT_ALGORITHM": "RS256"}, "needs JWT_VERIFY_KEY"),
    ],
)
def test_keys_that_do_not_fit_the_algorithm_refuse_to_start(tmp_path: Path, env: dict[str, Any], message: str) -> None:
    with pytest.raises(JWTKeyError, match=message):
        load_jwt_config(Settings(AGENTGRAPH_DATA_DIR=tmp_path, **env))


def test_inferred_algorithms() -> None:
    assert load_jwt_config(Settings(JWT_VERIFY_KEY=RSA.public_pem)).algorithm == "RS256"
    assert load_jwt_config(Settings(JWT_VERIFY_KEY=EC.public_pem)).algorithm == "ES256"
    assert load_jwt_config(Settings(JWT_VERIFY_KEY=ec_pair(ec.SECP521R1()).public_pem)).algorithm == "ES512"
    assert load_jwt_config(Settings(JWT_VERIFY_KEY=RSA.public_pem, JWT_ALGORITHM="ps384")).algorithm == "PS384"
    assert load_jwt_config(Settings(JWT_VERIFY_KEY="short")).algorithm == "HS256"  # fine outside production


def test_production_needs_an_hmac_key_of_32_characters(tmp_path: Path) -> None:
    production: dict[str, Any] = {"AGENTGRAPH_DATA_DIR": tmp_path, "AGENTGRAPH_ENV": "production"}
    with pytest.raises(JWTKeyError, match="JWT_VERIFY_KEY is 31 characters: AGENTGRAPH_ENV=production needs"):
        load_jwt_config(Settings(**production, JWT_VERIFY_KEY="k" * 31))
    assert load_jwt_config(Settings(**production, JWT_VERIFY_KEY="k" * 32)).algorithm == "HS256"
    assert load_jwt_config(Settings(**production, JWT_VERIFY_KEY=RSA.public_pem)).algorithm == "RS256"
    with pytest.raises(MissingJWTKeyError, match="JWT_VERIFY_KEY is required when AGENTGRAPH_ENV=production"):
        load_jwt_config(Settings(**production))  # embedded, but no generated dev key in production
    assert not (tmp_path / "jwt-dev-secret").exists()


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("k" * 31, "JWT_VERIFY_KEY is 31 characters: AGENTGRAPH_ENV=production needs an HMAC key of at least 32"),
        (None, "JWT_VERIFY_KEY is required when AGENTGRAPH_ENV=production"),
    ],
)
def test_serve_in_production_with_a_weak_key_exits_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, key: str | None, message: str
) -> None:
    monkeypatch.setenv("AGENTGRAPH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("AGENTGRAPH_ENV", "production")
    monkeypatch.delenv("AGENTGRAPH_DATABASE_URL", raising=False)
    monkeypatch.delenv("JWT_ALGORITHM", raising=False)
    if key is None:
        monkeypatch.delenv("JWT_VERIFY_KEY", raising=False)
    else:
        monkeypatch.setenv("JWT_VERIFY_KEY", key)
    result = CliRunner().invoke(cli, ["serve", "--role", "api"], env={"COLUMNS": "300"})
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"error: {message}")
    assert "Traceback" not in result.output
