"""The registry refuses, at start-up and naming the entry, every configuration that would fail later."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

import certs
from adapters.base import AdapterContext
from adapters.registry import build_adapters, check_against_port
from gateway.errors import ConfigError, NotFound
from gateway.parties_file import read_parties_file
from gateway.ports import BankCoreSystem, TaxBureau
from sandbox.parties import BANKS_BY_CODE, REFORM_BANKS, TAX
from tests.adapters.conftest import SAMPLE_CONFIG, configured_banks


@pytest.fixture
def issued(ca: certs.CertificateAuthority) -> dict[str, certs.Certificate]:
    """A certificate from the test CA for every party of the sample configuration."""
    codes = [*BANKS_BY_CODE, "tax-dg"]
    return {
        code: ca.issue(certs.SM2PrivateKey.generate().public_key, code, "tax" if code == "tax-dg" else "bank")
        for code in codes
    }


def entry(code: str, issued: dict[str, certs.Certificate], **changes: Any) -> dict[str, Any]:
    base = {
        "adapter": "adapters.banks.soap_retcode:RetCodeSoapBank",
        "endpoint": "https://bank.example.cn/services/LoanContractService",
        "certificate_pem": issued[code].pem.decode(),
    }
    return {**base, **changes}


def refused(banks: dict[str, Any], context: AdapterContext, tax: dict[str, Any] | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        build_adapters(banks, tax, context)
    return caught.value


def test_the_sample_configuration_lists_the_17_banks_of_the_reform_on_four_wire_formats() -> None:
    configured = configured_banks()
    assert list(configured) == [bank.code for bank in REFORM_BANKS]
    assert {code: e["adapter"] for code, e in configured.items()} == {b.code: b.adapter for b in REFORM_BANKS}
    names = {e["name"] for e in configured.values()}
    for bank in (
        "工商银行",
        "农业银行",
        "中国银行",
        "建设银行",
        "交通银行",
        "邮政储蓄银行",
        "招商银行",
        "中信银行",
        "光大银行",
        "民生银行",
        "浦东发展银行",
        "兴业银行",
        "广发银行",
        "平安银行",
        "华夏银行",
        "东莞银行",
        "东莞农村商业银行",
    ):
        assert any(bank in name for name in names), bank
    formats = {e["adapter"].split(":")[0].rsplit(".", 1)[1] for e in configured.values()}
    assert {"soap_retcode", "soap_esb", "rest_envelope", "rest_resource"} <= formats


def test_the_whole_sample_configuration_builds_with_its_certificate_files(
    tmp_path: Path, issued: dict[str, certs.Certificate], context: AdapterContext
) -> None:
    config = tmp_path / "banks.toml"
    config.write_text(SAMPLE_CONFIG.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "parties").mkdir()
    for code, certificate in issued.items():
        (tmp_path / "parties" / f"{code}.pem").write_bytes(certificate.pem)
    parties = read_parties_file(config)
    banks, tax = parties.banks, parties.tax
    assert banks["icbc-dg"]["certificate_file"] == str(tmp_path / "parties" / "icbc-dg.pem")
    adapters = build_adapters(banks, tax, context)  # validated and checked; nothing started
    assert len(adapters.banks) == 17 and adapters.tax_bureau().party == "tax-dg"
    assert adapters.bank("dgrcb").party == "dgrcb"


def test_an_unknown_module_or_class_names_the_entry(
    issued: dict[str, certs.Certificate], context: AdapterContext
) -> None:
    error = refused({"icbc-dg": entry("icbc-dg", issued, adapter="adapters.banks.nowhere:Bank")}, context)
    assert "banks.icbc-dg" in error.message_en and "nowhere" in error.message_en
    error = refused(
        {"icbc-dg": entry("icbc-dg", issued, adapter="adapters.banks.soap_retcode:Nope")}, context
    )
    assert "has no class Nope" in error.message_en


def test_invalid_settings_name_the_entry_and_the_field(
    issued: dict[str, certs.Certificate], context: AdapterContext
) -> None:
    error = refused({"icbc-dg": entry("icbc-dg", issued, endpoint="not a url")}, context)
    assert "banks.icbc-dg" in error.message_en and "endpoint" in error.message_en
    error = refused({"icbc-dg": entry("icbc-dg", issued, timeout_second=3)}, context)  # a typo is not ignored
    assert "timeout_second" in error.message_en
    error = refused({"dgrcb": entry("dgrcb", issued, adapter="adapters.banks.dgrcb:DgrcbAdapter")}, context)
    assert "branch_no" in error.message_en  # the bank module's own setting is required


def test_a_certificate_of_another_party_is_refused(
    issued: dict[str, certs.Certificate], context: AdapterContext
) -> None:
    wrong = entry("icbc-dg", issued, certificate_pem=issued["abc-dg"].pem.decode())
    error = refused({"icbc-dg": wrong}, context)
    assert "abc-dg" in error.message_en


def test_a_certificate_of_another_kind_of_party_is_refused(
    ca: certs.CertificateAuthority, issued: dict[str, certs.Certificate], context: AdapterContext
) -> None:
    utility = ca.issue(certs.SM2PrivateKey.generate().public_key, "icbc-dg", "utility")
    error = refused({"icbc-dg": entry("icbc-dg", issued, certificate_pem=utility.pem.decode())}, context)
    assert "'utility', not a 'bank'" in error.message_en
    bank_as_tax = ca.issue(certs.SM2PrivateKey.generate().public_key, "tax-dg", "bank")
    tax = {"code": "tax-dg", "adapter": TAX, "base_url": "https://etax.example.cn/"}
    refused({}, context, {**tax, "certificate_pem": bank_as_tax.pem.decode()})


def test_a_revoked_or_foreign_certificate_is_refused(
    ca: certs.CertificateAuthority, issued: dict[str, certs.Certificate], context: AdapterContext
) -> None:
    revoked = ca.issue(certs.SM2PrivateKey.generate().public_key, "cib-dg", "bank")
    ca.revoke(revoked.serial, "keyCompromise")
    error = refused({"cib-dg": entry("cib-dg", issued, certificate_pem=revoked.pem.decode())}, context)
    assert "cib-dg" in error.message_en
    other_ca = certs.CertificateAuthority.create("Somebody Else")
    foreign = other_ca.issue(certs.SM2PrivateKey.generate().public_key, "cib-dg", "bank")
    refused({"cib-dg": entry("cib-dg", issued, certificate_pem=foreign.pem.decode())}, context)


def test_the_tax_entry_needs_its_participant_code(
    issued: dict[str, certs.Certificate], context: AdapterContext
) -> None:
    tax = {
        "adapter": TAX,
        "base_url": "https://etax.example.cn/",
        "certificate_pem": issued["tax-dg"].pem.decode(),
    }
    error = refused({}, context, tax)
    assert "code" in error.message_en
    assert build_adapters({}, {**tax, "code": "tax-dg"}, context).tax_bureau().party == "tax-dg"


class SyncNotify:
    """A would-be bank adapter whose notify is not async."""

    @property
    def party(self) -> str:
        return "x"

    async def confirm_contracts(self, check: object) -> object: ...

    def notify(self, notification: object) -> object: ...

    async def release_loan(self, notice: object) -> object: ...

    async def confirm_settlement(self, check: object) -> object: ...


class NoSettlement:
    @property
    def party(self) -> str:
        return "x"

    async def confirm_contracts(self, check: object) -> object: ...

    async def notify(self, notification: object) -> object: ...

    async def release_loan(self, notice: object) -> object: ...


def test_a_class_that_does_not_fit_its_port_is_refused() -> None:
    with pytest.raises(ConfigError, match="notify must be async"):
        check_against_port("banks.x", SyncNotify, BankCoreSystem)
    with pytest.raises(ConfigError, match="lacks confirm_settlement"):
        check_against_port("banks.x", NoSettlement, BankCoreSystem)
    with pytest.raises(ConfigError, match="lacks assess"):
        check_against_port("tax.x", NoSettlement, TaxBureau)


async def test_the_adapters_start_and_close_with_the_aiohttp_application(
    issued: dict[str, certs.Certificate], context: AdapterContext
) -> None:
    adapters = build_adapters({"icbc-dg": entry("icbc-dg", issued)}, None, context)
    bank = adapters.bank("icbc-dg")
    app = web.Application()
    app.cleanup_ctx.append(adapters.cleanup_ctx)
    runner = web.AppRunner(app)
    await runner.setup()  # start-up: sessions opened and the WSDL parsed, without any network
    assert bank.client._service is not None and not bank.client._http.session.closed  # type: ignore[attr-defined]
    session = bank.client._http.session  # type: ignore[attr-defined]
    await runner.cleanup()
    assert session.closed
    with pytest.raises(NotFound):
        adapters.bank("nobody")
