"""Following a context's log: woken by commits, in order, at least once, stoppable at any time.

The embedded stores (SQLite) of a real container; the slow safety poll is
stretched to a minute so that only a commit's wake-up can explain a prompt
delivery.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.background_worker import BackgroundWorker
from adapters.commit_signal import CommitSignal
from adapters.log_follower import LogFollower
from adapters.settings import Settings
from api.composition import Container, build_container
from domain.agent_format import GraphPayload
from projections.envelope import EventEnvelope
from tests.unit.api.graph_samples import calculator


@pytest.fixture
def container(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Container]:
    monkeypatch.setattr(CommitSignal, "idle_poll", 60.0)
    built = build_container(Settings(AGENTGRAPH_DATA_DIR=tmp_path / "data"))
    yield built
    built.close()


def _create_graph(container: Container, name: str) -> None:
    container.graphs.create_graph("fay", GraphPayload.model_validate(calculator(name)))


def test_a_follower_at_the_head_of_the_log_is_woken_by_each_commit(container: Container) -> None:
    graphs = container.event_logs["graphs"]
    batches: queue.Queue[list[EventEnvelope]] = queue.Queue()
    follower = LogFollower(graphs, batches.put)
    follower.start()
    try:
        for name in ("first", "second", "third"):
            time.sleep(0.2)  # the follower is asleep at the head of the log
            committed = time.monotonic()
            _create_graph(container, name)
            batch = batches.get(timeout=10)
            assert time.monotonic() - committed < 2.0  # woken by the commit, not by the minute-long poll
            assert [event.position for event in batch] == [graphs.head()]  # just the new event
    finally:
        follower.stop()


def test_a_failing_handler_gets_the_same_batch_again_and_nothing_is_skipped(container: Container) -> None:
    for i in range(5):
        _create_graph(container, f"graph-{i}")
    seen: list[int] = []
    failures = iter([True, True])  # the first two deliveries fail
    done = threading.Event()

    def handle(batch: list[EventEnvelope]) -> None:
        if next(failures, False):
            raise RuntimeError("read store down")
        seen.extend(event.position for event in batch)
        if len(seen) >= 5:
            done.set()

    follower = LogFollower(container.event_logs["graphs"], handle, batch_size=2)
    follower.start()
    try:
        assert done.wait(10)
    finally:
        follower.stop()
    assert seen == [1, 2, 3, 4, 5]
    assert follower.position == 5


def test_a_follower_resumes_after_its_start_position_and_only_reads_the_topics_asked_for(
    container: Container,
) -> None:
    _create_graph(container, "old")
    _create_graph(container, "new")
    head = container.event_logs["graphs"].head()
    start = container.event_logs["graphs"].read(0, 1)[0]
    batches: queue.Queue[list[EventEnvelope]] = queue.Queue()
    follower = LogFollower(
        container.event_logs["graphs"], batches.put, start=lambda: start.position, topics=["nothing:Such"]
    )
    follower.start()
    other = LogFollower(container.event_logs["graphs"], batches.put, start=start.position)
    other.start()
    try:
        batch = batches.get(timeout=10)
        assert [event.position for event in batch] == list(range(start.position + 1, head + 1))
        with pytest.raises(queue.Empty):
            batches.get(timeout=0.5)  # no event has the topic the first follower asked for
    finally:
        follower.stop()
        other.stop()


def test_stopping_an_idle_follower_is_prompt(container: Container) -> None:
    follower = LogFollower(container.event_logs["graphs"], lambda batch: None)
    follower.start()
    time.sleep(0.2)
    stopping = time.monotonic()
    follower.stop()
    assert time.monotonic() - stopping < 1.0


def test_a_background_worker_restarts_a_loop_that_failed_and_stops_when_told() -> None:
    calls: list[float] = []
    running = threading.Event()

    def run(stop: threading.Event) -> None:
        calls.append(time.monotonic())
        if len(calls) < 3:
            raise ConnectionError("broker unreachable")
        running.set()
        stop.wait()

    worker = BackgroundWorker("flaky", run)
    worker.start()
    try:
        assert running.wait(10)
    finally:
        worker.stop()
    assert len(calls) == 3
    assert calls[2] - calls[1] > calls[1] - calls[0]  # it backs off: each wait longer than the one before


def test_a_follower_whose_store_is_closed_stops_instead_of_retrying_forever(tmp_path: Path) -> None:
    built = build_container(Settings(AGENTGRAPH_DATA_DIR=tmp_path / "data"))
    _create_graph(built, "only")
    seen: list[int] = []
    follower = LogFollower(built.event_logs["graphs"], lambda batch: seen.extend(e.position for e in batch))
    follower.start()
    deadline = time.monotonic() + 10
    while not seen:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    built.close()  # the process closes its stores (a test, or a shutdown that forgot the follower)
    follower.join(timeout=10)
    assert not follower._thread.is_alive()
