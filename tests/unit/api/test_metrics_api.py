"""``/metrics`` through HTTP: Prometheus text with the HTTP, executor, rate-limit, WebSocket and pipeline figures."""

from __future__ import annotations

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from adapters.prometheus_metrics import PlatformMetrics
from tests.unit.api.conftest import AuthHeaders
from tests.unit.api.test_executions_api import _graph, _wait


def _samples(client: TestClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def _value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_metrics_after_a_run(running_client: TestClient, auth: AuthHeaders) -> None:
    graph_id = _graph(running_client, auth())
    for value in (1, 2):
        started = running_client.post(
            f"/api/graphs/{graph_id}/execute/1", json={"inputs": {"Input": value}}, headers=auth()
        ).json()
        assert _wait(running_client, auth(), graph_id, started["id"])["status"] == "COMPLETED"
    running_client.get("/api/graphs/not-a-uuid/executions/nope", headers=auth())

    samples = _samples(running_client)

    assert _value(samples, "graph_executions_total", status="COMPLETED") == 2
    assert _value(samples, "graph_execution_duration_seconds_count", status="COMPLETED") == 2
    assert _value(samples, "graph_execution_duration_seconds_sum", status="COMPLETED") > 0
    assert _value(samples, "node_executions_total", status="COMPLETED") >= 4  # calculator: several nodes per run
    assert _value(samples, "http_requests_total", method="POST", endpoint="/api/graphs", status="200") == 1
    template = "/api/graphs/{graph_id}/execute/{graph_version}"
    assert _value(samples, "http_requests_total", method="POST", endpoint=template, status="200") == 2
    # the route template, never the raw path: bounded label values
    assert not any("not-a-uuid" in dict(labels).get("endpoint", "") for _, labels in samples)
    assert _value(samples, "http_request_duration_seconds_count", method="POST", endpoint="/api/graphs") == 1
    assert _value(samples, "rate_limit_fail_open_total") == 0
    assert ("websocket_connections", frozenset()) in samples
    heads = {
        dict(labels)["context"]: value
        for (name, labels), value in samples.items()
        if name == "agentgraph_event_store_head"
    }
    assert heads["executions"] > 0 and heads["graphs"] > 0
    assert any(name == "agentgraph_projection_lag_events" for name, _ in samples)
    assert any(name == "agentgraph_dead_letters" for name, _ in samples)
    assert _value(samples, "agentgraph_projector_applied_events_total", feed="event_store") > 0


def test_unmatched_paths_share_one_label(client: TestClient) -> None:
    for path in ("/nope/1", "/nope/2", "/nope/3"):
        assert client.get(path).status_code == 404
    samples = _samples(client)
    assert _value(samples, "http_requests_total", method="GET", endpoint="<unmatched>", status="404") == 3


def test_each_app_has_its_own_registry() -> None:
    first, second = PlatformMetrics(), PlatformMetrics()
    first.websocket_connected()
    first.websocket_connected()
    second.websocket_connected()
    first.websocket_disconnected()
    assert b"websocket_connections 1.0" in first.render()
    assert b"websocket_connections 1.0" in second.render()
