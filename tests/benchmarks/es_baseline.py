"""The eventsourcing library's own way of keeping a read model: one transaction per event.

The catch-up benchmark compares our Kafka projector with this baseline: the
library's ``ProjectionRunner`` follows the executions application's log and
hands each domain event to a ``Projection``, whose materialised view (a
``PostgresTrackingRecorder``) applies our executions projection to that one
event and records the tracking position in ONE transaction, as the library's
own recorders record their writes together with tracking. Only the batching
differs from the Kafka projector: the projection code and its SQL are ours.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Mapper, Tracking
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from eventsourcing.projection import Projection, ProjectionRunner
from psycopg.conninfo import make_conninfo

from adapters.event_transcoder import PlainJSONTranscoder
from adapters.persistence import postgres_env
from adapters.read_store import PostgresReadStore, ReadTransaction
from application.executions import ExecutionsApplication
from projections.envelope import EventEnvelope, envelope_from_stored
from projections.registry import projection_named
from tests.read_models import table_rows

CONTEXT = "executions"
VIEW = "executions_baseline"
"""The projection's name: its environment prefix and its tracking table (``executions_baseline_tracking``)."""

_MAPPER = Mapper[UUID](transcoder=PlainJSONTranscoder())
"""The executions application's mapper, as configured by ``adapters.persistence`` (plain JSON, nothing else)."""


def envelope_from_domain_event(domain_event: Any, position: int) -> EventEnvelope:
    """The envelope ``EventLog.read`` returns for the event at ``position``, from the decoded domain event.

    The event is encoded again as the application stored it, so the
    envelope (timestamp format included) is the one every other transport builds.
    """
    stored = _MAPPER.to_stored_event(domain_event)
    return envelope_from_stored(
        CONTEXT, position, stored.originator_id, stored.originator_version, stored.topic, stored.state
    )


class ExecutionsView(PostgresTrackingRecorder):
    """The executions read model and its tracking table, in one database on this recorder's own pool."""

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        self.projection = projection_named(CONTEXT)
        # used for our SQL dialect (``:name`` parameters, JSONB) and to create the tables
        self.read_store = PostgresReadStore(_dsn(datastore))

    def create_table(self) -> None:
        super().create_table()
        self.read_store.create_tables([self.projection])

    def apply(self, envelope: EventEnvelope, tracking: Tracking) -> None:
        """Apply one event and record its tracking, in one transaction (as the library's process recorder does)."""
        with self.datastore.transaction(commit=True) as cursor:
            self.projection.apply([envelope], ReadTransaction(self.read_store.sql, cursor))
            self._insert_tracking(cursor, tracking)

    def close(self) -> None:
        """Release the connections."""
        self.read_store.close()
        self.datastore.close()


class ExecutionsBaseline(Projection[ExecutionsView]):
    """Every executions event, one at a time, into the view."""

    name = VIEW

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.apply(envelope_from_domain_event(domain_event, tracking.notification_id), tracking)


def runner_env(events_url: str, view_url: str) -> dict[str, str]:
    """The application reads the executions log at ``events_url``; the view writes to ``view_url``."""
    view = {f"{VIEW.upper()}_{key}": value for key, value in postgres_env(view_url).items()}
    return {**postgres_env(events_url, create_table=False), **view}


def one_transaction_per_event(
    events_url: str, view_url: str, positions: Sequence[int], timeout: float = 300
) -> tuple[int, float]:
    """Run the library's ``ProjectionRunner`` until the view tracks ``positions[-1]``: (events, seconds).

    The clock starts once the first event is tracked (connecting and
    subscribing are not part of the catch-up), so the events counted are
    those of ``positions`` after it.
    """
    runner = ProjectionRunner(
        application_class=ExecutionsApplication,
        projection_class=ExecutionsBaseline,
        view_class=ExecutionsView,
        env=runner_env(events_url, view_url),
    )
    view = runner.view
    try:
        with runner:
            deadline = time.monotonic() + timeout
            while (first := view.max_tracking_id(runner.app_name)) is None:
                _check(runner, deadline)
                time.sleep(0.001)
            started = time.perf_counter()
            while (view.max_tracking_id(runner.app_name) or 0) < positions[-1]:
                _check(runner, deadline)
                time.sleep(0.02)  # coarse: polling competes with the runner for the two cores
            seconds = time.perf_counter() - started
        assert table_rows(view.read_store, "executions", "execution_id"), "the baseline wrote no executions"
    finally:
        view.close()
    return sum(1 for position in positions if position > first), seconds


def _check(runner: ProjectionRunner[ExecutionsApplication, ExecutionsView], deadline: float) -> None:
    if runner.is_interrupted.is_set():
        runner.run_forever(timeout=0)  # re-raises the processing thread's error
        raise AssertionError("the ProjectionRunner stopped")
    assert time.monotonic() < deadline, "the ProjectionRunner did not catch up"


def _dsn(datastore: PostgresDatastore) -> str:
    """The view database's connection string, from the recorder's pool settings."""
    kwargs = datastore.pool.kwargs
    params = kwargs() if callable(kwargs) else dict(kwargs or {})
    params.pop("row_factory", None)
    return make_conninfo(**params)
