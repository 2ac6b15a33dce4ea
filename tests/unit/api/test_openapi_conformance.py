"""Property-based: every operation of ``/openapi.json``, fed generated requests, answers as documented.

Schemathesis generates valid and invalid requests for each operation
(bounded examples each) against the embedded app and checks: no 5xx, every
status is one the document declares, the body matches the declared schema
and the content type is the declared one. A route that answers a shape or a
status its document does not describe fails here.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import create_app
from api.composition import Container
from domain.api_key import APIKeyPermission
from tests.unit.api.conftest import AuthHeaders
from tests.unit.api.graph_samples import CALCULATOR, calculator

CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance, content_type_conformance]
EXAMPLES_PER_OPERATION = 10


KNOWN = {"user_id": "alice", "version": 1, "graph_version": 1, "block_id": CALCULATOR}


@pytest.fixture
def api_schema(container: Container, auth: AuthHeaders) -> Iterator[tuple[Any, dict[str, Any]]]:
    """The embedded app (projector and executor running) with one graph and one run of alice in it."""
    app = create_app(container, run_projector=True, run_executor=True)
    with TestClient(app) as client:  # runs the lifespan: projector and executor
        graph = client.post("/api/graphs", json={"graph": calculator()}, headers=auth()).json()
        run = client.post(f"/api/graphs/{graph['id']}/execute/1", json={"inputs": {"Input": 1}}, headers=auth()).json()
        # two keys: the one the external API is called with, and the one the key routes act on (and revoke)
        key = {"name": "conformance", "permissions": list(APIKeyPermission)}
        calling = client.post("/api/api-keys", json=key, headers=auth(role="admin")).json()["plain_text_key"]
        acted_on = client.post("/api/api-keys", json=key, headers=auth(role="admin")).json()["api_key"]["id"]
        assert client.get("/external-api/v1/me", headers={"X-API-Key": calling}).status_code == 200
        known = {**KNOWN, "graph_id": graph["id"], "execution_id": run["id"], "key_id": acted_on}
        yield schemathesis.openapi.from_asgi("/openapi.json", app), {**known, "api_key": calling}


def test_every_operation_answers_as_its_document_says(api_schema: Any, auth: AuthHeaders) -> None:
    schema, known = api_schema
    headers = {**auth(role="admin"), "X-API-Key": known.pop("api_key")}  # the external API's routes do real work
    failures: dict[str, str] = {}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15  # the document describes every route
    operations.sort(key=lambda op: op.method.upper() == "DELETE")  # deleting the known graph comes last

    for operation, mode, realistic in itertools.product(operations, GenerationMode, (False, True)):
        names = {p.name for p in operation.path_parameters}
        if realistic and not names:
            continue
        # generated path ids mostly name nothing (404); the known ones reach the route's real work
        fixed = {name: known[name] for name in names if name in known} if realistic else None

        @given(case=operation.as_strategy(mode, path_parameters=fixed))
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def answers_as_documented(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            answers_as_documented()
        except Unsatisfiable:
            continue  # nothing to break: an operation without parameters or body has no negative case
        except Exception as exc:
            failures[f"{operation.label} ({mode}, {'known ids' if realistic else 'generated ids'})"] = str(exc)[:3000]
    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())
