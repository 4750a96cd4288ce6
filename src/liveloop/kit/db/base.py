"""The one MetaData every domain's tables hang on (Alembic reads it)."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# Epoch milliseconds and minor units overflow 32 bits; SQLite's INTEGER is 64-bit anyway.
BigInt = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
