"""The graphs read side: the read models (one row per graph and per immutable graph version), the
projection that keeps them, and the queries that answer from them in AutoGPT's shapes (``models``)."""
