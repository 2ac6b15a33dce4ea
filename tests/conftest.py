"""Shared test fixtures: real services (tests.fixtures.services) and local fake servers (tests.fakes)."""

import os

# Tests make hundreds of requests per minute as one user: rate limits are off unless a test sets them
# (tests/integration/test_rate_limits.py does). Servers the tests spawn inherit this too.
os.environ.setdefault("AGENTGRAPH_RATE_LIMIT_PER_MINUTE", "0")
# Distributed mode refuses to start without master keys of secrets at rest: one test key for every process
# (tests of the embedded key generation pass AGENTGRAPH_ENCRYPTION_KEY=None to Settings).
os.environ.setdefault("AGENTGRAPH_ENCRYPTION_KEY", "test1:" + "dGVzdC1tYXN0ZXIta2V5LWZvci1hZ2VudGdyYXBoISE=")

pytest_plugins = [
    "tests.fixtures.services",
    "tests.fakes.openai_server",
    "tests.fakes.http_server",
    "tests.autogpt_facts",
]
