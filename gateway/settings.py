"""The gateway's configuration: the one place environment variables (prefix `GW_`) are read."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, IPvAnyNetwork, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from gateway.domain.identifiers import CreditCode


class RegistrySettings(BaseModel):
    """The registry (登记机构) this gateway serves: how its certificates are named and numbered."""

    admin_code: str = "441900"  # GB/T 2260 county-level code of 东莞市
    name: str = "东莞市不动产登记中心"
    province_abbr: str = "粤"  # 省级简称 in certificate numbers
    area_name: str = "东莞市"  # 市县名称 in certificate numbers
    # 统一社会信用代码 of the issuing registry (GB 32100, valid check character; a demo value)
    credit_code: str = "12441900MB2D36612X"
    # GB/T 36904 证照类型代码 per certificate kind (unverified official codes; configurable)
    license_type_ownership: str = "11100000MB0341032Y001"
    license_type_proof: str = "11100000MB0341032Y002"
    # Certificate-number pattern; {seq} is the 7-digit per-registry/year/kind counter
    number_pattern: str = "{province}（{year}）{area}不动产{kind}第{seq:07d}号"
    timezone: str = "Asia/Shanghai"
    # The registry's seal (PNG, transparent background, or SVG), printed over 登记机构（章） inside the signed
    # bytes. Unset: the embedded mode makes an obviously fake sample (data_dir/registry/sample-seal.png).
    seal_image: Path | None = None


class ApiSettings(BaseModel):
    """The HTTP layer: body limits, timeouts, idempotency retention, back-office sessions."""

    request_timeout_seconds: float = 30.0
    max_json_bytes: int = 1024 * 1024  # default per-route body limit (aiohttp's own default)
    # The largest request body the gateway reads: a case submission with its materials in base64 (20 of
    # them, each ≤ 10 MiB, but not all that large at once: by design). The one number the app's
    # client_max_size, the 413 problem, the OpenAPI document (x-max-body-bytes) and the README state.
    max_upload_bytes: int = Field(default=24 * 1024 * 1024, ge=1024 * 1024)
    # Completed idempotency keys are replayed for at least this long (Stripe parity: 24 h), then purged.
    idempotency_retention_hours: int = Field(default=24, ge=24)
    # A claim whose request never completed (process died) is taken over after this long.
    idempotency_lease_seconds: int = 60
    token_ttl_minutes: int = 8 * 60  # a back-office working day
    # Reverse proxies (addresses or networks) whose X-Forwarded-For names the caller in the request log,
    # and whose X-Forwarded-Proto says a page came over TLS; empty: the peer's address is the caller's
    # (deploy/nginx/gateway.conf, docs/deployment.md).
    trusted_proxies: list[IPvAnyNetwork] = Field(default_factory=list)
    # Back-office web pages: a session unused this long ends (等保 2.0 level 3: 登录连接超时自动退出).
    session_idle_minutes: int = Field(default=30, ge=1)
    login_max_failures: int = Field(default=5, ge=1)  # wrong passwords in a row before the account locks
    login_lockout_minutes: int = Field(default=15, ge=1)
    # The session cookie's Secure flag: "auto" sets it when the request came over TLS, directly or as
    # X-Forwarded-Proto: https from one of `trusted_proxies` (a TLS-terminating load balancer).
    secure_cookies: Literal["auto", "always", "never"] = "auto"


# Between the end of an attempt's time (job_timeout_seconds) and the expiry of its in-progress lock: 1 s for
# settling the outbox row after a timeout, 1 s for arq to cancel the job and release its lock.
RECOVERY_MARGIN_SECONDS = 2.0


class JobSettings(BaseModel):
    """Outbox delivery: in-process runner, arq worker and sweeper.

    A delivery never runs twice at the same time, and a dead worker's deliveries start again elsewhere
    within `crash_recovery_seconds` (GW_JOBS__CRASH_RECOVERY_SECONDS). The two hold together like this:
    a worker stamps a job's in-progress lock in Redis (arq's, expiring after `crash_recovery_seconds`)
    when it starts the job, and no other worker starts a job whose lock exists. A live worker ends every
    attempt within `job_timeout_seconds` (the runner's timeout on the party calls) plus 1 s for settling
    the outbox row (arq's own timeout on the job), then deletes the lock; so while the lock can still
    expire on its own, the attempt is over. A worker that dies (SIGKILL, OOM, power) never deletes it:
    the lock expires, the next worker to poll starts the job again (arq's try 2 of the same job id, still
    holding the row's claim), and the receiver dedupes on the delivery id. Hence
    crash_recovery_seconds >= job_timeout_seconds + RECOVERY_MARGIN_SECONDS, by default 10 + 2 = 12 s
    (arq's own rule, the longest timeout + 10 s, made a worker wait ~41 s with a 30 s timeout).
    The outbox sweeper's lease (`stale_after_seconds`) is the backstop beyond arq: a row in flight that
    long since its claim is re-queued as a new attempt, so it must exceed the longest a claimed row waits
    in the queue plus `crash_recovery_seconds`.
    """

    concurrency: int = 16  # in-process deliveries running at once (embedded mode)
    # One delivery attempt, every party call of it included. Party calls answer in well under a second
    # normally; a party slower than this times out and is retried on the schedule. Raising it raises the
    # crash recovery time with it.
    job_timeout_seconds: float = Field(default=10.0, gt=0)
    # How soon a dead worker's deliveries run again on another worker (the in-progress lock's expiry);
    # None: job_timeout_seconds + RECOVERY_MARGIN_SECONDS. A smaller value is refused (see above).
    crash_recovery_seconds: float | None = Field(default=None, gt=0)
    # An in_flight row older than this is assumed orphaned (its worker died or its job vanished from Redis)
    # and re-queued as a new attempt; more than crash_recovery_seconds, or more is refused.
    stale_after_seconds: float = 90.0
    sweep_interval_seconds: float = 15.0
    # Delivered outbox rows older than this move to outbox_archive (the sweeper, in small batches), so the
    # dispatcher's and providers' tables stay the size of recent work; a case's utility jobs still show.
    outbox_retention_days: float = Field(default=30, ge=1)
    poll_interval_seconds: float = 1.0  # how often the dispatcher looks for rows that became due
    # How often the dispatcher's process chains committed audit rows: a row's window unsealed (audit_chain).
    audit_seal_interval_seconds: float = 1.0
    arq_queue: str = "gateway:deliveries"
    arq_max_jobs: int = 100  # arq's default 10 with poll_delay 0.5 s caps a worker near 200 jobs/s
    arq_poll_delay_seconds: float = 0.05

    @model_validator(mode="after")
    def _recovery_outlasts_an_attempt(self) -> JobSettings:
        least = self.job_timeout_seconds + RECOVERY_MARGIN_SECONDS
        if self.crash_recovery_seconds is None:
            self.crash_recovery_seconds = least
        elif self.crash_recovery_seconds < least:
            raise ValueError(
                f"crash_recovery_seconds ({self.crash_recovery_seconds:g}) must be at least job_timeout_seconds"
                f" + {RECOVERY_MARGIN_SECONDS:g} ({least:g}): a live worker's attempt could still be running"
                " when its lock expired, and a second worker would start it"
            )
        if self.stale_after_seconds <= self.crash_recovery_seconds:
            raise ValueError(
                f"stale_after_seconds ({self.stale_after_seconds:g}) must exceed crash_recovery_seconds"
                f" ({self.crash_recovery_seconds:g}): the sweeper would re-queue a row whose attempt is still"
                " running, and a second worker would deliver it at the same time"
            )
        return self

    @property
    def recovery_seconds(self) -> float:
        """`crash_recovery_seconds` as in force (derived from the job timeout when not given)."""
        return self.crash_recovery_seconds or self.job_timeout_seconds + RECOVERY_MARGIN_SECONDS


class AuditSettings(BaseModel):
    """Checking the audit log: which checkpoint key is trusted and how fresh the newest checkpoint must be."""

    # The trusted public key (PEM) of the checkpoint signer, kept outside the database. When set (or passed
    # as `--public-key`, or present as DATA_DIR/keys/audit-checkpoint.pub.pem), `gateway audit verify`
    # fails without a checkpoint or with one older than checkpoint_max_age_hours.
    checkpoint_public_key: Path | None = None
    # Checkpoints are taken daily (cron); an hour's grace. Rows after the newest checkpoint can be cut unseen.
    checkpoint_max_age_hours: float = Field(default=25.0, gt=0)


class InstitutionSettings(BaseModel):
    """A bank or developer known to the registry: the name and credit code the register records for it."""

    name: str
    credit_code: CreditCode  # GB 32100, check character verified: a typo here would refuse every case
    # A bank needs an adapter (its loan checks and notices go through it); a developer submits filings only.
    kind: Literal["bank", "developer"] = "bank"


# The SM2 implementations `certs.backends` knows (certs.backends.PREFERENCE).
CryptoBackendName = Literal["tongsuopy", "gmssl_pyx", "gmssl"]
# GM/T 0009-2012 §10's default signer ID: the one appendix A of the interface contract, the e-licence
# signatures and every party's `openssl -sigopt distid:` use. A deployment-wide other ID would break every
# party, so it is not configurable; GW_SIGNER_ID is validated (anything else is refused, never ignored).
SignerId = Literal["1234567812345678"]


class CryptoSettings(BaseSettings):
    """The SM2 settings every command honours; `gw-certs` reads only these (GW_CRYPTO_BACKEND, GW_SIGNER_ID)."""

    model_config = SettingsConfigDict(env_prefix="GW_", extra="ignore")

    # None picks the fastest installed backend; "tongsuopy", "gmssl_pyx" or "gmssl" forces one.
    crypto_backend: CryptoBackendName | None = None
    signer_id: SignerId = "1234567812345678"


class Settings(CryptoSettings):
    """Everything configurable. Tests build it directly: `Settings(database_url=...)`."""

    model_config = SettingsConfigDict(env_prefix="GW_", env_nested_delimiter="__", extra="forbid")

    # "production" refuses to start on unsafe settings (gateway.config_checks); "development" warns.
    env: Literal["development", "production"] = "development"
    # Where the embedded default keeps its database, keys and certificate files.
    data_dir: Path = Path("var")
    # The blob store's directory (materials, certificate PDFs, named by SM3: gateway.blobs); default
    # data_dir/blobs. Several gateway nodes share one volume here.
    blob_dir: Path | None = None
    # sqlite+aiosqlite:///path (embedded default) or postgresql+asyncpg://user@host/db (production)
    database_url: str | None = None
    # redis://127.0.0.1:6379/0 turns on arq workers; None runs jobs in-process (embedded mode)
    redis_url: str | None = None

    http_host: str = "127.0.0.1"
    http_port: int = 8080
    # "host:port" to serve /metrics on its own (operations network) instead of on the public port
    metrics_address: str | None = Field(default=None, pattern=r"^[^\s:]+:\d{1,5}$")
    # Base of the public verification URL printed in QR codes
    public_base_url: str = "http://127.0.0.1:8080"

    registry: RegistrySettings = Field(default_factory=RegistrySettings)
    # How often a running process looks whether `gateway calendar load` changed the stored year tables (one
    # tiny query then; the tables are re-read only when they changed).
    calendar_check_seconds: float = Field(default=2.0, ge=0)

    # A file whose first line decrypts data_dir/registry/registry.key (OpenSSL's `-passin file:` rule), e.g.
    # a systemd credential (deploy/systemd): the registry key is encrypted at rest in production.
    registry_key_password_file: Path | None = None

    request_skew_seconds: int = 300
    # SM4 keys for personal data at rest: key id -> 32 hex chars (16 bytes). Created in data_dir on first
    # run in the embedded mode; given explicitly in production.
    pii_keys: dict[str, SecretStr] = Field(default_factory=dict)
    pii_current_key_id: str | None = None
    pii_index_key: SecretStr | None = None

    # Participant code → institution (banks and developers that submit cases), e.g. {"icbc-dg": {...}}
    institutions: dict[str, InstitutionSettings] = Field(default_factory=dict)

    # --- adapters: code -> {"adapter": "import.path:Class", ...its own validated settings} ---
    # A TOML file of every party (gateway.parties_file; config/parties.sample.toml): a bank's entry gives
    # its institution and its adapter at once. Entries in GW_INSTITUTIONS/GW_BANKS/… override it by code.
    parties_file: Path | None = None
    banks: dict[str, dict[str, Any]] = Field(default_factory=dict)
    tax: dict[str, Any] = Field(default_factory=dict)
    utilities: dict[str, dict[str, Any]] = Field(default_factory=dict)

    api: ApiSettings = Field(default_factory=ApiSettings)
    jobs: JobSettings = Field(default_factory=JobSettings)
    audit: AuditSettings = Field(default_factory=AuditSettings)

    log_json: bool = True
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    # The event loop of the gateway's commands: uvloop when installed ("auto"), ~4 % less CPU per signed
    # submission here; "asyncio" for the standard library's.
    event_loop: Literal["auto", "uvloop", "asyncio"] = "auto"

    @field_validator("log_level", mode="before")
    @classmethod
    def _level_upper_case(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _read_parties_file(self) -> Settings:
        if self.parties_file is None:
            return self
        from gateway.parties_file import read_parties_file

        found = read_parties_file(self.parties_file)
        self.institutions = {
            **{code: InstitutionSettings.model_validate(entry) for code, entry in found.institutions.items()},
            **self.institutions,
        }
        self.banks = {**found.banks, **self.banks}
        self.tax = self.tax or found.tax
        self.utilities = {**found.utilities, **self.utilities}
        return self

    def effective_blob_dir(self) -> Path:
        return self.blob_dir if self.blob_dir is not None else self.data_dir / "blobs"

    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'gateway.db').as_posix()}"

    @property
    def is_embedded(self) -> bool:
        """Embedded mode: SQLite and in-process jobs (a user's first run)."""
        return self.redis_url is None
