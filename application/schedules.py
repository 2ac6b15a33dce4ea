"""The schedules context: users' cron triggers of their graphs, and firing them.

One eventsourcing Application ("schedules") with its own events table, log
and Kafka topic (``application.contexts`` lists it). Ownership is enforced
here: another user's schedule reads as not found (404), as graphs and runs
do, rather than AutoGPT's NotAuthorizedError. Listing schedules is the read
side's job (``projections.schedules``).

A schedule is checked like a run when it is made (``GraphsApplication.graph_for_run``
and ``application.executions.check_inputs``: the graph exists for the user, every
required input is given and fits), so a schedule that could never run is refused
with the same 404 / 400 the execute route answers. Values of ``secret`` inputs are
recorded sealed for the schedule (``ScheduleInputSecrets``: bound to the owner, the
schedule id and the input name) and re-sealed for each run it starts; credentials
are recorded as references (id, provider, type, title) only.

Firing (``ScheduleFiring``, driven by the scheduler role, ``adapters.scheduler``):
the run is requested first with the id ``run_id_for(schedule, tick)``, then the
tick is recorded on the schedule; a fire retried after a crash between the two
finds its run (the executions store refuses a second aggregate with that id)
and only records the tick. A schedule whose graph is gone (deleted, or no longer
the owner's) is ended at that fire, before any run is requested.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError, Recording

from application import command_metadata
from application.encryption import SecretsVault, UnreadableSecretError
from application.executions import ExecutionsApplication, check_inputs
from application.graphs import GraphsApplication
from application.results import Written, position_of
from application.secret_inputs import RunInputSecrets, SecretInputUnavailableError
from domain.cron import CronSchedule
from domain.graph_validation import BlockLookup, GraphValidationError
from domain.not_found import GraphNotFoundError, ScheduleNotFoundError
from domain.schedule import Misfire, Schedule, run_id_for
from domain.secret_inputs import is_sealed, mask_sealed, secret_input_names

log = logging.getLogger(__name__)

MAX_NAME_LENGTH = 200
"""Longest schedule name."""

DELETED_BY_USER = "user"
GRAPH_DELETED = "graph_deleted"
"""Why a schedule ended (``Schedule.Deleted.reason``)."""

_CREDENTIALS_REFERENCE_KEYS = ("id", "provider", "type", "title")


class ScheduleInputUnavailableError(Exception):
    """A schedule's secret inputs cannot be sealed or opened (no encryption key, or the owner's key was erased)."""


@dataclass(frozen=True)
class ScheduleWritten(Written):
    """A schedule as a command left it (secret inputs masked)."""

    user_id: str
    graph_id: str
    graph_version: int
    name: str
    cron: str
    timezone: str
    misfire: str
    input_data: dict[str, Any]
    input_credentials: dict[str, Any]
    next_run_time: datetime


@dataclass(frozen=True)
class FireOutcome:
    """What one fire of one schedule did."""

    schedule_id: UUID
    tick: datetime
    execution_id: UUID | None
    """The run the tick started (also when a retried fire found it started already); None if none."""
    what: str
    """``fired``, ``missed``, ``failed`` or ``ended`` (the graph is gone)."""


class ScheduleInputSecrets:
    """Seals a schedule's secret inputs for the schedule, and opens them in clear for a run to re-seal."""

    def __init__(self, vault: SecretsVault) -> None:
        self.vault = vault

    @staticmethod
    def _aad(user_id: str, schedule_id: UUID, name: str) -> bytes:
        return f"agentgraph schedule input|{user_id}|{schedule_id}|{name}".encode()

    def seal(self, user_id: str, schedule_id: UUID, names: Iterable[str], inputs: dict[str, Any]) -> dict[str, Any]:
        """``inputs`` with each secret input in ``names`` sealed for this schedule."""
        sealed = dict(inputs)
        for name in names:
            if name in inputs:
                plaintext = json.dumps(inputs[name], separators=(",", ":")).encode()
                sealed[name] = self.vault.seal(user_id, plaintext, self._aad(user_id, schedule_id, name))
        return sealed

    def open(self, user_id: str, schedule_id: UUID, inputs: dict[str, Any]) -> dict[str, Any]:
        """``inputs`` in clear (for the moment a run is requested; never recorded so)."""
        clear = dict(inputs)
        for name, value in inputs.items():
            if not is_sealed(value):
                continue
            try:
                clear[name] = json.loads(self.vault.open(user_id, value, self._aad(user_id, schedule_id, name)))
            except UnreadableSecretError:
                raise ScheduleInputUnavailableError(
                    f"Secret input {name!r} of schedule {schedule_id} cannot be decrypted "
                    f"(the secrets of user #{user_id} were erased)"
                ) from None
        return clear


def credentials_references(credentials: Mapping[str, Any]) -> dict[str, Any]:
    """Only references to credentials (never a secret), as a run records them."""
    return {
        name: {key: value[key] for key in _CREDENTIALS_REFERENCE_KEYS if key in value}
        for name, value in credentials.items()
        if isinstance(value, dict)
    }


SNAPSHOT_INTERVAL = 100
"""A schedule is snapshotted every this many events (one per tick: an every-minute schedule records 1,440 a day)."""


class SchedulesApplication(Application[UUID]):
    """Scheduled runs of graphs (cron triggers): the schedules context's use cases."""

    name = "schedules"
    snapshotting_intervals = {Schedule: SNAPSHOT_INTERVAL}

    # -- commands ---------------------------------------------------------

    def create_schedule(
        self,
        *,
        user_id: str,
        graph_id: str,
        graph_version: int | None,
        name: str,
        when: CronSchedule,
        misfire: Misfire,
        inputs: dict[str, Any],
        credentials: dict[str, Any],
        graphs: GraphsApplication,
        lookup: BlockLookup,
        secrets: ScheduleInputSecrets | None,
        now: datetime | None = None,
    ) -> ScheduleWritten:
        """Check the graph and inputs like a run (404 / 400 as the execute route), then record the schedule.

        ``graph_version`` None is the graph's active version.
        """
        version = graph_version if graph_version is not None else graphs.active_version(user_id, graph_id)
        content = graphs.graph_for_run(user_id, graph_id, version, new_run=True)
        check_inputs(content, lookup, inputs)
        schedule_id = uuid4()
        names = secret_input_names(content, lookup) & inputs.keys()
        if names:
            if secrets is None:
                raise ScheduleInputUnavailableError("secret inputs cannot be sealed here: no encryption key configured")
            inputs = secrets.seal(user_id, schedule_id, names, inputs)
        schedule = Schedule.create(
            schedule_id=schedule_id,
            user_id=user_id,
            graph_id=graph_id,
            graph_version=version,
            name=name,
            when=when,
            misfire=misfire,
            input_data=inputs,
            input_credentials=credentials_references(credentials),
            created_at=now or datetime.now(UTC),
        )
        return _written(schedule, self.save(schedule))

    def delete_schedule(self, user_id: str, schedule_id: UUID) -> ScheduleWritten:
        """End one of the user's schedules (a deleted one reads as not found)."""
        schedule = self.load(schedule_id)
        if schedule is None or schedule.user_id != user_id or schedule.is_deleted:
            raise ScheduleNotFoundError(f"Schedule #{schedule_id} not found")
        schedule.delete(DELETED_BY_USER)
        return _written(schedule, self._save_or_reloaded(schedule))

    def end_schedule(self, schedule_id: UUID, reason: str) -> bool:
        """End a schedule whoever owns it (its graph is gone); False if it had ended already."""
        for _ in range(3):
            schedule = self.load(schedule_id)
            if schedule is None or schedule.is_deleted:
                return False
            schedule.delete(reason)
            try:
                with command_metadata.acting(user_id=schedule.user_id):
                    self.save(schedule)
                return True
            except IntegrityError:  # the scheduler recorded a tick meanwhile: try on the schedule as it is now
                continue
        return False

    # -- reads the write side needs ---------------------------------------

    def load(self, schedule_id: UUID) -> Schedule | None:
        """The schedule, whoever owns it."""
        try:
            schedule: object = self.repository.get(schedule_id)
        except AggregateNotFoundError:
            return None
        return schedule if isinstance(schedule, Schedule) else None

    def _save_or_reloaded(self, schedule: Schedule) -> list[Recording[UUID]]:
        try:
            return self.save(schedule)
        except IntegrityError:  # the scheduler recorded a tick meanwhile: delete the schedule as it is now
            fresh = self.load(schedule.id)
            if fresh is None or fresh.is_deleted:
                return []
            fresh.delete(DELETED_BY_USER)
            return self.save(fresh)


def _written(schedule: Schedule, recordings: list[Recording[UUID]]) -> ScheduleWritten:
    return ScheduleWritten(
        schedule.id,
        position_of(recordings),
        user_id=schedule.user_id,
        graph_id=schedule.graph_id,
        graph_version=schedule.graph_version,
        name=schedule.name,
        cron=schedule.cron,
        timezone=schedule.timezone,
        misfire=str(schedule.misfire),
        input_data=mask_sealed(schedule.input_data),
        input_credentials=schedule.input_credentials,
        next_run_time=schedule.next_run_time(),
    )


_REFUSED_RUN = (GraphValidationError, ScheduleInputUnavailableError, SecretInputUnavailableError, ValueError)
"""Why a tick's run may be refused (inputs that no longer fit, secrets erased): recorded, the schedule stays."""


class ScheduleFiring:
    """Fires due schedules: requests the tick's run (idempotently), then records the tick on the schedule."""

    def __init__(
        self,
        schedules: SchedulesApplication,
        graphs: GraphsApplication,
        executions: ExecutionsApplication,
        lookup: BlockLookup,
        *,
        run_secrets: RunInputSecrets | None,
        schedule_secrets: ScheduleInputSecrets | None,
    ) -> None:
        self.schedules = schedules
        self.graphs = graphs
        self.executions = executions
        self.lookup = lookup
        self.run_secrets = run_secrets
        self.schedule_secrets = schedule_secrets

    def fire_due(self, schedule_id: UUID, now: datetime) -> FireOutcome | None:
        """Deal with the schedule's due tick at ``now``, if one is (None otherwise, or if it ended)."""
        schedule = self.schedules.load(schedule_id)
        if schedule is None:
            return None
        due = schedule.due(now)
        if due is None:
            return None
        tick, runs = due
        with command_metadata.acting(user_id=schedule.user_id):
            if not runs:
                schedule.record_missed(tick)
                return self._recorded(schedule, FireOutcome(schedule.id, tick, None, "missed"))
            try:  # belt and braces: the process manager ends schedules of deleted graphs too
                content = self.graphs.graph_for_run(
                    schedule.user_id, schedule.graph_id, schedule.graph_version, new_run=True
                )
            except GraphNotFoundError:
                self.schedules.end_schedule(schedule.id, GRAPH_DELETED)
                return FireOutcome(schedule.id, tick, None, "ended")
            execution_id = run_id_for(schedule.id, tick)
            try:
                self._request_run(schedule, content, execution_id)
            except IntegrityError:
                pass  # the tick's run exists: a fire retried after a crash, or a second scheduler's
            except _REFUSED_RUN as error:
                log.warning("schedule %s could not start its run of %s: %s", schedule.id, tick.isoformat(), error)
                schedule.record_failed(tick, str(error))
                return self._recorded(schedule, FireOutcome(schedule.id, tick, None, "failed"))
            schedule.record_fired(tick, execution_id, now)
            return self._recorded(schedule, FireOutcome(schedule.id, tick, execution_id, "fired"))

    def _request_run(self, schedule: Schedule, content: Any, execution_id: UUID) -> None:
        inputs = schedule.input_data
        if self.schedule_secrets is not None:
            inputs = self.schedule_secrets.open(schedule.user_id, schedule.id, inputs)
        self.executions.request_execution(
            user_id=schedule.user_id,
            graph_id=schedule.graph_id,
            graph_version=schedule.graph_version,
            graph=content,
            lookup=self.lookup,
            inputs=inputs,
            credentials_inputs=schedule.input_credentials,
            secrets=self.run_secrets,
            execution_id=execution_id,
        )

    def _recorded(self, schedule: Schedule, outcome: FireOutcome) -> FireOutcome | None:
        try:
            self.schedules.save(schedule)
        except IntegrityError:  # another scheduler (or a delete) got there first: its record stands
            return None
        return outcome
