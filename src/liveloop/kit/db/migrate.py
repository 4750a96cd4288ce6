"""Alembic, driven from code: `liveloop migrate` and the start of `liveloop serve`."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from liveloop.kit.db.dialect import normalize_url


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", "liveloop:migrations")
    config.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    return config


def upgrade(url: str) -> None:
    command.upgrade(alembic_config(url), "head")
