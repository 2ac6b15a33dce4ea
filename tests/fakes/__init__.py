"""Real local servers that stand in for the outside world in tests.

- ``tests.fakes.openai_server``: an OpenAI-compatible chat-completions server
  (fixture ``fake_openai``).
- ``tests.fakes.http_server``: a generic HTTP server with per-path hit counts,
  delays and statuses (fixture ``fake_http``).

Both listen on 127.0.0.1 on a free port, run in a background thread, and are
deterministic unless a test scripts them otherwise.
"""
