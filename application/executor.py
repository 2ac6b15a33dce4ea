"""The executor: a process manager that runs queued graph executions.

It is fed execution ids (new runs, stop requests) by whatever tails the
executions event stream (a log follower when embedded, the Kafka feed when distributed),
runs many executions concurrently on one asyncio loop, and records every
step through the ``GraphExecution`` aggregate. Events are written by a
group-commit writer (``application.execution_writer``) the composition
root hands it, never one transaction per event.

Crash safety comes from the event store:

- a restarted executor resumes every run that is not finished: queued nodes
  run, node executions that were running when the old executor died are
  terminated and re-run (their already-recorded outputs are not delivered a
  second time), completed nodes are never re-run;
- a duplicate or late executor hits a concurrency conflict on the
  aggregate; it then reloads the run and leaves it alone if another
  executor took it over, so nothing happens twice.

Stop requests are events on the run (written by the API); the executor
learns of them from the feed, cancels the running blocks and records
TERMINATED. Stopping a run stops its sub-agent runs too.

Per-user concurrency: at most ``max_running_per_user`` top-level runs of one
user run at once; the others stay QUEUED and start as slots free up.
Sub-agent runs do not take a slot (their parent already holds one, and
waiting for a slot could deadlock the parent).

Bounded runs: a run (with its sub-agent runs) executes at most
``max_node_executions`` nodes and nests sub-agents at most
``max_subagent_depth`` deep; past either limit the top-level run FAILS with
a graph-level error saying which limit it hit (its sub-agent runs are
stopped). A run with ``max_events_ahead`` unwritten events waits for the
batch being written before its next node, so a tight loop runs at the pace
of the commit instead of piling up memory, batches that hold every other
run's events back, and a stop that waits behind them. Where the executor
can see the read models' lag (``read_lag``), a long run also waits for
them, so other users' runs stay readable in about their usual time. A stop
or a limit ends a run from the executor's own copy: no replay of a long
run from the store.

Durability contract: a block that is not pure (``Block.pure`` is False:
HTTP, LLM, sub-agents, and any block not marked) starts only when
everything it depends on is durable: the executor waits for the writer to
land its inputs and its own start first. After a crash at most the nodes in
flight run again, never a completed side effect. Pure blocks run ahead of
the commit; after a crash they recompute.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import functools
import json
import logging
import math
import os
import socket
import time
import typing
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol
from uuid import UUID, uuid4

from pydantic import BaseModel
from pydantic_core import to_jsonable_python

from application.block_runner import BlockRunner, InlineBlockRunner
from application.charging import NO_CREDITS_LEFT, LedgerBook
from application.credentials import CredentialsSource
from application.execution_observer import ExecutionObserver, NoObserver
from application.execution_writer import GroupCommitWriter
from application.executions import ExecutionsApplication, check_inputs
from application.secret_inputs import RunInputSecrets, SecretInputUnavailableError
from domain.block_costs import is_platform_credentials
from domain.blocks.base import Block, BlockError, BlockType, RunContext
from domain.blocks.conversion import ConversionError, convert
from domain.credentials import RUN_CREDENTIALS, CredentialsUnavailableError, ResolvedCredentials, credentials_references
from domain.credit_ledger import InsufficientBalanceError
from domain.dynamic_pins import merge_dynamic_inputs
from domain.execution import GraphExecution, NodeExecution
from domain.execution_engine import ExecutionPlan
from domain.execution_status import ExecutionStatus
from domain.graph import GraphContent
from domain.graph_validation import BlockLookup
from domain.json_codec import JSONLimitError, json_size, recordable_text
from domain.secret_inputs import OpenedSecrets, is_sealed, secret_input_names

log = logging.getLogger(__name__)
S = ExecutionStatus

YIELD_EVERY = 50
"""Outputs a node may produce before the executor lets other tasks run."""

SUBAGENT_RUNNER = "subagent_runner"
"""Key in ``RunContext.extra`` under which blocks find the sub-agent runner."""


class GraphSource(Protocol):
    """Where the executor reads graph versions from."""

    def graph_for_run(self, user_id: str, graph_id: str, version: int) -> GraphContent:
        """The content of one version of one of the user's graphs."""
        ...


READ_LAG_EVERY = 0.05
"""Seconds between looks at the read models' lag (shared by every run that waits for it)."""

READ_SIDE_STALLED = 5.0
"""Seconds without any progress of the read models after which long runs stop waiting for them."""

WRITER_DRAIN_SECONDS = 30.0
"""How long a stopping executor waits for its writer to land the last events (the store may be down)."""


@dataclass(frozen=True)
class ExecutorConfig:
    """Knobs of the executor (the composition root fills them from settings)."""

    max_running_per_user: int = 25
    node_timeout_seconds: float | None = 600.0
    max_node_executions: int = 10_000
    """Node executions per run, its sub-agent runs included (about 40k events, Temporal's history scale)."""
    max_subagent_depth: int = 10
    """How deep sub-agent runs may nest (a top-level run is depth 0)."""
    max_events_ahead: int = 5_000
    """Unwritten events a run may have before its next node waits for the group commit."""
    max_read_lag: int = 2_000
    """Events the read models may be behind before a long run's next node waits (see ``Executor.read_lag``)."""
    paced_after: int = 1_000
    """Node executions after which a run counts as long: only long runs wait for the read models."""


@dataclass(eq=False)
class _Run:
    execution: GraphExecution
    plan: ExecutionPlan
    is_child: bool = False
    output_listener: Callable[[tuple[str, Any] | None], None] | None = None
    tasks: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    skip_outputs: dict[str, int] = field(default_factory=dict)
    children: set[UUID] = field(default_factory=set)
    idle: asyncio.Event = field(default_factory=asyncio.Event)
    interrupt: str | None = None  # "stop" | "conflict" | "error" | "shutdown"
    stop_by: str | None = None
    driver: asyncio.Task[None] | None = None
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    parent: _Run | None = None
    depth: int = 0  # sub-agent nesting: 0 for a top-level run
    node_starts: int = 0  # node executions started in this run tree (counted on the root)
    resumed: set[str] = field(default_factory=set)  # node executions re-run after their executor was lost
    limit_error: str | None = None
    secrets: OpenedSecrets = field(default_factory=OpenedSecrets)  # shared by a run tree, in memory only

    @property
    def id(self) -> UUID:
        return self.execution.id

    @property
    def root(self) -> _Run:
        """The top-level run this run belongs to (itself for a top-level run)."""
        return self if self.parent is None else self.parent.root


class Executor:
    """Runs graph executions; see the module docstring."""

    def __init__(
        self,
        app: ExecutionsApplication,
        graphs: GraphSource,
        lookup: BlockLookup,
        writer: GroupCommitWriter,
        runner: BlockRunner | None = None,
        config: ExecutorConfig | None = None,
        executor_id: str | None = None,
        credentials: CredentialsSource | None = None,
        secret_inputs: RunInputSecrets | None = None,
    ) -> None:
        self.app = app
        self.ledgers: LedgerBook | None = writer.ledgers
        """Charging per node (``application.charging``): the writer's ledgers, None when credits are off."""
        self.credentials = credentials
        """Where a node's credentials references are opened (None: blocks run on their configured keys)."""
        self.secret_inputs = secret_inputs
        """Where a run's sealed secret inputs are opened (``application.secret_inputs``)."""
        self.runner = runner or InlineBlockRunner()  # where blocks run (CPU-bound ones: where a timeout stops them)
        self.graphs = graphs
        self.lookup = lookup
        self.config = config or ExecutorConfig()
        # names the process in the run's Started/Resumed events: which worker ran (or took over) a run
        self.executor_id = executor_id or f"executor-{socket.gethostname()}-{os.getpid()}-{uuid4().hex[:6]}"
        self.writer = writer  # the commit strategy (group commit, or one event per transaction as a baseline)
        self.observer: ExecutionObserver = NoObserver()
        """Told when runs and nodes end (the composition root sets the metrics' observer)."""
        self.read_lag: Callable[[], int] | None = None
        """Events stored but not yet in the read models, where this process can tell (a projector runs here).

        A long run (a loop) then waits while they are more than ``max_read_lag``:
        other users' runs, a few nodes each, stay readable within about a
        second instead of queueing behind the loop's events in the projector.
        """
        self._read_lag_seen = (0.0, 0)  # (when, lag): one look per READ_LAG_EVERY for every waiting run
        self._read_side_stalled = False
        self.runs: dict[UUID, _Run] = {}
        self._claimed: set[UUID] = set()
        self._running_by_user: defaultdict[str, int] = defaultdict(int)
        self._pending_by_user: defaultdict[str, deque[UUID]] = defaultdict(deque)
        self._plans: dict[tuple[str, int], tuple[str, ExecutionPlan]] = {}
        self._writer_task: asyncio.Task[None] | None = None
        self._closing = False

    # -- lifecycle ---------------------------------------------------------

    async def start(self) -> None:
        """Start the writer; call once, inside the loop that will run executions."""
        if self._writer_task is None:
            self._writer_task = asyncio.create_task(self.writer.run(self._on_conflict), name="execution-writer")

    async def close(self) -> None:
        """Stop taking work, let running blocks go (runs stay RUNNING for a later resume)."""
        self._closing = True
        for run in list(self.runs.values()):
            self._interrupt(run, "shutdown")
        drivers = [run.driver for run in self.runs.values() if run.driver is not None]
        if drivers:
            await asyncio.gather(*drivers, return_exceptions=True)
        await self.writer.close()
        if self._writer_task is not None:
            try:  # shielded: a timeout must not cancel a write in the middle
                await asyncio.wait_for(asyncio.shield(self._writer_task), WRITER_DRAIN_SECONDS)
            except TimeoutError:
                # the store has been failing all along: give up the unwritten tail; the runs stay RUNNING in
                # the store and resume from their last written event on the next start
                log.error(
                    "event store still failing after %.0f s: stopping without the last events", WRITER_DRAIN_SECONDS
                )
                self._writer_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._writer_task

    # -- intake (called by the feed) ----------------------------------------

    def submit(self, execution_id: UUID) -> None:
        """A run was queued (or must be resumed): take it if nobody here has."""
        if self._closing or execution_id in self._claimed:
            return
        self._claimed.add(execution_id)
        asyncio.get_running_loop().create_task(self._admit(execution_id))

    def release(self, belongs: Callable[[UUID], bool]) -> None:
        """Let go of the runs ``belongs`` selects (their partition moved to another executor).

        They stay RUNNING in the store; the new owner resumes them.
        """
        for execution_id, run in list(self.runs.items()):
            if belongs(execution_id) and not run.is_child:
                self._interrupt(run, "shutdown")
        for pending in self._pending_by_user.values():
            for execution_id in [e for e in pending if belongs(e)]:
                pending.remove(execution_id)
                self._claimed.discard(execution_id)

    def stop_requested(self, execution_id: UUID, requested_by: str) -> None:
        """Someone asked this run to stop."""
        log.info(
            "stop requested for %s by %s (running here: %s)",
            execution_id,
            requested_by,
            execution_id in self.runs,
        )
        run = self.runs.get(execution_id)
        if run is not None:
            run.stop_by = run.stop_by or requested_by
            self._interrupt(run, "stop")
            return
        for pending in self._pending_by_user.values():
            if execution_id in pending:
                pending.remove(execution_id)
                asyncio.get_running_loop().create_task(self._terminate_unstarted(execution_id))
                return

    async def _admit(self, execution_id: UUID) -> None:
        execution = await asyncio.to_thread(self.app.load_or_fail, execution_id)
        if execution is None or execution.is_finished:
            self._claimed.discard(execution_id)
            return
        is_child = execution.parent_execution_id is not None
        stop = await asyncio.to_thread(self.app.stop_request_for, execution_id)
        if execution.stop_requested or stop is not None or is_child:
            # a child reaching the feed is an orphan of a crashed parent: the
            # parent's re-run starts a fresh child, so this one just ends
            await self._terminate_unstarted(execution_id, execution)
            return
        user = execution.user_id
        if self._running_by_user[user] >= self.config.max_running_per_user:
            self._pending_by_user[user].append(execution_id)
            return
        self._running_by_user[user] += 1  # taken before the next await: admissions race otherwise
        if await self._begin(execution, is_child=False) is None:
            self._free_slot(user)

    async def _terminate_unstarted(self, execution_id: UUID, execution: GraphExecution | None = None) -> None:
        execution = execution or await asyncio.to_thread(self.app.load, execution_id)
        self._claimed.discard(execution_id)
        if execution is None or execution.is_finished:
            return
        if execution.status == S.RUNNING and execution.executor_id != self.executor_id:
            execution.resume(self.executor_id)  # take the orphan over, to end it
        execution.terminate(stats=_graph_stats(execution))
        self.writer.mark(execution)
        await self.writer.flush()

    async def _begin(
        self,
        execution: GraphExecution,
        *,
        is_child: bool,
        output_listener: Callable[[tuple[str, Any] | None], None] | None = None,
        parent: _Run | None = None,
    ) -> _Run | None:
        if (
            self.ledgers is not None
            and not is_child
            and execution.status == S.QUEUED
            and await self.ledgers.balance(execution.user_id) <= 0
        ):
            execution.start(self.executor_id)
            execution.fail(NO_CREDITS_LEFT, {**_graph_stats(execution), "error": NO_CREDITS_LEFT})
            self.writer.mark(execution)
            self._observe_end(execution)
            await self.writer.flush()
            self._claimed.discard(execution.id)
            return None
        secrets = parent.secrets if parent is not None else OpenedSecrets()
        try:
            plan = await self._plan(execution)
            await self._open_secret_inputs(execution, plan, secrets)
        except Exception as exc:  # the graph or a block is gone: the run cannot go on
            log.warning("execution %s cannot run: %s", execution.id, exc)
            if execution.status == S.QUEUED:
                execution.start(self.executor_id)
            execution.fail(str(exc), {**_graph_stats(execution), "error": str(exc)})  # the stats say why, too
            self.writer.mark(execution)
            await self.writer.flush()
            self._claimed.discard(execution.id)
            return None
        run = _Run(execution=execution, plan=plan, is_child=is_child, output_listener=output_listener, parent=parent)
        run.secrets = secrets
        run.depth = parent.depth + 1 if parent is not None else 0
        self.runs[execution.id] = run
        run.driver = asyncio.create_task(self._drive(run), name=f"run-{execution.id}")
        return run

    async def _plan(self, execution: GraphExecution) -> ExecutionPlan:
        key = (execution.graph_id, execution.graph_version)
        cached = self._plans.get(key)
        if cached is None or cached[0] != execution.user_id:
            graph = await asyncio.to_thread(
                self.graphs.graph_for_run, execution.user_id, execution.graph_id, execution.graph_version
            )
            cached = (execution.user_id, ExecutionPlan(graph, self.lookup))
            self._plans[key] = cached
        return cached[1]

    async def _open_secret_inputs(self, execution: GraphExecution, plan: ExecutionPlan, into: OpenedSecrets) -> None:
        """Open the run's sealed secret inputs into ``into`` (``SecretInputUnavailableError`` if one cannot be)."""
        names = secret_input_names(plan.graph, self.lookup)
        if not any(is_sealed(execution.inputs.get(name)) for name in names):
            return
        if self.secret_inputs is None:
            raise SecretInputUnavailableError("secret inputs cannot be opened here: no encryption key configured")
        opener = self.secret_inputs.open_inputs
        await asyncio.to_thread(opener, execution.user_id, execution.id, names, execution.inputs, into)

    # -- driving one run -----------------------------------------------------

    async def _drive(self, run: _Run) -> None:
        try:
            while True:
                if run.interrupt is None:
                    self._take_over(run)
                    await run.idle.wait()
                await self._settle(run)
                if run.interrupt in ("stop", "conflict", "error", "limit"):
                    fresh = await self._current(run)
                    if fresh is None:
                        return
                    run.execution = fresh
                    if run.interrupt == "stop" or fresh.stop_requested:
                        await self._terminate(run)
                        return
                    if run.interrupt in ("error", "limit"):
                        await self._fail(run, run.limit_error or "internal executor error (see the executor's log)")
                        return
                    run.interrupt = None
                    run.idle.clear()
                    continue  # same executor, fresh state: drive on
                if run.interrupt == "shutdown":
                    return
                self._finish(run)
                await self.writer.flush()
                return
        except Exception:
            log.exception("execution %s: the executor failed while driving it", run.id)
        finally:
            self._release(run)

    def _take_over(self, run: _Run) -> None:
        """Start a queued run, or resume a running one from its recorded events."""
        execution = run.execution
        if execution.status == S.QUEUED:
            execution.start(self.executor_id)
            run.plan.start(execution)
        elif execution.status == S.RUNNING:
            if execution.executor_id != self.executor_id:
                execution.resume(self.executor_id)
            for node in execution.nodes_in(S.RUNNING):
                # its executor died mid-block: run it again, without re-delivering what it already said
                run.skip_outputs[node.node_exec_id] = node.output_count()
                run.resumed.add(node.node_exec_id)  # paid for and counted when it first started
                execution.terminate_node(node.node_exec_id, "executor lost while running; re-run")
                execution.queue_node(node.node_exec_id, node.node_id, node.block_id, node.input_data)
        run.node_starts = sum(1 for n in execution.node_executions.values() if n.status not in _NOT_STARTED)
        self.writer.mark(execution)
        for node in execution.nodes_in(S.QUEUED):
            self._launch(run, node.node_exec_id)
        if not run.tasks:
            run.idle.set()

    async def _settle(self, run: _Run) -> None:
        """Cancel what still runs (after an interrupt) and wait for every task to end."""
        if run.interrupt is not None:
            for task in run.tasks.values():
                task.cancel()
        if run.tasks:
            await asyncio.gather(*run.tasks.values(), return_exceptions=True)

    async def _current(self, run: _Run) -> GraphExecution | None:
        """The run as the store has it, once our writes landed.

        After a stop or a limit our copy is the store's, unless the writer
        refused its events (another writer moved the run on): only then, or
        after an error of ours, is the run replayed from the store, which for
        a long run (a loop) takes seconds.
        """
        if run.interrupt in ("stop", "limit"):
            await self.writer.flush()
            if not self.writer.refused(run.execution):
                return run.execution
        return await self._reload(run)

    async def _reload(self, run: _Run) -> GraphExecution | None:
        """Let our writes land (or be refused), then read the run as the store has it."""
        self.writer.forget(run.id)
        await self.writer.flush()
        fresh = await asyncio.to_thread(self.app.load, run.id)
        if fresh is None or fresh.is_finished:
            return None
        if fresh.executor_id not in (None, self.executor_id):
            log.info("execution %s was taken over by %s: leaving it", run.id, fresh.executor_id)
            return None
        return fresh

    async def _terminate(self, run: _Run) -> None:
        await self._stop_children(run)
        execution = run.execution
        if execution.status == S.QUEUED:
            execution.start(self.executor_id)
        execution.request_stop(requested_by=run.stop_by or "unknown")
        execution.terminate(_graph_stats(execution))
        self.writer.mark(execution)
        self._observe_end(execution)
        await self.writer.flush()

    async def _fail(self, run: _Run, error: str) -> None:
        """End the run FAILED with a graph-level ``error`` (its sub-agent runs are stopped)."""
        await self._stop_children(run)
        run.execution.fail(error, {**_graph_stats(run.execution), "error": error})  # the stats say why, too
        self.writer.mark(run.execution)
        self._observe_end(run.execution)
        await self.writer.flush()

    async def _stop_children(self, run: _Run) -> None:
        for child_id in list(run.children):
            await self._stop_child(child_id, f"parent execution {run.id}")

    def _hit_limit(self, run: _Run, error: str) -> None:
        """A limit of the run tree was reached: its top-level run fails with ``error``."""
        root = run.root
        if root.limit_error is None:
            log.warning("execution %s: %s", root.id, error)
            root.limit_error = error
        self._interrupt(root, "limit")

    def _finish(self, run: _Run) -> None:
        execution = run.execution
        execution.complete(_graph_stats(execution))
        self.writer.mark(execution)
        self._observe_end(execution)

    def _observe_end(self, execution: GraphExecution) -> None:
        started, ended = execution.started_at, execution.ended_at
        duration = (ended - started).total_seconds() if started and ended else None
        self.observer.run_ended(execution.status.value, duration)

    def _release(self, run: _Run) -> None:
        self.runs.pop(run.id, None)
        self._claimed.discard(run.id)
        run.finished.set()
        if run.output_listener is not None:
            run.output_listener(None)
        if not run.is_child:
            self._free_slot(run.execution.user_id)

    def _free_slot(self, user: str) -> None:
        self._running_by_user[user] -= 1
        if self._closing:
            return
        pending = self._pending_by_user[user]
        while pending and self._running_by_user[user] < self.config.max_running_per_user:
            next_id = pending.popleft()
            self._claimed.discard(next_id)
            self.submit(next_id)

    def _interrupt(self, run: _Run, kind: str) -> None:
        if run.interrupt in ("stop", "shutdown"):
            return
        run.interrupt = kind
        for task in run.tasks.values():
            task.cancel()
        run.idle.set()

    def _on_conflict(self, execution_id: UUID) -> None:
        run = self.runs.get(execution_id)
        if run is not None and run.interrupt is None:
            self._interrupt(run, "conflict")

    # -- nodes ---------------------------------------------------------------

    def _launch(self, run: _Run, node_exec_id: str) -> None:
        if node_exec_id in run.tasks or run.interrupt is not None:
            return
        task = asyncio.get_running_loop().create_task(self._run_node(run, node_exec_id))
        run.tasks[node_exec_id] = task
        run.idle.clear()

        def done(_: asyncio.Task[None]) -> None:
            run.tasks.pop(node_exec_id, None)
            if not run.tasks:
                run.idle.set()

        task.add_done_callback(done)

    async def _run_node(self, run: _Run, node_exec_id: str) -> None:
        try:
            await self._run_node_steps(run, node_exec_id)
        except asyncio.CancelledError:
            raise
        except Exception:
            # a bug of ours, not of the block: the run cannot be trusted any more
            log.exception("execution %s node %s: executor error", run.id, node_exec_id)
            self._interrupt(run, "error")

    async def _run_node_steps(self, run: _Run, node_exec_id: str) -> None:
        execution = run.execution
        node = execution.node_executions[node_exec_id]
        block = run.plan.blocks[node.node_id]
        if len(execution.pending_events) >= self.config.max_events_ahead:
            await self.writer.catch_up()  # backpressure: the run waits for the commit to catch up
        root = run.root
        if root.node_starts >= self.config.paced_after:
            await self._wait_for_read_side()
        root.node_starts += 1
        if root.node_starts > self.config.max_node_executions:
            limit = self.config.max_node_executions
            self._hit_limit(run, f"Run stopped: it reached the limit of {limit} node executions per run")
            return
        cost = 0
        if self.ledgers is not None:
            try:
                cost, _ = await self.ledgers.charge_node(execution, node, block, resumed=node_exec_id in run.resumed)
            except InsufficientBalanceError as exc:
                self._refuse_unpaid(run, node, exc)
                return
        execution.start_node(node_exec_id)
        self.writer.mark(execution)
        if not block.pure:
            await self.writer.flush()  # the durability contract: inputs and start durable before a side effect
            if run.interrupt is not None:
                return  # the writer stopped or refused the run: the start is not durable, so no side effect
        context = RunContext(
            user_id=execution.user_id,
            graph_id=execution.graph_id,
            node_id=node.node_id,
            node_exec_id=node_exec_id,
            extra=self._block_extras(run, block),
        )
        skip = run.skip_outputs.pop(node_exec_id, 0)
        started, cpu_started = time.perf_counter(), time.thread_time()
        error: str | None = None
        output_bytes = produced = 0
        timeout = self.config.node_timeout_seconds
        try:
            data = run.secrets.reveal(merge_dynamic_inputs(node.input_data))  # secret inputs in clear, for the block
            if block.block_type == BlockType.AGENT:
                data = fold_agent_inputs(block, data)
            data = coerce_inputs(block, data)
            # opened for this block run only: the node's recorded input keeps the reference
            context.extra[RUN_CREDENTIALS] = await self._open_credentials(execution, block, data)
            async with asyncio.timeout(timeout):
                async for pin, value in self.runner.execute(block, data, context):
                    produced += 1
                    if produced % YIELD_EVERY == 0:
                        # a block yielding many values without awaiting must not starve
                        # other runs, stop requests or (embedded) the API sharing this loop
                        await asyncio.sleep(0)
                    if skip:
                        skip -= 1
                        continue
                    output_bytes += self._emit(run, node, pin, value)
        except BlockError as exc:
            error = exc.message
        except TimeoutError:
            error = f"Node execution timed out after {timeout:g} seconds"
        except CredentialsUnavailableError as exc:
            error = str(exc)
            self._hit_limit(run, error)  # the node fails, and the run with it (AutoGPT fails it too)
        finally:
            context.extra.pop(RUN_CREDENTIALS, None)
        stats: dict[str, Any] = {
            "walltime": time.perf_counter() - started,
            "cputime": time.thread_time() - cpu_started,
            "input_size": _size(node.input_data),
            "output_size": output_bytes,
            **context.stats,
        }
        if cost:
            stats["cost"] = cost
        if error is not None:
            error = run.secrets.redact(recordable_text(error))  # whatever a block raised, its failure is recorded
            self._emit(run, node, "error", error)
            execution.fail_node(node_exec_id, error, stats)
            self.observer.node_ended(S.FAILED.value)
        else:
            execution.complete_node(node_exec_id, stats)
            self.observer.node_ended(S.COMPLETED.value)
        self.writer.mark(execution)

    def _refuse_unpaid(self, run: _Run, node: NodeExecution, error: InsufficientBalanceError) -> None:
        """The node cannot be paid for: it fails with AutoGPT's error, the run fails, ZERO_BALANCE is recorded."""
        message = str(error)
        execution = run.execution
        self._hit_limit(run, message)  # first: the error output below must not start anything downstream
        execution.start_node(node.node_exec_id)
        self._emit(run, node, "error", message)
        execution.fail_node(node.node_exec_id, message, {"walltime": 0.0, "cputime": 0.0, "cost": 0})
        self.observer.node_ended(S.FAILED.value)
        assert self.ledgers is not None
        self.ledgers.record_zero_balance(execution, error)
        self.writer.mark(execution)

    async def _open_credentials(
        self, execution: GraphExecution, block: Block, data: dict[str, Any]
    ) -> dict[str, ResolvedCredentials]:
        """The node's credentials references (the run's ``credentials_inputs`` over its own), opened.

        Raises ``CredentialsUnavailableError`` when one is not the user's, was deleted or cannot be decrypted.
        """
        if self.credentials is None:
            return {}
        fields = list(block.Input.model_fields)
        given = {name: value for name, value in execution.credentials_inputs.items() if name in fields}
        references = credentials_references(fields, {**data, **given})
        # the platform's own credentials ("Use Credits for X"): the block runs on the platform's configured key
        references = {name: ref for name, ref in references.items() if not is_platform_credentials(ref)}
        source = self.credentials
        return {
            name: await asyncio.to_thread(source.resolve, execution.user_id, reference)
            for name, reference in references.items()
        }

    async def _wait_for_read_side(self) -> None:
        """Hold a long run's next node while the read models are more than ``max_read_lag`` events behind.

        A read side that does not move at all for ``READ_SIDE_STALLED`` seconds
        (a projector that is down or stuck) stops the pacing until it catches
        up again: runs must not hang on it.
        """
        waiting_since, first_lag = time.monotonic(), None
        while self.read_lag is not None:
            seen_at, lag = self._read_lag_seen
            if time.monotonic() - seen_at >= READ_LAG_EVERY:
                lag = await asyncio.to_thread(self.read_lag)
                self._read_lag_seen = (time.monotonic(), lag)
            if lag <= self.config.max_read_lag:
                self._read_side_stalled = False
                return
            if self._read_side_stalled:
                return
            first_lag = lag if first_lag is None else first_lag
            if lag >= first_lag and time.monotonic() - waiting_since > READ_SIDE_STALLED:
                log.warning("the read models stay %d events behind: long runs go on without waiting for them", lag)
                self._read_side_stalled = True
                return
            await asyncio.sleep(READ_LAG_EVERY)

    def _block_extras(self, run: _Run, block: Block) -> dict[str, Any]:
        """What a block finds in ``RunContext.extra`` (only sub-agent blocks need anything)."""
        return {SUBAGENT_RUNNER: _SubAgentRunner(self, run)} if block.block_type == BlockType.AGENT else {}

    def _emit(self, run: _Run, node: NodeExecution, pin: str, value: Any) -> int:
        """Record one output and deliver it downstream; returns its JSON size.

        An output over a JSON limit (``domain.json_codec``) fails the node instead of being recorded.
        """
        value = run.secrets.redact(jsonable(value))  # the exact secret inputs are recorded as their tokens
        try:
            size = json_size(value)
        except JSONLimitError as exc:
            raise BlockError(f"Output {pin!r} was not recorded: {exc}") from None
        execution = run.execution
        name = run.plan.graph_output_name(node, pin)
        execution.record_output(node.node_exec_id, pin, value, name)
        for queued in run.plan.route(execution, node, pin, value):
            self._launch(run, queued)
        if name is not None and run.output_listener is not None:
            run.output_listener((name, value))
        return size

    # -- sub-agents ----------------------------------------------------------

    async def run_child(
        self,
        parent: _Run,
        parent_node_exec_id: str,
        graph_id: str,
        graph_version: int,
        inputs: dict[str, Any],
    ) -> AsyncIterator[tuple[str, Any]]:
        """Run another graph version as a child of ``parent``; yield its outputs by name."""
        user_id = parent.execution.user_id
        depth = self.config.max_subagent_depth
        if parent.depth >= depth:
            self._hit_limit(parent, f"Run stopped: it nests sub-agents deeper than the limit of {depth} levels")
            raise BlockError(f"sub-agent depth limit of {depth} levels reached")
        graph = await asyncio.to_thread(self.graphs.graph_for_run, user_id, graph_id, graph_version)
        check_inputs(graph, self.lookup, inputs)
        child_id, recorded = uuid4(), parent.secrets.redact(inputs)
        if names := secret_input_names(graph, self.lookup) & inputs.keys():
            if self.secret_inputs is None:
                raise BlockError("secret inputs cannot be sealed here: no encryption key configured")
            seal = self.secret_inputs.seal_inputs
            recorded = await asyncio.to_thread(seal, user_id, child_id, names, recorded, parent.secrets)
        child = GraphExecution.request(
            execution_id=child_id,
            graph_id=graph_id,
            graph_version=graph_version,
            user_id=user_id,
            inputs=recorded,
            parent_execution_id=str(parent.id),
            parent_node_exec_id=parent_node_exec_id,
        )
        self._claimed.add(child.id)
        queue: asyncio.Queue[tuple[str, Any] | None] = asyncio.Queue()
        parent.children.add(child.id)
        self.writer.mark(child)
        child_run = await self._begin(child, is_child=True, output_listener=queue.put_nowait, parent=parent)
        if child_run is None:
            raise BlockError(f"sub-agent {graph_id} v{graph_version} could not start")
        try:
            while (item := await queue.get()) is not None:
                yield item
        except asyncio.CancelledError:
            await self._stop_child(child.id, f"parent execution {parent.id}")
            raise
        finally:
            parent.children.discard(child.id)
        if child_run.execution.status in (S.FAILED, S.TERMINATED):
            reason = child_run.execution.error or f"sub-agent run ended {child_run.execution.status}"
            raise BlockError(reason)

    async def _stop_child(self, child_id: UUID, requested_by: str) -> None:
        child = self.runs.get(child_id)
        if child is None:
            return
        child.stop_by = child.stop_by or requested_by
        self._interrupt(child, "stop")
        await child.finished.wait()


class _SubAgentRunner:
    """What AgentExecutorBlock sees: run a child graph from inside a node."""

    def __init__(self, executor: Executor, run: _Run) -> None:
        self._executor = executor
        self._run = run

    def run_child(
        self, context: RunContext, graph_id: str, graph_version: int, inputs: dict[str, Any]
    ) -> AsyncIterator[tuple[str, Any]]:
        return self._executor.run_child(self._run, context.node_exec_id, graph_id, graph_version, inputs)


def fold_agent_inputs(block: Block, data: dict[str, Any]) -> dict[str, Any]:
    """Links into a sub-agent node target the child's input names: gather them into ``inputs``."""
    fields = block.Input.model_fields
    folded = {k: v for k, v in data.items() if k in fields}
    inputs = dict(folded.get("inputs") or {})
    inputs.update({k: v for k, v in data.items() if k not in fields})
    folded["inputs"] = inputs
    return folded


_NOT_STARTED = (S.INCOMPLETE, S.QUEUED)

_PLAIN_TYPES = (str, int, float, bool, dict, list)


def _left_to_validation(annotation: Any) -> bool:
    """Types ``convert`` passes through unchanged: no need to call it."""
    if annotation is None or annotation is Any or typing.get_origin(annotation) is typing.Literal:
        return True
    return isinstance(annotation, type) and issubclass(annotation, enum.Enum | BaseModel)


@functools.cache
def _pin_types(input_model: type[Any]) -> dict[str, tuple[Any, type | None]]:
    """Per input pin that may need converting: its annotation, and its plain type if it has one."""
    types: dict[str, tuple[Any, type | None]] = {}
    for name, spec in input_model.model_fields.items():
        annotation = spec.annotation
        if not _left_to_validation(annotation):
            types[name] = (annotation, annotation if annotation in _PLAIN_TYPES else None)
    return types


def coerce_inputs(block: Block, data: dict[str, Any]) -> dict[str, Any]:
    """Bend each input towards its pin's declared type (AutoGPT's convert)."""
    types = _pin_types(block.Input)
    coerced = dict(data)
    for name, value in data.items():
        spec = types.get(name)
        if spec is None or value is None:
            continue
        if spec[1] is not None and type(value) is spec[1]:
            continue  # already the declared type: nothing to bend
        # a value that will not convert is left as it is: the block's validation reports it
        with contextlib.suppress(ConversionError, TypeError, ValueError):
            coerced[name] = convert(value, spec[0])
    return coerced


def jsonable(value: Any) -> Any:
    """A JSON-storable form of a yielded value (events hold plain JSON)."""
    if value is None or isinstance(value, str | int | bool):
        return value
    if isinstance(value, float):
        return value
    try:
        return to_jsonable_python(value, fallback=str)
    except Exception:  # pragma: no cover - fallback=str makes this rare
        return str(value)


def _size(value: Any) -> int:
    """Bytes of ``value`` as JSON (AutoGPT's input/output size stats)."""
    if value is None or isinstance(value, bool | int | float):
        return len(repr(value))
    if isinstance(value, str):
        return len(value) + 2
    try:
        return len(json.dumps(value, default=str))
    except (TypeError, ValueError):
        return 0


def _graph_stats(execution: GraphExecution) -> dict[str, Any]:
    nodes = list(execution.node_executions.values())
    ran = [n for n in nodes if n.status in (S.COMPLETED, S.FAILED)]
    started = execution.started_at or execution.created_on
    duration = max(0.0, time.time() - started.timestamp())
    cpu = sum(float(n.stats.get("cputime", 0.0)) for n in ran)
    node_time = sum(float(n.stats.get("walltime", 0.0)) for n in ran)
    stats: dict[str, Any] = {
        "cost": sum(int(n.stats.get("cost", 0)) for n in ran),
        "duration": duration if math.isfinite(duration) else 0.0,
        "duration_cpu_only": cpu,
        "node_exec_time": node_time,
        "node_exec_count": len(ran),
        "node_error_count": sum(1 for n in ran if n.status == S.FAILED),
        "error": execution.error,
    }
    for key in ("llm_call_count", "input_token_count", "output_token_count"):
        total = sum(float(n.stats.get(key, 0)) for n in ran)
        if total:
            stats[key] = total
    return stats
