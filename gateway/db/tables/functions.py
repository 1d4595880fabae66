"""The PostgreSQL functions a submission calls (migration 0016; the same SQL, attached to the metadata, for
databases made with `create_all`).

`gw_next_receipt(registry, year)`: the registry's next 受理编号 of the year, from the sequence
`receipt_<registry>_<year>`, made the first time it is asked (starting after the `certificate_counter` row
numbering went by before). Two transactions making it at once: the second waits for the first's commit, then
gets unique_violation (or duplicate_table), swallowed, and numbers from the sequence the first made. Gaps
(a sequence is not transactional), never duplicates.

`gw_lock_unit_view(unit, live states, ranks?, registry, year)`: lock the unit row; then, in a second query
with its own snapshot (the function is VOLATILE), so it sees whatever the previous lock holder committed, read
its open entries and (ranks?) the ranks live cases reserve; and take the receipt number (registry NULL: none).
Rows: the unit's facts and the receipt number first (entry and rank NULL), then one per open entry (its row as
JSON), then one per reserved rank. No row: the unit is not on the register.
"""

from __future__ import annotations

from sqlalchemy import DDL, event

from gateway.db.tables.cases import CaseRow

__all__ = ["SUBMISSION_FUNCTIONS_POSTGRESQL"]

SUBMISSION_FUNCTIONS_POSTGRESQL = (
    """
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
""",
    """
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
""",
)
for _statement in SUBMISSION_FUNCTIONS_POSTGRESQL:
    event.listen(
        CaseRow.__table__,  # type: ignore[attr-defined]
        "after_create",
        DDL(_statement.replace("%", "%%")).execute_if(dialect="postgresql"),  # type: ignore[no-untyped-call]
    )
