"""The OpenAPI document says how every protected route authenticates and what it answers when that fails."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

PUBLIC_PATHS = {"/health", "/ready", "/metrics", "/api/public/shared/{share_token}"}
EXTERNAL_PREFIX = "/external-api/"


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, ops in document["paths"].items() for method, op in ops.items()]


def test_every_protected_operation_declares_its_scheme_and_its_401_and_403(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    schemes = document["components"]["securitySchemes"]
    assert schemes["HTTPBearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "A JWT with audience 'authenticated'",
    }
    assert schemes["APIKeyHeader"]["in"] == "header" and schemes["APIKeyHeader"]["name"] == "X-API-Key"
    checked = 0
    for path, method, operation in _operations(document):
        if path in PUBLIC_PATHS:
            assert "security" not in operation, (method, path)
            assert not {"401", "403"} & set(operation["responses"]), (method, path)
            continue
        expected = "APIKeyHeader" if path.startswith(EXTERNAL_PREFIX) else "HTTPBearer"
        assert operation.get("security") == [{expected: []}], (method, path)
        for status in ("401", "403"):
            body = operation["responses"][status]["content"]["application/json"]["schema"]
            assert body == {"$ref": "#/components/schemas/ErrorBody"}, (method, path, status)
        checked += 1
    assert checked >= 30  # every router's routes, not a few
    assert set(document["components"]["schemas"]["ErrorBody"]["required"]) == {"detail", "code"}


def test_the_documents_and_probes_need_no_token(client: TestClient) -> None:
    for path in ("/health", "/metrics", "/openapi.json", "/docs"):
        assert client.get(path).status_code == 200, path
