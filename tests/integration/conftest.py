"""Fixtures of the integration tests (a module may define its own).

``env`` is the environment of ``serve`` processes run against PostgreSQL
(a JWT key, a data folder, the SSRF guard lifted for the tests' local HTTP
servers); ``container`` the test's own view of the same stores.

``mode`` runs a module's stories in each way the platform runs (``MODES``):
embedded on SQLite, on PostgreSQL with the in-process feeds, and on
PostgreSQL with Kafka (the relay publishes the event stores, the projector
and the executor consume the topics). A test builds its settings with
``mode.settings(...)`` and its app with ``mode.app(...)``; what a user
observes through HTTP must not depend on the mode.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from adapters.kafka_topics import ensure_topics
from adapters.settings import Settings
from api.app import create_app
from api.composition import CONTEXTS, Container, build_container
from tests.serving import Processes

MODES = ("sqlite", "postgres", "kafka")
"""Embedded (SQLite, in-process feeds); PostgreSQL (in-process feeds); PostgreSQL + Kafka (relay, Kafka consumers)."""

KAFKA_PARTITIONS = 3
"""Partitions per topic in the Kafka mode: a few, so keys spread, without many topics' worth of partitions per test."""

KAFKA_CONSISTENCY_WAIT_SECONDS = 30.0
"""How long a read with a consistency token waits in the Kafka mode (the default 5 s is close to a group join)."""


@dataclass(frozen=True)
class Mode:
    """One way to run the platform: the settings it needs and the workers its app runs."""

    name: str
    fields: dict[str, Any]

    @property
    def kafka(self) -> bool:
        return self.name == "kafka"

    def settings(self, **fields: Any) -> Settings:
        """The mode's settings (store, broker, data folder) plus a test's own ``fields`` (by alias)."""
        return Settings(**{**self.fields, **fields})

    def app(self, container: Container, *, executor: bool = False, projector: bool = False) -> FastAPI:
        """The API around ``container``, with the executor and/or the projector in its loop.

        In the Kafka mode an app that runs a worker runs the relay too: the
        workers consume what it publishes (one relay is active at a time).
        """
        return create_app(
            container,
            run_executor=executor,
            run_projector=projector,
            run_relay=self.kafka and (executor or projector),
        )


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest, tmp_path: Path) -> Mode:
    """The mode of this test (each test runs once per mode): a fresh database, and topics under a fresh prefix."""
    fields: dict[str, Any] = {
        "AGENTGRAPH_DATA_DIR": tmp_path / "data",
        "AGENTGRAPH_DATABASE_URL": None,  # given, so the environment's never applies
        "AGENTGRAPH_KAFKA_BOOTSTRAP": None,
    }
    if request.param != "sqlite":
        fields["AGENTGRAPH_DATABASE_URL"] = request.getfixturevalue("postgres_dsn")
    if request.param == "kafka":
        bootstrap: str = request.getfixturevalue("kafka_bootstrap")
        prefix: str = request.getfixturevalue("kafka_topic_prefix").rstrip(".")
        fields["AGENTGRAPH_KAFKA_BOOTSTRAP"] = bootstrap
        fields["AGENTGRAPH_KAFKA_TOPIC_PREFIX"] = prefix
        fields["AGENTGRAPH_KAFKA_PARTITIONS"] = KAFKA_PARTITIONS
        # a test's first read waits out the projector's group join (~3 s on the test broker, more on a busy
        # machine) before the read model shows the write: a read honouring a consistency token waits that long
        fields["AGENTGRAPH_CONSISTENCY_WAIT_SECONDS"] = KAFKA_CONSISTENCY_WAIT_SECONDS
        # the topics come first, as `agentgraph db init` makes them: a consumer subscribing before the relay
        # made them would have the broker create them with its own partition count
        ensure_topics(bootstrap, prefix, sorted(CONTEXTS), KAFKA_PARTITIONS)
    return Mode(request.param, fields)


@pytest.fixture
def env(postgres_dsn: str, tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "AGENTGRAPH_DATABASE_URL": postgres_dsn,
        "JWT_VERIFY_KEY": "executor-test-key-" + "k" * 32,
        "AGENTGRAPH_DATA_DIR": str(tmp_path / "data"),
        "AGENTGRAPH_HTTP_ALLOW_PRIVATE_NETWORKS": "true",
    }


@pytest.fixture
def container(env: dict[str, str]) -> Iterator[Container]:
    built = build_container(
        Settings(
            AGENTGRAPH_DATABASE_URL=env["AGENTGRAPH_DATABASE_URL"],
            JWT_VERIFY_KEY=env["JWT_VERIFY_KEY"],
            AGENTGRAPH_DATA_DIR=Path(env["AGENTGRAPH_DATA_DIR"]),
            AGENTGRAPH_HTTP_ALLOW_PRIVATE_NETWORKS=True,
        )
    )
    yield built
    built.close()


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    """``serve`` processes of the test, each with its log; all stopped (SIGTERM) at the end."""
    running = Processes(tmp_path)
    try:
        yield running
    finally:
        running.stop_all()
