"""case_record.receipt_number (受理编号); certificate.file_sm3 and the OFD beside the PDF

Revision ID: 0014
Revises: 0012
Create Date: 2026-12-06 09:00:00.000000

Certificates print it as 业务件号 and the counter receipt shows it. Cases accepted before this revision
keep no number (NULL; the certificate falls back to the case id); new ones take the next number of the
registry's yearly counter (certificate_counter, kind "receipt").

certificate.sm3 is of the signed range; the holder's file has the signature attached after it, so the
verification page shows both, labelled (file_sm3 is NULL for files stored before this revision).
certificate.ofd, ofd_sm3, ofd_signature: the same certificate as OFD (GB/T 33190) with its own detached
signature; NULL for certificates issued before.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("case_record", schema=None) as batch_op:
        batch_op.add_column(sa.Column("receipt_number", sa.String(length=24), nullable=True))
        batch_op.create_index("ix_case_record_receipt", ["receipt_number"], unique=True)
    with op.batch_alter_table("certificate", schema=None) as batch_op:
        batch_op.add_column(sa.Column("file_sm3", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("ofd", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("ofd_sm3", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("ofd_signature", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("certificate", schema=None) as batch_op:
        batch_op.drop_column("ofd_signature")
        batch_op.drop_column("ofd_sm3")
        batch_op.drop_column("ofd")
        batch_op.drop_column("file_sm3")
    with op.batch_alter_table("case_record", schema=None) as batch_op:
        batch_op.drop_index("ix_case_record_receipt")
        batch_op.drop_column("receipt_number")
