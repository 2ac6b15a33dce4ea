"""The outside world: persistence, Kafka, Redis, telemetry, providers."""
