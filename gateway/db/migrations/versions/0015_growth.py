"""growth: outbox archive and retention index; materials and certificate files out to the blob store

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 09:00:00.000000

Delivered outbox rows past the retention move to `outbox_archive` (the sweeper, gateway.db.retention); a
partial index of the delivered rows by age lets it pick them without reading the open ones.

Materials (`case_material.content`) and certificate PDFs (`certificate.pdf`) move to the blob store
(gateway.blobs, named by SM3): each row's bytes are written there (fsynced) before its column is dropped, so
an interrupted run is simply run again. A material's name is its recorded `sm3`; a certificate gets
`pdf_ref` and `pdf_size`. The blob directory is handed over by `gateway migrate` (GW_BLOB_DIR, default
GW_DATA_DIR/blobs). The downgrade reads the bytes back into the tables.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import context, op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_DELIVERED = "status = 'delivered'"
_BATCH = 200  # rows of up to 10 MiB each: memory stays bounded
_MATERIAL = sa.table(
    "case_material",
    sa.column("id", sa.String()),
    sa.column("sm3", sa.String()),
    sa.column("content", sa.LargeBinary()),
)
_CERTIFICATE = sa.table(
    "certificate",
    sa.column("number", sa.String()),
    sa.column("pdf", sa.LargeBinary()),
    sa.column("pdf_ref", sa.String()),
    sa.column("pdf_size", sa.Integer()),
)


def _blobs() -> Any:
    from gateway.blobs import DirectoryBlobStore

    handed_over = context.config.attributes.get("blob_dir")
    if handed_over is not None:
        return DirectoryBlobStore(Path(handed_over))
    from gateway.settings import Settings

    return DirectoryBlobStore(Settings().effective_blob_dir())


def _batches(table: Any, key: Any, *columns: Any, where: Any) -> Iterator[list[Any]]:
    bind = op.get_bind()
    last = ""
    while True:
        rows = bind.execute(
            sa.select(key, *columns).where(key > last, where).order_by(key).limit(_BATCH)
        ).all()
        if not rows:
            return
        yield list(rows)
        last = rows[-1][0]


def upgrade() -> None:
    _upgrade_outbox()
    _upgrade_indexes()
    blobs: list[Any] = []  # made on first use: a database without files needs no blob directory

    def store() -> Any:
        if not blobs:
            blobs.append(_blobs())
        return blobs[0]

    for rows in _batches(_MATERIAL, _MATERIAL.c.id, _MATERIAL.c.sm3, _MATERIAL.c.content, where=sa.true()):
        for _id, sm3, content in rows:
            if store().put_sync(bytes(content)) != sm3:
                raise RuntimeError(f"case_material {_id}: its bytes do not match its recorded SM3 {sm3}")
    with op.batch_alter_table("case_material", schema=None) as batch_op:
        batch_op.drop_column("content")
    with op.batch_alter_table("certificate", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pdf_ref", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("pdf_size", sa.Integer(), nullable=True))
    bind = op.get_bind()
    number = _CERTIFICATE.c.number
    for rows in _batches(_CERTIFICATE, number, _CERTIFICATE.c.pdf, where=_CERTIFICATE.c.pdf.is_not(None)):
        for key, pdf in rows:
            ref = store().put_sync(bytes(pdf))
            bind.execute(sa.update(_CERTIFICATE).where(number == key).values(pdf_ref=ref, pdf_size=len(pdf)))
    with op.batch_alter_table("certificate", schema=None) as batch_op:
        batch_op.drop_column("pdf")


def _upgrade_indexes() -> None:
    op.create_index("ix_case_record_state_deadline", "case_record", ["state", "deadline_at"], unique=False)
    op.create_index(
        "ix_case_record_state_bank_deadline",
        "case_record",
        ["state", "submitted_by", "deadline_at"],
        unique=False,
    )
    op.create_index("ix_certificate_identifier", "certificate", ["identifier"], unique=False)


def _upgrade_outbox() -> None:
    op.create_table(
        "outbox_archive",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("job", sa.String(length=100), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("case_id", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_by", sa.String(length=100), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_http_status", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_archive")),
    )
    op.create_index("ix_outbox_archive_case", "outbox_archive", ["case_id", "created_at"], unique=False)
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbox_delivered_at",
            ["delivered_at"],
            unique=False,
            postgresql_where=sa.text(_DELIVERED),
            sqlite_where=sa.text(_DELIVERED),
        )


def downgrade() -> None:
    op.drop_index("ix_certificate_identifier", table_name="certificate")
    op.drop_index("ix_case_record_state_bank_deadline", table_name="case_record")
    op.drop_index("ix_case_record_state_deadline", table_name="case_record")
    blobs = _blobs()
    bind = op.get_bind()
    with op.batch_alter_table("certificate", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pdf", sa.LargeBinary(), nullable=True))
    number = _CERTIFICATE.c.number
    refs = _CERTIFICATE.c.pdf_ref
    for rows in _batches(_CERTIFICATE, number, refs, where=refs.is_not(None)):
        for key, ref in rows:
            bind.execute(sa.update(_CERTIFICATE).where(number == key).values(pdf=blobs.get_sync(ref)))
    with op.batch_alter_table("certificate", schema=None) as batch_op:
        batch_op.drop_column("pdf_size")
        batch_op.drop_column("pdf_ref")
    with op.batch_alter_table("case_material", schema=None) as batch_op:
        batch_op.add_column(sa.Column("content", sa.LargeBinary(), nullable=True))
    for rows in _batches(_MATERIAL, _MATERIAL.c.id, _MATERIAL.c.sm3, where=sa.true()):
        for key, sm3 in rows:
            bind.execute(
                sa.update(_MATERIAL).where(_MATERIAL.c.id == key).values(content=blobs.get_sync(sm3))
            )
    with op.batch_alter_table("case_material", schema=None) as batch_op:
        batch_op.alter_column("content", existing_type=sa.LargeBinary(), nullable=False)
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_delivered_at")
    op.drop_index("ix_outbox_archive_case", table_name="outbox_archive")
    op.drop_table("outbox_archive")
