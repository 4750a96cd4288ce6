"""Settings from flags and LIVELOOP_* environment variables."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

from liveloop.kit.limits import MAX_BATCH_EVENTS, MAX_BODY_BYTES


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LIVELOOP_", extra="ignore")

    database_url: str = "sqlite:///var/liveloop.db"
    redis_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    # The address viewers reach; share links and webhook URLs are built on it.
    public_url: str | None = None
    # Signs viewer tokens and derives draw seeds; generated and kept in the database when unset.
    secret_key: str | None = None
    max_body_bytes: int = MAX_BODY_BYTES
    max_batch_events: int = MAX_BATCH_EVENTS
    # How far in the future an event's `at` may lie (clock skew between shop and liveloop).
    future_tolerance_ms: int = 5 * 60 * 1000
    migrate_on_start: bool = True
    # Requests per minute and client address on the public endpoints; 0 turns a limit off. Mobile
    # carriers put many viewers behind one address, so these are generous. Over the limit, a share
    # link still redirects but its click is not counted; streams and beats answer 429.
    rate_limit_share_per_minute: int = 600
    rate_limit_stream_per_minute: int = 120
    rate_limit_presence_per_minute: int = 240
    rate_limit_results_page_per_minute: int = 60  # /t/{token}: each view is a few queries and a page
    # Viewer streams open at once from one client address, in each process (0: no limit). A
    # household or an office shares an address; a carrier's NAT may put more viewers behind one.
    max_streams_per_address: int = 20
    # A connection must send its request headers within this time (from its opening, or from the
    # first byte of a further request): half-open connections do not hold the server's sockets.
    header_timeout_seconds: float = 10.0
    # A widget viewer silent this long (three missed beats) has left; the sweeper looks this often.
    presence_timeout_seconds: int = 90
    presence_sweep_seconds: float = 5.0
    # Outgoing webhooks: also to http and to loopback or private addresses (development and tests
    # only: in production that would let a tenant reach the operator's own network).
    webhooks_allow_private: bool = False
    # Fraud signals and the review queue (docs/fraud.md); off only to measure what they cost.
    fraud_signals: bool = True
    # How often each process looks for due deliveries when no commit has woken it.
    webhooks_poll_seconds: float = 1.0
    # How often each process looks for due scheduled jobs (campaign.ended, sharer.report, reminders).
    scheduler_poll_seconds: float = 1.0
    # Operations (docs/operations.md). GET /metrics answers only a request carrying this bearer
    # token; or a port of its own serves the metrics to whoever reaches it (bind it privately).
    metrics_token: str | None = None
    metrics_port: int | None = None
    metrics_host: str | None = None  # default: the service's host
    log_format: str = "text"  # or "json": one object per line
    log_level: str = "info"
    access_log: bool = True  # one line per request (at level info)
    # Proxies (addresses or CIDR networks, separated by commas) whose X-Forwarded-For is believed.
    trusted_proxies: str = ""
    # Device ids and IP addresses of stored events are dropped this many days after they were
    # received (docs/privacy.md); the signals computed from them stay. Each process looks this often.
    # Cold start (docs/operations.md, snapshots): a loaded campaign whose log grew by this many events
    # since its newest snapshot gets a new one (0: none are taken; stored ones are still used); the
    # loaded campaigns are looked at this often.
    snapshot_every_events: int = 100_000
    snapshot_check_seconds: float = 30.0
    signal_retention_days: float = 30.0
    retention_sweep_seconds: float = 3600.0
    # On SIGTERM: stop accepting, end streams, answer what is in flight, flush, exit within this.
    shutdown_seconds: float = 20.0

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")
