"""Proof that ``kafka_bootstrap`` is a working Kafka: keyed produce, group consume, commits."""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic

from tests.fixtures.services import kafka_consumer_config, kafka_producer_config

pytestmark = pytest.mark.integration

PARTITIONS = 3
KEYS = 50
MESSAGES = 1000
PER_KEY = MESSAGES // KEYS
CONSUME_DEADLINE_S = 60.0


def _key(k: int) -> str:
    return f"key-{k:02d}"


def test_keyed_round_trip_with_committed_offsets(
    kafka_bootstrap: str, kafka_topic_prefix: str, kafka_group_id: str
) -> None:
    topic = kafka_topic_prefix + "round-trip"

    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap, request_timeout_ms=10000)
    try:
        admin.create_topics([NewTopic(topic, num_partitions=PARTITIONS, replication_factor=1)])
        assert topic in admin.list_topics()
    finally:
        admin.close()

    # produce: message i goes to key i % KEYS with that key's sequence number i // KEYS
    producer = KafkaProducer(**kafka_producer_config(kafka_bootstrap))
    produced_partition: dict[str, set[int]] = defaultdict(set)
    try:
        futures = []
        for i in range(MESSAGES):
            key, seq = _key(i % KEYS), i // KEYS
            value = json.dumps({"key": key, "seq": seq}).encode()
            futures.append((key, producer.send(topic, key=key.encode(), value=value)))
        producer.flush(timeout=30)
        for key, future in futures:
            produced_partition[key].add(future.get(timeout=10).partition)
    finally:
        producer.close(timeout=10)
    assert all(len(parts) == 1 for parts in produced_partition.values())

    # consume with a group and manual commits after processing
    received: list[tuple[str, int, int, int]] = []  # key, seq, partition, offset
    consumer = KafkaConsumer(**kafka_consumer_config(kafka_bootstrap, kafka_group_id))
    try:
        consumer.subscribe([topic])
        deadline = time.monotonic() + CONSUME_DEADLINE_S
        while len(received) < MESSAGES and time.monotonic() < deadline:
            batches = consumer.poll(timeout_ms=500)
            for tp, records in batches.items():
                for record in records:
                    value = json.loads(record.value)
                    assert record.key.decode() == value["key"]
                    received.append((value["key"], value["seq"], tp.partition, record.offset))
            if batches:
                consumer.commit()
        assert consumer.partitions_for_topic(topic) == set(range(PARTITIONS))
        committed = {p: consumer.committed(TopicPartition(topic, p)) for p in range(PARTITIONS)}
    finally:
        consumer.close()

    assert len(received) == MESSAGES, f"got {len(received)} of {MESSAGES} within {CONSUME_DEADLINE_S}s"
    # exactly once
    pairs = Counter((key, seq) for key, seq, _, _ in received)
    assert pairs == Counter({(_key(k), s): 1 for k in range(KEYS) for s in range(PER_KEY)})
    # per-key order, each key on one partition (the one the producer reported)
    seqs: dict[str, list[int]] = defaultdict(list)
    partitions: dict[str, set[int]] = defaultdict(set)
    for key, seq, partition, _ in received:
        seqs[key].append(seq)
        partitions[key].add(partition)
    assert all(order == list(range(PER_KEY)) for order in seqs.values())
    assert partitions == produced_partition
    # committed offsets: one past the last record of each partition, summing to all messages
    per_partition = Counter(partition for _, _, partition, _ in received)
    assert committed == {p: per_partition[p] for p in range(PARTITIONS)}
    assert sum(offset or 0 for offset in committed.values()) == MESSAGES

    # a new member of the same group resumes at the committed position and gets nothing new
    again = KafkaConsumer(**kafka_consumer_config(kafka_bootstrap, kafka_group_id))
    try:
        again.subscribe([topic])
        late: list[object] = []
        deadline = time.monotonic() + 30
        while not again.assignment() and time.monotonic() < deadline:
            late.extend(r for rs in again.poll(timeout_ms=500).values() for r in rs)
        assert again.assignment() == {TopicPartition(topic, p) for p in range(PARTITIONS)}
        for _ in range(2):
            late.extend(r for rs in again.poll(timeout_ms=500).values() for r in rs)
        assert late == []
        assert {p: again.position(TopicPartition(topic, p)) for p in range(PARTITIONS)} == committed
    finally:
        again.close()
