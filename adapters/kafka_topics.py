"""Kafka naming and partitioning shared by the relay, the projector and the API.

One topic per bounded context: ``<prefix>.<context>``. The key is the
aggregate id, and the partition is chosen here, with the same murmur2 hash
Kafka's default partitioner uses, so the API can tell a client which
partition its write went to (the read-your-writes token names it).
"""

from __future__ import annotations

import logging

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError
from kafka.partitioner.default import murmur2

log = logging.getLogger(__name__)


def topic_for(prefix: str, context: str) -> str:
    """The topic carrying ``context``'s events."""
    return f"{prefix}.{context}"


def context_of(prefix: str, topic: str) -> str:
    """The context a topic carries."""
    return topic[len(prefix) + 1 :]


def partition_for(aggregate_id: str, partitions: int) -> int:
    """The partition of an aggregate's events (Kafka's default murmur2 partitioning)."""
    return (murmur2(aggregate_id.encode()) & 0x7FFFFFFF) % partitions


def ensure_topics(bootstrap: str, prefix: str, contexts: list[str], partitions: int) -> None:
    """Create the context topics that do not exist yet."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15000)
    try:
        existing = set(admin.list_topics())
        missing = [topic_for(prefix, c) for c in contexts if topic_for(prefix, c) not in existing]
        for topic in missing:
            try:
                admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
                log.info("created topic %s with %d partitions", topic, partitions)
            except TopicAlreadyExistsError:
                pass  # another process created it meanwhile
    finally:
        admin.close()
