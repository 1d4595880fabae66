"""receipt numbers (受理编号) from a PostgreSQL sequence per registry and year, not a locked counter row;
a submission locks its unit and reads it in one round trip

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 12:00:00.000000

Until now every submission incremented the registry's yearly row in `certificate_counter` (kind "receipt")
inside its transaction, so all submissions queued on that one row lock until commit. On PostgreSQL the
number now comes from `gw_next_receipt(registry, year)`: `nextval` of the sequence `receipt_<registry>_<year>`,
which takes no lock that lasts. The function creates the year's sequence the first time it is asked (starting
after the counter row's `last`, so numbers handed out before this revision are never handed out again).

The SQL is a copy of gateway.db.tables.functions as of this revision (a migration must not change when the
code does).

Receipt numbers may have gaps (a refused or rolled-back submission does not give its number back: a sequence
is not transactional); they are never duplicated. Certificate numbers stay on the counter rows: gapless.
SQLite keeps the counter row for receipts too (one writer at a time anyway).

`gw_lock_unit_view(unit, live states, ranks?, registry, year)`: what a submission did in three statements,
one after the other (lock the unit row, read its open entries and the ranks live cases reserve, take the
receipt number) in one call. The number is taken before the rules run, so a refused submission leaves a gap
too (gaps are allowed; a registry NULL takes none). The read is a
second query inside the (VOLATILE) function, so it takes its own snapshot after the lock is granted and sees
whatever the previous holder committed, as the second statement did (one statement's snapshot would be
taken before the lock wait). PostgreSQL only; SQLite keeps the two statements (one writer at a time).

The downgrade writes each sequence's last value back to the counter rows and drops the sequences.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The sequence is made on demand (a new registry, a new year) in the caller's transaction. Two transactions
# making it at once: the second waits for the first's commit, then gets unique_violation (or
# duplicate_table), swallowed, and takes its number from the sequence the first made.
_FUNCTION = """
CREATE OR REPLACE FUNCTION gw_next_receipt(p_registry text, p_year integer) RETURNS bigint
LANGUAGE plpgsql AS $fn$
DECLARE
    seq text := quote_ident(format('receipt_%s_%s', p_registry, p_year));
    first bigint;
BEGIN
    IF to_regclass(seq) IS NULL THEN
        SELECT coalesce(max(last), 0) + 1 INTO first FROM certificate_counter
            WHERE registry_code = p_registry AND year = p_year AND kind = 'receipt';
        BEGIN
            EXECUTE format('CREATE SEQUENCE IF NOT EXISTS %s START WITH %s', seq, first);
        EXCEPTION WHEN unique_violation OR duplicate_table THEN
            NULL;
        END;
    END IF;
    RETURN nextval(seq::regclass);
END
$fn$
"""

# Rows: the unit's facts and the receipt number first (entry and rank NULL), then one per open entry (as its row's JSON), then one per
# rank reserved by a live case (when asked). No row: the unit is not on the register.
_LOCK_UNIT_VIEW = """
CREATE OR REPLACE FUNCTION gw_lock_unit_view(
    p_unit text, p_live text[], p_ranks boolean, p_registry text, p_year integer
)
RETURNS TABLE (unit_facts jsonb, receipt bigint, entry jsonb, reserved_rank integer)
LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
    found_facts jsonb;
BEGIN
    SELECT u.facts INTO found_facts FROM unit u WHERE u.unit_code = p_unit FOR UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    unit_facts := found_facts;
    IF p_registry IS NOT NULL THEN
        receipt := gw_next_receipt(p_registry, p_year);
    END IF;
    RETURN NEXT;
    RETURN QUERY SELECT NULL::jsonb, NULL::bigint, to_jsonb(e), NULL::integer FROM register_entry e
        WHERE e.unit_code = p_unit AND e.closed_at IS NULL;
    IF p_ranks THEN
        RETURN QUERY SELECT NULL::jsonb, NULL::bigint, NULL::jsonb, c.rank FROM case_record c
            WHERE c.unit_code = p_unit AND c.state = ANY (p_live) AND c.rank IS NOT NULL;
    END IF;
END
$fn$
"""

_SEQUENCES = """
SELECT c.relname, coalesce(s.last_value, s.start_value - 1) FROM pg_class c JOIN pg_sequences s
    ON s.sequencename = c.relname AND s.schemaname = current_schema()
WHERE c.relkind = 'S' AND c.relname ~ '^receipt_[0-9A-Za-z]+_[0-9]{4}$'
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_FUNCTION)
        op.execute(_LOCK_UNIT_VIEW)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    for name, last in bind.execute(sa.text(_SEQUENCES)).all():  # last_value is NULL before the first nextval
        _, registry, year = name.split("_")
        bind.execute(
            sa.text(
                "INSERT INTO certificate_counter (registry_code, year, kind, last) "
                "VALUES (:r, :y, 'receipt', :l) ON CONFLICT (registry_code, year, kind) "
                "DO UPDATE SET last = greatest(certificate_counter.last, EXCLUDED.last)"
            ),
            {"r": registry, "y": int(year), "l": int(last)},
        )
        op.execute(f'DROP SEQUENCE "{name}"')
    op.execute("DROP FUNCTION gw_next_receipt(text, integer)")
    op.execute("DROP FUNCTION gw_lock_unit_view(text, text[], boolean, text, integer)")
