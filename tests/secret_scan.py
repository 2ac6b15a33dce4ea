"""Search every place a secret could land for raw secrets: database tables, SQLite files, Kafka topics, texts.

Each scanner answers where it found a secret (empty: nowhere). Values are
searched as the bytes stored: ``bytea`` columns (event payloads) as they
are, every other value as its text and as its JSON.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import psycopg


def _as_bytes(value: Any) -> bytes:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if isinstance(value, str):
        return value.encode()
    return (str(value) + json.dumps(value, default=str)).encode()


def _hits(where: str, data: bytes, secrets: Iterable[str]) -> list[str]:
    return [f"{where}: {secret[:6]}..." for secret in secrets if secret.encode() in data]


def scan_postgres(dsn: str, secrets: Iterable[str]) -> tuple[list[str], list[str]]:
    """(hits, tables scanned): every row of every table of the database, column by column."""
    secrets, hits, scanned = list(secrets), [], []
    with psycopg.connect(dsn) as conn:
        tables = conn.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') AND table_type = 'BASE TABLE'"
        ).fetchall()
        for schema, name in tables:
            scanned.append(f"{schema}.{name}")
            for row in conn.execute(f'SELECT * FROM "{schema}"."{name}"').fetchall():
                for value in row:
                    hits += _hits(f"{schema}.{name}", _as_bytes(value), secrets)
    return hits, scanned


def scan_files(paths: Iterable[Path], secrets: Iterable[str]) -> list[str]:
    """Hits in the raw bytes of ``paths`` (SQLite databases with their WAL files, logs)."""
    secrets = list(secrets)
    return [hit for path in paths if path.is_file() for hit in _hits(path.name, path.read_bytes(), secrets)]


def scan_text(where: str, text: str, secrets: Iterable[str]) -> list[str]:
    """Hits in one text (an API answer, captured logs)."""
    return _hits(where, text.encode(), secrets)


def scan_kafka(bootstrap: str, prefix: str, secrets: Iterable[str], idle: float = 5.0) -> tuple[list[str], int]:
    """(hits, messages read): every message of every topic named ``<prefix>.*``, from the start, with a fresh group.

    Keys, values and headers are searched.
    """
    from kafka import KafkaConsumer

    from tests.fixtures.services import kafka_consumer_config

    secrets = list(secrets)
    consumer = KafkaConsumer(**kafka_consumer_config(bootstrap))
    try:
        topics = sorted(t for t in consumer.topics() if t.startswith(f"{prefix}."))
        assert topics, f"no topic named {prefix}.*"
        consumer.subscribe(topics)
        hits: list[str] = []
        count, last = 0, time.monotonic()
        while time.monotonic() - last < idle:
            for records in consumer.poll(timeout_ms=500).values():
                for record in records:
                    count, last = count + 1, time.monotonic()
                    where = f"kafka {record.topic}/{record.partition}@{record.offset}"
                    parts = [record.key or b"", record.value or b""]
                    parts += [k.encode() + (v or b"") for k, v in record.headers or []]
                    hits += _hits(where, b"\n".join(parts), secrets)
        return hits, count
    finally:
        consumer.close()
