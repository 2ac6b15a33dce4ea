"""Sliding-window rate limiters: Redis (shared by every API process) and in-process (embedded)."""
