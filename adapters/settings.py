"""Configuration: environment variables only (12-factor), read in one place."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from platformdirs import user_data_path
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from domain.json_codec import MAX_JSON_BYTES


class Settings(BaseSettings):
    """Every setting of the platform; unset means the embedded default.

    See the README's configuration table for what each variable does. The
    data folder defaults to the per-user data directory (``~/.local/share/agentgraph``
    on Linux), never the current directory, so every command started anywhere
    (``serve``, ``dev-token``, ``agents import``) finds the same files and dev key.
    """

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    data_dir: Path = Field(default_factory=lambda: user_data_path("agentgraph"), alias="AGENTGRAPH_DATA_DIR")
    database_url: str | None = Field(default=None, alias="AGENTGRAPH_DATABASE_URL")
    kafka_bootstrap: str | None = Field(default=None, alias="AGENTGRAPH_KAFKA_BOOTSTRAP")
    kafka_topic_prefix: str = Field(default="agentgraph", alias="AGENTGRAPH_KAFKA_TOPIC_PREFIX")
    kafka_partitions: int = Field(default=6, ge=1, alias="AGENTGRAPH_KAFKA_PARTITIONS")
    jwt_verify_key: str | None = Field(default=None, alias="JWT_VERIFY_KEY")
    # master keys of secrets at rest, "kid:base64key,..." newest first (adapters.encryption_keys)
    encryption_key: str | None = Field(default=None, alias="AGENTGRAPH_ENCRYPTION_KEY", repr=False)
    # unset: HS256 for a secret, inferred from a PEM public key's type (adapters.jwt_keys)
    jwt_algorithm: str | None = Field(default=None, alias="JWT_ALGORITHM")
    # production refuses short HMAC keys and the generated dev key (adapters.jwt_keys)
    env: Literal["development", "production"] = Field(default="development", alias="AGENTGRAPH_ENV")
    # browser origins allowed to call the API (comma-separated; empty: no CORS headers at all)
    cors_allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, alias="AGENTGRAPH_CORS_ALLOWED_ORIGINS"
    )
    host: str = Field(default="127.0.0.1", alias="AGENTGRAPH_HOST")
    port: int = Field(default=8000, alias="AGENTGRAPH_PORT")
    # the transport's cap, never below the JSON value limit: a body the value limits accept must arrive
    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=MAX_JSON_BYTES, alias="AGENTGRAPH_MAX_BODY_BYTES")
    request_read_timeout_seconds: float = Field(default=30.0, gt=0, alias="AGENTGRAPH_REQUEST_READ_TIMEOUT_SECONDS")
    max_running_per_user: int = Field(default=25, ge=1, alias="AGENTGRAPH_MAX_RUNNING_PER_USER")
    node_timeout_seconds: float = Field(default=600.0, gt=0, alias="AGENTGRAPH_NODE_TIMEOUT_SECONDS")
    block_workers: int = Field(default=2, ge=1, alias="AGENTGRAPH_BLOCK_WORKERS")
    block_execute_timeout_seconds: float = Field(default=30.0, gt=0, alias="AGENTGRAPH_BLOCK_EXECUTE_TIMEOUT_SECONDS")
    max_node_executions: int = Field(default=10_000, ge=1, alias="AGENTGRAPH_MAX_NODE_EXECUTIONS")
    max_subagent_depth: int = Field(default=10, ge=0, alias="AGENTGRAPH_MAX_SUBAGENT_DEPTH")
    llm_base_url: str = Field(default="https://api.openai.com/v1", alias="AGENTGRAPH_LLM_BASE_URL")
    llm_api_key: str | None = Field(default=None, alias="AGENTGRAPH_LLM_API_KEY")
    consistency_wait_seconds: float = Field(default=5.0, ge=0, alias="AGENTGRAPH_CONSISTENCY_WAIT_SECONDS")
    http_allow_private_networks: bool = Field(default=False, alias="AGENTGRAPH_HTTP_ALLOW_PRIVATE_NETWORKS")
    api_key_last_used_flush_seconds: float = Field(
        default=60.0, ge=0, alias="AGENTGRAPH_API_KEY_LAST_USED_FLUSH_SECONDS"
    )  # last_used_at of API keys is recorded at most this often per key (application.api_key_usage)
    # Redis: rate limits shared by every API process (and pub/sub later); unset means in-process limits
    redis_url: str | None = Field(default=None, alias="AGENTGRAPH_REDIS_URL")
    redis_key_prefix: str = Field(default="agentgraph:", alias="AGENTGRAPH_REDIS_KEY_PREFIX")
    rate_limit_per_minute: int = Field(default=60, ge=0, alias="AGENTGRAPH_RATE_LIMIT_PER_MINUTE")
    # path prefix -> requests per minute (0: unlimited), e.g. {"/api/graphs": 120}; the longest prefix wins
    rate_limits: dict[str, int] = Field(default_factory=dict, alias="AGENTGRAPH_RATE_LIMITS")
    ready_timeout_seconds: float = Field(default=2.0, gt=0, alias="AGENTGRAPH_READY_TIMEOUT_SECONDS")
    # live updates (/ws and the SSE stream); with Redis they travel on the pub/sub channel <redis_key_prefix>live
    ws_max_subscriptions: int = Field(default=100, ge=1, alias="AGENTGRAPH_WS_MAX_SUBSCRIPTIONS")
    ws_max_connections_per_user: int = Field(default=100, ge=1, alias="AGENTGRAPH_WS_MAX_CONNECTIONS_PER_USER")
    ws_max_message_bytes: int = Field(default=64 * 1024, ge=256, alias="AGENTGRAPH_WS_MAX_MESSAGE_BYTES")
    ws_queue_size: int = Field(default=1000, ge=1, alias="AGENTGRAPH_WS_QUEUE_SIZE")
    ws_idle_timeout_seconds: float = Field(default=300.0, gt=0, alias="AGENTGRAPH_WS_IDLE_TIMEOUT_SECONDS")
    ws_compression: bool = Field(default=False, alias="AGENTGRAPH_WS_COMPRESSION")
    """permessage-deflate on ``/ws``, when a client offers it. Off: live frames are a few hundred bytes, and
    compressing each one for each socket cost a quarter of the API's CPU in the 1,000-client fan-out benchmark."""

    # credits (application.credits): off by default, as AutoGPT's enable_credit, so the embedded platform runs
    # without any top-up; on, a run request with a balance <= 0 is refused (402) and each new user is granted
    # AGENTGRAPH_STARTING_CREDITS once (key STARTING-GRANT-<user_id>). Top-ups and grants are recorded either way.
    credits_enabled: bool = Field(default=False, alias="AGENTGRAPH_CREDITS_ENABLED")
    starting_credits: int = Field(default=1500, ge=0, alias="AGENTGRAPH_STARTING_CREDITS")

    @field_validator("cors_allowed_origins", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @field_validator("rate_limits")
    @classmethod
    def _rate_limits_are_paths_and_counts(cls, limits: dict[str, int]) -> dict[str, int]:
        for prefix, limit in limits.items():
            if not prefix.startswith("/") or limit < 0:
                raise ValueError(f"AGENTGRAPH_RATE_LIMITS: {prefix!r}: {limit}: want a path prefix and a count >= 0")
        return limits

    @property
    def live_channel(self) -> str:
        """The Redis pub/sub channel of live updates (notifier -> API processes)."""
        return f"{self.redis_key_prefix}live"

    @property
    def production(self) -> bool:
        """True with ``AGENTGRAPH_ENV=production``: the stricter startup checks apply."""
        return self.env == "production"

    @property
    def embedded(self) -> bool:
        """True when no PostgreSQL is configured: SQLite files in the data folder."""
        return not self.database_url
