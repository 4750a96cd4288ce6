"""Snapshots of a campaign's state, so that a restart replays only the log's tail (SPEC section 8, cold start).

A snapshot is derived data and never a source of truth: the state replayed from the log up to a
position, stored with that position. Loading takes the newest one and replays what was logged
after it (events/store.py `load`); whatever is wrong with it (missing, from another code version,
corrupt, or invalidated by a rewrite of the log) makes the load replay the whole log instead, so
a snapshot can make a load faster and nothing else. It is taken by `take`, which builds the state
the way any load does, in a process of its own (events/snapshotter.py): the live states that
serve requests are never read, locked or paused for it.

Why pickle: the state is a graph in which one `Reward` sits in several indexes at once (by id, by
user, by order, in its referral, in its tier), with sorted lists, slotted dataclasses and the
engine's bound callbacks. Pickle keeps that identity and every field as the engine defines it,
with no schema to keep in step (msgspec or orjson would need one, and an identity-restoring
rebuild of every index), and its C implementation is among the fastest for such graphs. Its risk
is that loading a pickle runs code the pickle names, so a snapshot is only loaded when its
HMAC-SHA256, keyed with a server secret, matches (and its format is this code's). Its format is
a digest of the engine's own source: any change to the engine makes older snapshots unreadable
by design, and the first load after an upgrade replays the whole log.
"""

from __future__ import annotations

import copyreg
import dataclasses
import hashlib
import hmac
import io
import logging
import pickle
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import sortedcontainers
import sqlalchemy as sa

from liveloop import engine
from liveloop.engine.state import CampaignState
from liveloop.events.models import campaign_snapshots
from liveloop.kit.db.dialect import insert_ignore
from liveloop.tenants.models import server_secrets

log = logging.getLogger("liveloop.snapshots")

SECRET_NAME = "snapshots"
# Bumped when this module stores a snapshot differently (the engine's own changes are in FORMAT).
LAYOUT = "2"


def _format() -> str:
    """The engine's source, the Python version and the sorted list's version: pickles of other
    versions are not loaded (their classes may have other fields)."""
    digest = hashlib.sha256(f"{LAYOUT}|{sys.version_info[:2]}|{sortedcontainers.__version__}".encode())
    for path in sorted(Path(engine.__file__).parent.glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:32]


FORMAT = _format()


@dataclass(frozen=True, slots=True)
class Stored:
    """What the table holds for a campaign, without the body."""

    generation: int
    seq: int
    format: str


def sign(key: str, body: bytes) -> str:
    return hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


def secret(conn: sa.Connection, *, create: bool) -> str | None:
    """The key snapshots are signed with (created by the first writer, shared by every process)."""
    value = conn.execute(sa.select(server_secrets.c.value).where(server_secrets.c.name == SECRET_NAME)).scalar()
    if value is None and create:
        conn.execute(insert_ignore(conn.dialect.name, server_secrets).values(name=SECRET_NAME,
                                                                           value=secrets.token_hex(32)))
        value = conn.execute(sa.select(server_secrets.c.value)
                             .where(server_secrets.c.name == SECRET_NAME)).scalar_one()
    return value


def stored(conn: sa.Connection, tenant_id: str, campaign_id: str) -> Stored | None:
    s = campaign_snapshots.c
    row = conn.execute(sa.select(s.generation, s.seq, s.format)
                       .where(s.tenant_id == tenant_id, s.campaign_id == campaign_id)).first()
    return Stored(*row) if row is not None else None


def restore(conn: sa.Connection, tenant_id: str, campaign_id: str) -> CampaignState | None:
    """The newest usable snapshot's state, at its position; None (replay everything) otherwise."""
    row = _newest(conn, tenant_id, campaign_id)
    if row is None or row.body is None:
        return None
    where = {"tenant_id": tenant_id, "campaign_id": campaign_id, "seq": row.seq}
    if row.format != FORMAT:
        log.info("snapshot of campaign %s is of another code version: replaying its whole log", campaign_id,
                 extra={"event": "snapshot_ignored", "reason": "format", **where})
        return None
    key = secret(conn, create=False)
    body = row.body if isinstance(row.body, bytes) else bytes(row.body)  # no copy of hundreds of MB
    if key is None or not hmac.compare_digest(sign(key, body), row.digest):
        log.warning("snapshot of campaign %s does not match its signature: replaying its whole log", campaign_id,
                    extra={"event": "snapshot_ignored", "reason": "signature", **where})
        return None
    try:
        state = pickle.loads(body)  # noqa: S301 - signed by this deployment (see the module's docstring)
    except Exception:  # noqa: BLE001 - a snapshot is never needed: the log is replayed instead
        log.warning("snapshot of campaign %s could not be read: replaying its whole log", campaign_id,
                    exc_info=True, extra={"event": "snapshot_ignored", "reason": "unreadable", **where})
        return None
    if (not isinstance(state, CampaignState) or state.last_seq != row.seq
            or (state.config.tenant_id, state.config.id) != (tenant_id, campaign_id)):
        log.warning("snapshot of campaign %s holds another state: replaying its whole log", campaign_id,
                    extra={"event": "snapshot_ignored", "reason": "mismatch", **where})
        return None
    return state


class _Row(NamedTuple):
    seq: int
    format: str
    digest: str
    body: bytes | None


def _newest(conn: sa.Connection, tenant_id: str, campaign_id: str) -> _Row | None:
    s = campaign_snapshots.c
    if conn.dialect.name == "postgresql":  # psycopg, the only PostgreSQL driver liveloop runs on
        # The body in PostgreSQL's binary format. As text, a bytea travels as hex, twice its size,
        # encoded by the server and decoded by the driver: reading 119 MB took 1.03 s that way and
        # 0.43 s in binary here (0.28 s with the column stored uncompressed, migration 0016).
        with conn.connection.driver_connection.cursor(binary=True) as cursor:
            cursor.execute(f"SELECT seq, format, digest, body FROM {campaign_snapshots.name} "  # noqa: S608
                           "WHERE tenant_id = %s AND campaign_id = %s", (tenant_id, campaign_id))
            found = cursor.fetchone()
        return _Row(*found) if found is not None else None
    row = conn.execute(sa.select(s.seq, s.format, s.digest, s.body)
                       .where(s.tenant_id == tenant_id, s.campaign_id == campaign_id)).first()
    return _Row(*row) if row is not None else None


def _as_arguments(cls: type):
    names = tuple(f.name for f in dataclasses.fields(cls))

    def reduce(obj):
        return cls, tuple([getattr(obj, name) for name in names])

    return reduce


def _engine_dataclasses() -> list[type]:
    from liveloop.engine import model, presence, social, state

    found = [value for module in (model, presence, social, state) for value in vars(module).values()
             if isinstance(value, type) and dataclasses.is_dataclass(value) and value.__module__ == module.__name__]
    for cls in found:
        # Rebuilt by calling the class with its fields in order: only right when they all are arguments.
        assert all(f.init for f in dataclasses.fields(cls)) and not hasattr(cls, "__post_init__"), cls
    return found


# The engine's dataclasses are pickled as their constructor's arguments (a call on load) instead of
# a slots dictionary set one attribute at a time: their objects are most of a state (rewards with
# their histories, participants, presences), and this loaded in half the CPU and 0.7 of the bytes
# (measured on 200,000 rewards: 0.68 -> 0.30 s). Only snapshots use this table (copy and other
# pickles keep the defaults).
_DISPATCH = {**copyreg.dispatch_table, **{cls: _as_arguments(cls) for cls in _engine_dataclasses()}}


def encode(state: CampaignState) -> bytes:
    out = io.BytesIO()
    pickler = pickle.Pickler(out, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = _DISPATCH
    pickler.dump(state)
    return out.getvalue()


def put(conn: sa.Connection, *, tenant_id: str, campaign_id: str, seen: Stored | None, seq: int, body: bytes,
        key: str, now: int) -> bool:
    """Store a snapshot taken from the log as it was when `seen` was read; False (nothing stored)
    if the log was rewritten since (the generation moved) or a newer snapshot is there."""
    s = campaign_snapshots.c
    values = {"seq": seq, "format": FORMAT, "digest": sign(key, body), "taken_at": now, "body": body}
    if seen is None:
        inserted = conn.execute(insert_ignore(conn.dialect.name, campaign_snapshots).values(
            tenant_id=tenant_id, campaign_id=campaign_id, generation=0, **values).returning(s.seq))
        return inserted.first() is not None
    updated = conn.execute(
        campaign_snapshots.update()
        .where(s.tenant_id == tenant_id, s.campaign_id == campaign_id, s.generation == seen.generation,
               sa.or_(s.seq < seq, s.format != FORMAT, s.body.is_(None)))
        .values(**values))
    return updated.rowcount == 1


def invalidate(conn: sa.Connection, *, tenant_id: str, campaign_ids: set[str] | frozenset[str]) -> None:
    """The campaigns' logs were rewritten (an erasure): their snapshots hold what is no longer there.
    Dropped, and any snapshot being taken from the log as it was is refused when it is stored."""
    s = campaign_snapshots.c
    for campaign_id in sorted(campaign_ids):
        where = (s.tenant_id == tenant_id, s.campaign_id == campaign_id)
        cleared = {"body": None, "seq": 0, "digest": "", "generation": s.generation + 1}
        if conn.execute(campaign_snapshots.update().where(*where).values(**cleared)).rowcount:
            continue
        inserted = conn.execute(insert_ignore(conn.dialect.name, campaign_snapshots).values(
            tenant_id=tenant_id, campaign_id=campaign_id, generation=1, seq=0, format="", digest="", taken_at=0,
            body=None).returning(s.seq))
        if inserted.first() is None:  # a first snapshot was stored meanwhile
            conn.execute(campaign_snapshots.update().where(*where).values(**cleared))
