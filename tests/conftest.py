"""Shared test fixtures: real services (tests.fixtures.services) and local fake servers (tests.fakes)."""

pytest_plugins = [
    "tests.fixtures.services",
    "tests.fakes.openai_server",
    "tests.fakes.http_server",
    "tests.autogpt_facts",
]
