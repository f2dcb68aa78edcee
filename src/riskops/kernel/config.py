"""Configuration from ``RISKOPS_*`` environment variables, with embedded defaults."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every setting has a default that runs on one laptop with nothing installed."""

    model_config = SettingsConfigDict(env_prefix="RISKOPS_", extra="ignore")

    # Where local files live (SQLite database, monitor snapshots, demo output).
    data_dir: Path = Path(".riskops")
    # SQLAlchemy URL; empty means a SQLite file in data_dir.
    database_url: str = ""
    # NATS server for the broker ingestion adapter.
    nats_url: str = "nats://127.0.0.1:4222"
    nats_stream: str = "RISKOPS_EVENTS"
    nats_subject: str = "riskops.events"
    # Cluster mode (`riskops worker --bus nats`, ADR 0041): a partition's lease; an owner
    # that falls silent keeps its partition this long before a standby takes it over.
    cluster_lease_seconds: float = Field(default=5.0, gt=0.5, le=300)
    # Routed decisions (`riskops serve --bus nats`, ADR 0042): how long the API waits for the
    # owner of the account's partition, and the decision it answers when none comes (saying
    # so in its reason; the withdrawal is queued on the stream for the owner).
    decision_timeout_ms: int = Field(default=250, ge=1, le=60_000)
    decision_failsafe: Literal["allow", "review", "hold", "block"] = "hold"
    # Largest single event accepted, in bytes; larger ones are dead-lettered.
    max_event_bytes: int = 64 * 1024
    # Largest HTTP request body accepted, in bytes.
    max_body_bytes: int = 32 * 1024 * 1024
    # Bounds on every input (riskops.kernel.bounds, ADR 0015). Identifiers: at most this
    # many characters (the columns hold 128).
    max_identifier_length: int = Field(default=128, ge=1, le=128)
    # Event times: none before this moment, none more than this many seconds in the future.
    min_event_time: datetime = datetime(2009, 1, 1, tzinfo=UTC)
    max_clock_skew_seconds: float = Field(default=300.0, ge=0, le=7 * 86_400)
    # Asset amounts: at most this much, with at most this many decimal places (the
    # columns hold NUMERIC(38, 18)).
    max_amount: Decimal = Field(default=Decimal(10**15), gt=0, lt=Decimal(10**20))
    amount_decimal_places: int = Field(default=18, ge=0, le=18)
    # USD values: at most this much (cents must fit a 64-bit integer).
    max_usd_value: Decimal = Field(default=Decimal(10**12), gt=0, le=Decimal(10**16))
    # JSON bodies and events: arrays and objects nested at most this deep.
    max_json_depth: int = Field(default=32, ge=4, le=256)
    # Monitor: how often (events) the worker snapshots its state.
    snapshot_every: int = 50_000
    # Monitor: and how often (seconds, with progress since): a restart replays at most this.
    snapshot_seconds: float = 5.0
    # Linked accounts: a value (device, phone, IP, address...) used by more accounts than
    # this is a hub, listed but never followed nor joining a cluster (a /24: ten times it).
    links_hub_accounts: int = Field(default=20, ge=2, le=100_000)
    # Linked accounts: a cluster is alerted when it reaches this many accounts, and again
    # each time it has grown by links_alert_growth since.
    links_alert_size: int = Field(default=3, ge=2, le=100_000)
    links_alert_growth: int = Field(default=2, ge=1, le=100_000)
    # Health: /readyz answers 503 when the monitor has events to decide and has made no
    # progress for this long (seconds).
    monitor_stall_seconds: float = 60.0
    # Cases: how often (seconds) waits are swept and new cases auto-assigned; 0 turns it off.
    housekeeping_seconds: float = 30.0
    # Cases: how often (seconds) the server and the worker deliver the intake outbox (the
    # monitor's case alerts) into cases; 0 turns it off (another process delivers).
    intake_poll_seconds: float = 0.5
    # Whether `riskops serve` also runs the log followers (links graph, screening, account
    # profiles / KYC reviews / ratings), case intake and housekeeping and the outbound
    # delivery, in a child process it supervises (ADR 0029). On for the embedded setup; a
    # deployment that runs `riskops worker` beside the API turns it off (no child).
    serve_followers: bool = True
    log_level: str = "INFO"
    log_json: bool = False
    # Console login: failed attempts before the account locks, and for how long.
    login_max_failures: int = 5
    login_lockout_minutes: int = 15
    # Console sessions expire this long after the last request (sliding).
    session_hours: int = 12
    # Send the session cookie only over HTTPS. Off by default so the demo works on
    # http://127.0.0.1; set RISKOPS_COOKIE_SECURE=1 behind TLS (every real deployment).
    cookie_secure: bool = False
    # Intake: shared secret of the SMS provider's signed webhook (HMAC-SHA256); empty means
    # POST /v1/signals/sms refuses everything (503, not configured).
    sms_hmac_secret: str = ""
    # Intake: largest email accepted (SMTP DATA, .eml, mbox entry), in bytes.
    max_email_bytes: int = 25 * 1024 * 1024
    # Intake: riskops' own mailboxes (comma-separated); never used to link mail to accounts.
    intake_mailboxes: str = ""
    # Contact: replies to messages sent from a case come back to reply+<token>@reply_domain
    # (the token is the case id signed with reply_secret); either empty: no reply token.
    reply_domain: str = ""
    reply_secret: str = ""
    # Contact: shared secret of the SMS provider's signed inbound-message webhook
    # (POST /v1/contact/sms-inbound, HMAC-SHA256); empty means it refuses everything (503).
    sms_inbound_secret: str = ""
    # Intel: the node_modules folder holding the @ip-location-db data packages (`make
    # install` puts them in the checkout's); unset means ./node_modules, then the checkout's.
    intel_data_dir: Path | None = None
    # Intel: outside websites per target ("ip", "bitcoin.address", "tron.tx"...) as JSON
    # {target: {site: "https://...{value}"}}; a target named here replaces its default table.
    intel_links: dict[str, dict[str, str]] = Field(default_factory=dict)
    # Outbound (riskops.outbound, ADR 0032): SMTP server (smtp://[user:pass@]host:port
    # [?starttls=true], smtps:// for implicit TLS); empty: a local mailbox in data_dir.
    smtp_url: str = ""
    mail_from: str = "riskops@localhost"
    # The console's public address (https://riskops.example.com), for links in emails (report
    # spikes, the weekly digest); empty: the links are relative paths.
    console_url: str = ""
    # SMS provider: "" (local mailbox), "json" (POST JSON to sms_url) or "twilio".
    sms_provider: str = ""
    sms_url: str = ""
    sms_username: str = ""  # Twilio: the account SID
    sms_token: str = ""  # Twilio: the auth token; json: a bearer token
    sms_from: str = ""
    # Outbound delivery: attempts before a message is dead (30: half a day to a day of an
    # outage at the 1 h cap); first retry delay and its cap (s).
    outbound_max_attempts: int = Field(default=30, ge=1, le=1000)
    outbound_retry_seconds: float = Field(default=30.0, gt=0)
    outbound_retry_max_seconds: float = Field(default=3600.0, gt=0)

    # SAR / STR (riskops.sar, ADR 0034): each FIU issues its own schema; empty: the shared
    # schemas beside the repository (data/regulator-schemas).
    goaml_xsd: str = ""
    fincen_xsd: str = ""
    sar_retention_years: int = Field(default=5, ge=1, le=100)
    # The reporting entity (the exchange) as the FIU knows it: goAML rentity id, name, TIN...
    sar_entity_id: int = Field(default=1, ge=1)
    sar_entity_name: str = "Riskops Demo Exchange"
    sar_entity_tin: str = "000000000"
    sar_entity_country: str = "US"
    sar_entity_city: str = "New York"
    sar_entity_address: str = "1 Demo Street"
    sar_currency: str = "USD"  # goAML currency_code_local: the amounts are its value
    sar_contact_name: str = "Compliance Officer"
    sar_contact_phone: str = "2125550100"
    sar_transmitter_tcc: str = "PTCC0000"  # FinCEN: the BSA E-Filing transmitter control code

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'riskops.db').resolve()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (read once from the environment)."""
    return Settings()
