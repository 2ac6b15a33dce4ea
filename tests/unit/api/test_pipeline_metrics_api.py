"""``GET /api/admin/metrics/pipeline``: lag and throughput of the event pipeline, for admins."""

from __future__ import annotations

import time
from typing import Any

from fastapi.testclient import TestClient

from api.app import create_app
from api.composition import Container
from tests.unit.api.conftest import AuthHeaders
from tests.unit.api.graph_samples import calculator

METRICS = "/api/admin/metrics/pipeline"
FINAL = ("COMPLETED", "FAILED", "TERMINATED")


def _caught_up(client: TestClient, headers: dict[str, str]) -> dict[str, Any]:
    """Poll the metrics until every projection's lag is 0 (at most 10 s); the last answer."""
    deadline = time.monotonic() + 10
    while True:
        response = client.get(METRICS, headers=headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        lags = [figures["lag"] for by_context in body["projections"].values() for figures in by_context.values()]
        if not any(lags) or time.monotonic() > deadline:
            return body
        time.sleep(0.02)


def test_pipeline_metrics_are_for_admins_only(client: TestClient, auth: AuthHeaders) -> None:
    forbidden = client.get(METRICS, headers=auth("bob"))
    assert forbidden.status_code == 403
    assert forbidden.json()["detail"] == "Admin access required"
    assert client.get(METRICS).status_code == 401


def test_an_admin_sees_heads_and_projections_caught_up_after_a_run(
    running_client: TestClient, auth: AuthHeaders
) -> None:
    created = running_client.post("/api/graphs", json={"graph": calculator()}, headers=auth())
    graph_id = created.json()["id"]
    started = running_client.post(f"/api/graphs/{graph_id}/execute/1", json={"inputs": {"Input": 8}}, headers=auth())
    run_url = f"/api/graphs/{graph_id}/executions/{started.json()['id']}"
    deadline = time.monotonic() + 10
    while (status := running_client.get(run_url, headers=auth()).json()["status"]) not in FINAL:
        assert time.monotonic() < deadline, status
        time.sleep(0.02)
    assert status == "COMPLETED"

    body = _caught_up(running_client, auth("root", role="admin"))

    assert body["mode"] == "embedded"
    heads = {context: figures["head"] for context, figures in body["contexts"].items()}
    assert set(heads) == {"graphs", "executions", "accounts", "store", "schedules"}
    assert heads["graphs"] > 0 and heads["executions"] > 0
    assert heads["accounts"] == heads["store"] == heads["schedules"] == 0  # no API key, listing or schedule made
    # embedded: no Kafka, so no relay anywhere
    assert body["relay"] is None
    for figures in body["contexts"].values():
        assert figures["relay_position"] is None and figures["relay_lag"] is None
    assert body["projections"]["graphs"] == {"graphs": {"applied": heads["graphs"], "lag": 0, "parked": 0}}
    assert body["projections"]["executions"]["executions"] == {"applied": heads["executions"], "lag": 0, "parked": 0}
    assert set(body["projections"]) == {
        "graphs",
        "executions",
        "audit",
        "api_keys",
        "credits",
        "integration_credentials",
        "store_listings",
        "schedules",
        "library",
        "notifications",
    }

    projector = body["projector"]
    assert projector["feed"] == "event_store"
    received = projector["received"]
    assert received["events"] == heads["graphs"] + heads["executions"]  # every stored event, read once
    assert received["batches"] >= 2 and received["events_per_second"] > 0
    assert 0 < received["average_batch"] <= received["largest_batch"] <= received["events"]
    assert projector["applied"]["events"] >= received["events"]  # once per projection an event feeds


def test_a_process_without_a_projector_still_sees_the_lag(container: Container, auth: AuthHeaders) -> None:
    with TestClient(create_app(container)) as client:
        created = client.post("/api/graphs", json={"graph": calculator()}, headers=auth())
        assert created.status_code == 200
        body = client.get(METRICS, headers=auth("root", role="admin")).json()
    assert body["projector"] is None and body["relay"] is None
    head = body["contexts"]["graphs"]["head"]
    assert head > 0
    # nothing projects in this process or any other: the whole log is lag, counted against the store
    assert body["projections"]["graphs"] == {"graphs": {"applied": 0, "lag": head, "parked": 0}}
