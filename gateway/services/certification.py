"""缮证 and 换发: render, sign and store a case's certificates, mark it CERTIFIED, deliver them to its bank.

The `certificate.issue` job (written at 登簿) runs `Certification.issue_case`:

1. every certificate row of the case still without a file is built from the register, rendered and signed
   off the event loop, put in the blob store, and named in a transaction of its own — `UPDATE … WHERE
   pdf_ref IS NULL`, so a
   second run (a retry, or a worker the sweeper thought dead) never replaces a stored certificate;
2. one transaction then moves the case REGISTERED → CERTIFIED and writes one `bank.notify`
   (`certificate_issued`) outbox row per certificate. A case already CERTIFIED is left alone, so a re-run
   after a crash does only what is missing and never delivers twice.

A re-issue (换发 / 补发) takes a new number (一证一号), voids the old one, bumps the identifier's version
and writes its own `certificate.issue` row ({number, replaces, reason}) in the same transaction, so a crash
before its file is stored is finished by the job. The transaction that stores the new file also writes its
delivery to the case's bank (`certificate_issued`, with the number it replaces).
"""

from __future__ import annotations

import asyncio
import secrets
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import CursorResult, insert, select, update

import certs
from e_license import (
    CertificateKind,
    CertificateNumber,
    LicenseIdentifier,
    NumberFormat,
    identifier_for,
    issue_async,
)
from gateway.domain.register import Entry, EntryKind, RegisterView, Unit
from gateway.domain.workflow import Case, CaseState
from gateway.errors import ConfigError, Conflict, FieldReason, InputError, NotFound
from gateway.logging import get_logger
from gateway.metrics import observe_case_stage, observe_time_to_certificate
from gateway.ports.banks import CaseEvent
from gateway.services import effects
from gateway.services.certificate_content import Issuance, Reissue, build_content
from gateway.services.context import ServiceContext
from gateway.services.registration import notify_bank
from gateway.services.store import ENTRY, UNIT, Store
from gateway.services.store_certificates import CERTIFICATE

if TYPE_CHECKING:
    from gateway.db.tables.infra import OutboxRow
    from gateway.jobs.registry import JobContext, JobHandler

__all__ = ["Certification", "RegistrySeal", "certification_handlers", "new_qr_token"]

log = get_logger(__name__)
ACTOR = "registry"
QR_TOKEN_BYTES = 24  # → 32 URL-safe characters: unguessable, short enough for a small QR code


def new_qr_token() -> str:
    """The token in a certificate's verification URL: random, carrying no personal data."""
    return secrets.token_urlsafe(QR_TOKEN_BYTES)


@dataclass(frozen=True)
class RegistrySeal:
    """The registry's signing key and certificate, where QR codes point, and where rendering runs.

    `executor` renders the PDFs (None: the event loop's default thread pool; a process pool spreads
    rendering over the cores — reportlab holds the GIL). Signing runs in certs' crypto pool.
    """

    key: certs.SM2PrivateKey
    certificate: certs.Certificate
    public_base_url: str
    executor: Executor | None = None
    seal_image: bytes | None = None  # PNG or SVG drawn over 登记机构（章）, inside the signed bytes

    def __post_init__(self) -> None:
        # A wrong pairing is a start-up error, not a surprise at the first 缮证.
        if self.certificate.party_kind != ACTOR or (
            self.key.public_key.to_der() != self.certificate.public_key.to_der()
        ):
            raise ConfigError(
                "the certificate-signing key must be the registry's, with its registry certificate",
                "电子证照签名密钥须为登记机构密钥，并与登记机构证书匹配",
            )

    def verification_url(self, qr_token: str) -> str:
        return f"{self.public_base_url.rstrip('/')}/public/verify/{qr_token}"


@dataclass(frozen=True)
class _Pending:
    """A certificate row as 缮证 needs it (without the file)."""

    number: str
    kind: str
    entry_id: str
    case_id: str | None
    unit_code: str
    holder_masked: str
    status: str
    identifier: str | None
    issued_at: datetime | None
    issued: bool


_PENDING_COLUMNS = (
    CERTIFICATE.c.number,
    CERTIFICATE.c.kind,
    CERTIFICATE.c.entry_id,
    CERTIFICATE.c.case_id,
    CERTIFICATE.c.unit_code,
    CERTIFICATE.c.holder_masked,
    CERTIFICATE.c.status,
    CERTIFICATE.c.identifier,
    CERTIFICATE.c.issued_at,
    CERTIFICATE.c.pdf_ref.is_not(None).label("issued"),
)


@dataclass
class Certification:
    """缮证 (issue), 换发/补发 (re-issue) and the `certificate.issue` job handler."""

    services: ServiceContext  # its `wake` starts the bank deliveries as soon as they are committed
    seal: RegistrySeal

    def handlers(self) -> dict[str, JobHandler]:
        return {effects.CERTIFICATE_ISSUE: self.run_issue_job}

    @property
    def _format(self) -> NumberFormat:
        return NumberFormat.for_registry(self.services.registry)

    async def run_issue_job(self, _ctx: JobContext, row: OutboxRow) -> None:
        payload = row.payload
        if "number" in payload:  # a re-issue: just that certificate
            replaces = payload.get("replaces")
            reissue = (
                Reissue(replaces, payload.get("reason", ""), bool(payload.get("lost"))) if replaces else None
            )
            await self.issue_one(str(payload["number"]), reissue)
            return
        await self.issue_case(str(payload["case_id"]))

    async def issue_case(self, case_id: str) -> list[str]:
        """缮证 for one case; returns the numbers this run rendered (empty when all were done before)."""
        async with self.services.reading() as store:
            rows = await _case_certificates(store, case_id)
        issued = [row.number for row in rows if not row.issued and await self.issue_one(row.number)]
        await self._certify(case_id)
        return issued

    async def issue_one(self, number: str, reissue: Reissue | None = None) -> bool:
        """Render, sign and store one certificate; False if it already had its file (nothing changed)."""
        registry = self.services.registry
        async with self.services.reading() as store:
            row = await _certificate(store, number)
            if row.issued:
                return False
            entry, unit, ownership_number = await _register_facts(store, row)
            case = await store.load_case(row.case_id) if row.case_id else None
        now = self.services.clock()
        parsed = self._format.parse(number)
        identifier = (
            LicenseIdentifier.parse(row.identifier) if row.identifier else identifier_for(parsed, registry)
        )
        token = new_qr_token()
        issuance = Issuance(
            number=parsed,
            identifier=identifier,
            issue_date=now.astimezone(self.services.calendar.tz).date(),
            verification_url=self.seal.verification_url(token),
            registry=registry,
            reissue=reissue,
            seal=self.seal.seal_image,
        )
        content = build_content(issuance, entry, unit, case, ownership_number)
        signed = await issue_async(content, self.seal.key, self.seal.certificate, self.seal.executor)
        loop = asyncio.get_running_loop()
        distributable = await loop.run_in_executor(self.seal.executor, signed.distributable)
        ofd = signed.distributable_ofd()
        # The file is in the blob store before the row names it; a run that loses the race below stored the
        # same kind of file under another name, which no row names (blobs are kept, never deleted).
        pdf_ref = await self.services.blobs.put(distributable)
        async with self.services.unit_of_work() as (uow, store):
            result = await store.session.execute(
                update(CERTIFICATE)
                .where(CERTIFICATE.c.number == number, CERTIFICATE.c.pdf_ref.is_(None))
                .values(
                    pdf_ref=pdf_ref,
                    pdf_size=len(distributable),
                    sm3=signed.sm3_hex,
                    file_sm3=certs.sm3_hex(distributable),
                    ofd=ofd or None,
                    ofd_sm3=signed.ofd_sm3_hex or None,
                    ofd_signature=signed.ofd_signature or None,
                    signature=signed.signature,
                    identifier=str(identifier),
                    version=identifier.version,
                    qr_token=token,
                    issued_at=now,
                )
            )
            stored = cast(CursorResult[Any], result).rowcount == 1
            if stored:
                uow.audit(
                    actor=ACTOR,
                    action="certificate.issued",
                    subject=f"certificate:{number}",
                    case_id=row.case_id,
                    details={
                        "identifier": str(identifier),
                        "sm3": signed.sm3_hex,
                        "bytes": len(distributable),
                    },
                )
                if reissue is not None and case is not None:
                    # The bank that holds the old file gets the new one; only the run that stored the
                    # file writes this, so it goes out once however often the job is retried.
                    notify_bank(
                        uow,
                        case,
                        CaseEvent.CERTIFICATE_ISSUED,
                        certificate_number=number,
                        replaces=reissue.replaces,
                    )
        if stored:
            log.info("certificate issued", number=number, case_id=row.case_id, bytes=len(distributable))
        return stored

    async def _certify(self, case_id: str) -> None:
        """REGISTERED → CERTIFIED and the deliveries to the bank, in one transaction."""
        now = self.services.clock()
        async with self.services.unit_of_work() as (uow, store):
            case = await store.load_case(case_id)
            if case.state is not CaseState.REGISTERED:
                return
            rows = await _case_certificates(store, case_id)
            missing = [row.number for row in rows if not row.issued]
            if missing:
                raise Conflict(
                    f"certificates {', '.join(missing)} have no file yet; 缮证 is retried",
                    f"证书 {'、'.join(missing)} 尚未生成，缮证将重试",
                )
            case.move(CaseState.CERTIFIED, actor=ACTOR, at=now)
            numbers = [row.number for row in rows]
            uow.audit(
                actor=ACTOR,
                action="case.certified",
                subject=f"case:{case.id}",
                case_id=case.id,
                details={"certificates": numbers},
            )
            for number in numbers:
                notify_bank(uow, case, CaseEvent.CERTIFICATE_ISSUED, certificate_number=number)
            await store.save_case(case, now)
        _observe_registered_stage(case, now)

    async def reissue(self, number: str, *, actor: str, reason: str, lost: bool = False) -> str:
        """换发 (or 补发 when `lost`): a new number and file for a valid certificate; the old one is voided.

        The identifier keeps its serial and takes the next version; the register entry now names the new
        number, so later cases quote it. Returns the new number.
        """
        if not reason.strip():
            raise InputError(
                "a reason is required for a re-issue",
                "换发/补发须填写原因",
                [FieldReason("reason", "须填写原因", "a reason is required")],
            )
        registry, fmt = self.services.registry, self._format
        old_number = fmt.format(fmt.parse(number))  # either bracket width, printed the registry's way
        now = self.services.clock()
        async with self.services.unit_of_work() as (uow, store):
            old = await _certificate(store, old_number, lock=True)
            if old.status != "valid":
                raise Conflict(
                    f"certificate {old_number} is {old.status}; only a valid certificate can be re-issued",
                    f"证书 {old_number} 已{'注销' if old.status == 'cancelled' else '作废'}，不能换发",
                )
            if old.issued_at is None:
                raise Conflict(
                    f"certificate {old_number} has not been issued yet",
                    f"证书 {old_number} 尚未缮证，不能换发",
                )
            kind = CertificateKind(old.kind)
            year = now.astimezone(self.services.calendar.tz).year
            seq = await store.next_number(registry.admin_code, year, kind.value)
            new = CertificateNumber.for_registry(registry, kind, year, seq)
            new_number = fmt.format(new)
            identifier = (
                LicenseIdentifier.parse(old.identifier).next_version()
                if old.identifier
                else identifier_for(new, registry)  # a paper certificate's first electronic version
            )
            await store.session.execute(
                update(CERTIFICATE)
                .where(CERTIFICATE.c.number == old_number)
                .values(status="void", status_changed_at=now)
            )
            await store.session.execute(
                insert(CERTIFICATE).values(
                    number=new_number,
                    kind=old.kind,
                    entry_id=old.entry_id,
                    case_id=old.case_id,
                    unit_code=old.unit_code,
                    holder_masked=old.holder_masked,
                    status="valid",
                    identifier=str(identifier),
                    version=identifier.version,
                )
            )
            await store.session.execute(
                update(ENTRY)
                .where(ENTRY.c.id == old.entry_id, ENTRY.c.certificate_number == old_number)
                .values(certificate_number=new_number)
            )
            uow.audit(
                actor=actor,
                action="certificate.reissued",
                subject=f"certificate:{old_number}",
                case_id=old.case_id,
                details={
                    "new_number": new_number,
                    "identifier": str(identifier),
                    "reason": reason,
                    "lost": lost,
                },
            )
            uow.outbox(
                job=effects.CERTIFICATE_ISSUE,
                target=effects.REGISTRY,
                payload={"number": new_number, "replaces": old_number, "reason": reason, "lost": lost},
                case_id=old.case_id,
            )
        # Rendered here so the caller gets the file at once; the job above only finishes a crashed run.
        await self.issue_one(new_number, Reissue(old_number, reason, lost))
        return new_number


def certification_handlers(services: ServiceContext, seal: RegistrySeal) -> dict[str, JobHandler]:
    """The job handlers to register in the container's JobRegistry: `certificate.issue`."""
    return Certification(services, seal).handlers()


def _observe_registered_stage(case: Case, now: datetime) -> None:
    observe_time_to_certificate(case.kind.value, (now - case.received_at).total_seconds())
    if case.registered_at is not None:
        observe_case_stage(case.kind.value, "registered", (now - case.registered_at).total_seconds())


async def void_certificate(services: ServiceContext, number: str, *, actor: str, reason: str) -> str:
    """作废: a valid certificate found wrongly issued (or a paper one withdrawn) is void from now on, with its
    reason; the register entry it proves is not touched (that is a 更正 or a case of its own). Public
    verification answers 已作废 at once. Returns the number as the registry prints it."""
    if not reason.strip():
        raise InputError(
            "a reason is required to void a certificate",
            "作废证书须填写原因",
            [FieldReason("reason", "须填写原因", "a reason is required")],
        )
    fmt = NumberFormat.for_registry(services.registry)
    printed = fmt.format(fmt.parse(number))
    now = services.clock()
    async with services.unit_of_work() as (uow, store):
        found = await _certificate(store, printed, lock=True)
        if found.status != "valid":
            raise Conflict(
                f"certificate {printed} is {found.status} already", f"证书 {printed} 已不是有效状态，不能作废"
            )
        await store.session.execute(
            update(CERTIFICATE)
            .where(CERTIFICATE.c.number == printed)
            .values(status="void", status_changed_at=now)
        )
        uow.audit(
            actor=actor,
            action="certificate.voided",
            subject=f"certificate:{printed}",
            case_id=found.case_id,
            details={"reason": reason.strip()},
        )
    return printed


async def _certificate(store: Store, number: str, *, lock: bool = False) -> _Pending:
    stmt = select(*_PENDING_COLUMNS).where(CERTIFICATE.c.number == number)
    if lock and store.dialect == "postgresql":
        stmt = stmt.with_for_update()
    row = (await store.session.execute(stmt)).one_or_none()
    if row is None:
        raise NotFound(f"certificate {number} not found", f"未找到证书 {number}")
    return _Pending(*row)


async def _case_certificates(store: Store, case_id: str) -> list[_Pending]:
    rows = await store.session.execute(
        select(*_PENDING_COLUMNS)
        .where(CERTIFICATE.c.case_id == case_id)
        .order_by(CERTIFICATE.c.kind, CERTIFICATE.c.number)
    )
    return [_Pending(*row) for row in rows]


async def _register_facts(store: Store, row: _Pending) -> tuple[Entry, Unit, str | None]:
    """The entry the certificate proves, its unit, and (for a mortgage) the ownership number it rests on."""
    entries = await store.entries_of(row.unit_code)
    entry = next((e for e in entries if e.id == row.entry_id), None)
    facts = (
        await store.session.execute(select(UNIT.c.facts).where(UNIT.c.unit_code == row.unit_code))
    ).scalar()
    if entry is None or facts is None:
        raise NotFound(
            f"the register entry of certificate {row.number} is missing",
            f"证书 {row.number} 对应的登记簿记载缺失",
        )
    ownership_number = None
    if entry.kind is EntryKind.MORTGAGE:
        # The ownership entry open when the mortgage was recorded (for a transfer with a new mortgage: the
        # buyer's, opened by the same 登簿, while the seller's closed at that very moment).
        standing = [
            e
            for e in entries
            if e.kind is EntryKind.OWNERSHIP
            and e.opened_at <= entry.opened_at
            and (e.closed_at is None or e.closed_at > entry.opened_at)
        ]
        ownership_number = standing[-1].certificate_number if standing else None
    unit = Unit.model_validate(facts)
    if entry.kind is EntryKind.MORTGAGE and entry.is_open:
        # The proof prints the 抵押顺位 the register shows: the mortgage's place among the open mortgages
        # (the stored number orders acceptance; a withdrawn application leaves no hole in the ranks).
        view = RegisterView(unit=unit, entries=[e for e in entries if e.is_open])
        entry = entry.model_copy(update={"rank": view.mortgage_rank(entry)})
    return entry, unit, ownership_number
