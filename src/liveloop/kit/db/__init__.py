"""Database helpers; SQL that differs between SQLite and PostgreSQL lives only in this package."""
