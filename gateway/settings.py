"""The gateway's configuration: the one place environment variables (prefix `GW_`) are read."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
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


class JobSettings(BaseModel):
    """Outbox delivery: in-process runner, arq worker and sweeper."""

    concurrency: int = 16  # in-process deliveries running at once (embedded mode)
    job_timeout_seconds: float = 30.0  # one delivery attempt; Standard Webhooks suggests 15–30 s
    # An in_flight row older than this is assumed orphaned (its worker died) and re-queued; must exceed
    # job_timeout_seconds so a slow attempt is never run twice at once.
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
