"""The graphs read models: one row per graph and one per immutable graph version."""
