"""Bearer-token auth as AutoGPT clients expect it: 401 for every bad token, 403 for non-admins."""

from __future__ import annotations

import time

import jwt
import pytest
from fastapi.testclient import TestClient

from api.composition import Container
from tests.unit.api.conftest import AuthHeaders


def _token(container: Container, **overrides: object) -> str:
    claims: dict[str, object] = {
        "sub": "alice",
        "aud": "authenticated",
        "role": "user",
        "exp": int(time.time()) + 60,
    }
    claims.update(overrides)
    key = str(claims.pop("_key", container.jwt.verify_key))
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, key, algorithm="HS256")


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "Authorization header is missing"),
        ({"Authorization": "Basic abc"}, "Authorization header must be 'Bearer <token>'"),
        ({"Authorization": "Bearer not.a.jwt"}, "Invalid token"),
    ],
)
def test_missing_or_malformed_tokens_are_401(client: TestClient, headers: dict[str, str], message: str) -> None:
    response = client.get("/api/graphs", headers=headers)
    assert response.status_code == 401
    assert response.json()["detail"].startswith(message)
    assert response.json()["code"] == "unauthorized"
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        ({"exp": int(time.time()) - 10}, "Token has expired"),
        ({"aud": "someone-else"}, "Invalid token audience"),
        ({"_key": "x" * 48}, "Invalid token signature"),
        ({"sub": None}, "Token is missing the 'sub' claim"),
    ],
)
def test_bad_tokens_are_401_with_the_reason(
    client: TestClient, container: Container, claims: dict[str, object], message: str
) -> None:
    response = client.get("/api/graphs", headers={"Authorization": f"Bearer {_token(container, **claims)}"})
    assert response.status_code == 401
    assert response.json()["detail"] == message


def test_a_token_accepted_before_is_refused_once_it_expires(
    client: TestClient, container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The claims of a verified token are cached; its expiry is still checked on every request."""
    headers = {"Authorization": f"Bearer {_token(container, exp=int(time.time()) + 30)}"}
    assert client.get("/api/graphs", headers=headers).status_code == 200
    later = time.time() + 31
    monkeypatch.setattr("api.auth.time.time", lambda: later)
    response = client.get("/api/graphs", headers=headers)
    assert response.status_code == 401
    assert response.json()["detail"] == "Token has expired"


def test_admin_routes_are_403_for_users_and_open_to_admins(client: TestClient, auth: AuthHeaders) -> None:
    client.post(
        "/api/graphs",
        json={
            "name": "g",
            "nodes": [{"block_id": "cc10ff7b-7753-4ff2-9af6-9399b1a7eddc", "input_default": {"text": "x"}}],
        },
        headers=auth("alice"),
    )
    forbidden = client.get("/api/admin/users/alice/graphs", headers=auth("bob"))
    assert forbidden.status_code == 403
    assert forbidden.json()["detail"] == "Admin access required"
    allowed = client.get("/api/admin/users/alice/graphs", headers=auth("root", role="admin"))
    assert allowed.status_code == 200
    assert [g["name"] for g in allowed.json()] == ["g"]


def test_health_needs_no_token_and_responses_carry_security_headers(client: TestClient) -> None:
    response = client.get("/health")
    assert response.json() == {"status": "healthy", "mode": "embedded"}
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize("subject", ["", "   "])
def test_a_token_with_an_empty_subject_names_no_user(client: TestClient, container: Container, subject: str) -> None:
    response = client.get("/api/graphs", headers={"Authorization": f"Bearer {_token(container, sub=subject)}"})
    assert response.status_code == 401
    assert response.json() == {"detail": "Token has an empty 'sub' claim", "code": "unauthorized"}
