"""Thin entrypoints: the FastAPI apps, auth, the CLI and the composition root."""
