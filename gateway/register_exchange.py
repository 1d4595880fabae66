"""The register exchange format (初始数据迁移): one record per unit with its open entries, as JSON Lines or CSV.

A record is the unit as surveyed (`gateway.domain.register.Unit`) and the entries open on it now, each with
its facts (the same shapes a case writes), its certificate number, its mortgage rank and when it was
registered. `config/register.sample.jsonl` is a sample; `register_record_schema()` (and
`gateway register schema`) prints the JSON Schema.

JSON Lines: one record per line, `{"unit": {...}, "entries": [...]}`.
CSV: one record per row; the unit's fields are columns (`developer` as JSON), `entries` one column of JSON.

Every record is checked as a case would be, beyond the shapes: the unit code (GB/T 37346), ID numbers and
credit codes (in the parties' models), certificate numbers against the registry's pattern and the kind of
entry they prove, at most one ownership, mortgage ranks 1…n, terms that end after they start.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gateway.domain.identifiers import validate_unit_code
from gateway.domain.register import EntryFacts, EntryKind, MortgageFacts, Unit
from gateway.errors import InputError

__all__ = [
    "ExchangeEntry",
    "UnitRecord",
    "dump_line",
    "read_records",
    "record_problems",
    "register_record_schema",
]

_UNIT_COLUMNS = list(Unit.model_fields)
_KIND_ORDER = {kind: i for i, kind in enumerate(EntryKind)}


class ExchangeEntry(BaseModel):
    """An entry open on the unit: its facts and the number of the certificate that proves it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    facts: EntryFacts
    certificate_number: str | None = Field(default=None, max_length=64)
    rank: int | None = Field(default=None, ge=1)  # 抵押顺位, for mortgages
    registered_at: datetime  # 登簿时间 (UTC, with its offset)

    def sort_key(self) -> tuple[int, int, str, str]:
        return (
            _KIND_ORDER[self.facts.kind],
            self.rank or 0,
            self.registered_at.isoformat(),
            self.certificate_number or "",
        )


class UnitRecord(BaseModel):
    """One unit and every entry open on it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    unit: Unit
    entries: list[ExchangeEntry] = Field(default_factory=list)


def register_record_schema() -> dict[str, Any]:
    return UnitRecord.model_json_schema()


def record_problems(record: UnitRecord, parse_number: Any) -> list[str]:
    """What makes a well-shaped record unfit for the register (empty when fit). `parse_number` is the
    registry's certificate-number parser (e_license.numbers.NumberFormat.parse)."""
    problems: list[str] = []
    try:
        validate_unit_code(record.unit.unit_code)
    except InputError as exc:
        problems.append(f"unit.unit_code: {exc.errors[0].reason_en} / {exc.errors[0].reason_zh}")
    if sum(e.facts.kind is EntryKind.OWNERSHIP for e in record.entries) > 1:
        problems.append("more than one ownership entry / 所有权记载多于一条")
    numbers = [e.certificate_number for e in record.entries if e.certificate_number]
    if len(numbers) != len(set(numbers)):
        problems.append("a certificate number appears twice / 证书号重复")
    for i, entry in enumerate(record.entries):
        where = f"entries[{i}]"
        if entry.certificate_number:
            try:
                number = parse_number(entry.certificate_number)
            except InputError as exc:
                problems.append(f"{where}.certificate_number: {exc.message_en} / {exc.message_zh}")
            else:
                wanted = "ownership" if entry.facts.kind is EntryKind.OWNERSHIP else "proof"
                if number.kind.value != wanted:
                    name_zh = "不动产权证书" if wanted == "ownership" else "不动产登记证明"
                    problems.append(
                        f"{where}.certificate_number: a {entry.facts.kind.value} entry is proved by a {wanted} "
                        f"number / 该记载应对应{name_zh}号"
                    )
        facts = entry.facts
        if isinstance(facts, MortgageFacts) and facts.term_end < facts.term_start:
            problems.append(f"{where}.facts.term_end: before term_start / 债务履行期限结束早于开始")
    ranks = sorted(e.rank or 0 for e in record.entries if e.facts.kind is EntryKind.MORTGAGE)
    if ranks and ranks != list(range(1, len(ranks) + 1)):
        problems.append(f"mortgage ranks {ranks} are not 1…{len(ranks)} / 抵押顺位须为1至{len(ranks)}")
    return problems


def parse_record(raw: dict[str, Any]) -> UnitRecord:
    """A record from its JSON shape (ValidationError names the field)."""
    return UnitRecord.model_validate(raw)


def dump_line(record: UnitRecord) -> bytes:
    """One JSON Lines line, canonical: keys sorted, entries in a fixed order, so equal registers give equal
    files (the export → import → export round trip compares bytes)."""
    ordered = record.model_copy(update={"entries": sorted(record.entries, key=ExchangeEntry.sort_key)})
    return (
        orjson.dumps(ordered.model_dump(mode="json", exclude_none=True), option=orjson.OPT_SORT_KEYS) + b"\n"
    )


def read_records(name: str, stream: Iterable[str]) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """(line number, the record's JSON shape or why it could not be read) for a `.jsonl` or `.csv` file."""
    if name.lower().endswith(".csv"):
        yield from _read_csv(stream)
        return
    for number, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        try:
            raw = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            yield number, f"not JSON: {exc} / 不是有效的 JSON"
            continue
        yield number, raw if isinstance(raw, dict) else "not a JSON object / 不是 JSON 对象"


# Unit columns that hold a structure: JSON inside the CSV cell (empty: not given).
_JSON_COLUMNS = frozenset({"developer", "land_terms"})


def _read_csv(stream: Iterable[str]) -> Iterator[tuple[int, dict[str, Any] | str]]:
    reader = csv.DictReader(stream)
    missing = {"unit_code", "entries"} - set(reader.fieldnames or [])
    if missing:
        yield 1, f"CSV header lacks {', '.join(sorted(missing))} / CSV 表头缺少 {', '.join(sorted(missing))}"
        return
    for row in reader:
        line = reader.line_num
        try:
            entries = orjson.loads(row.pop("entries") or "[]")
            unit: dict[str, Any] = {
                k: v for k, v in row.items() if k in _UNIT_COLUMNS and v not in ("", None)
            }
            for column in _JSON_COLUMNS & unit.keys():
                unit[column] = orjson.loads(unit[column])
        except orjson.JSONDecodeError as exc:
            yield line, f"a JSON column does not parse: {exc} / JSON 列无法解析"
            continue
        yield line, {"unit": unit, "entries": entries}


def csv_text(records: Iterable[UnitRecord]) -> Iterator[str]:
    """The CSV form of records: a header, then one row each."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*_UNIT_COLUMNS, "entries"])
    yield out.getvalue()
    for record in records:
        out.seek(0)
        out.truncate()
        shape = orjson.loads(dump_line(record))
        unit = shape["unit"]
        writer.writerow(
            [
                orjson.dumps(unit[c], option=orjson.OPT_SORT_KEYS).decode()
                if c in _JSON_COLUMNS and unit.get(c)
                else _cell(unit.get(c) if c not in _JSON_COLUMNS else None)
                for c in _UNIT_COLUMNS
            ]
            + [orjson.dumps(shape.get("entries", []), option=orjson.OPT_SORT_KEYS).decode()]
        )
        yield out.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def explain_validation(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors(include_url=False)
    )
