"""Every SQLModel table of the gateway; importing this package registers them all on `SQLModel.metadata`.

Alembic's autogenerate compares the migrated schema against this metadata, so a new tables module must be
imported here (one line) before `python -m gateway.db.revision` can see it.
"""

from sqlmodel import SQLModel

# Deterministic constraint names: Alembic's batch mode on SQLite needs names to drop or alter constraints.
# Set before any table is declared, since a name is fixed when its constraint joins its table.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

from gateway.db.tables import api, cases, certificates, functions, infra, register, utilities  # noqa: E402

metadata = SQLModel.metadata

__all__ = ["api", "cases", "certificates", "functions", "infra", "metadata", "register", "utilities"]
