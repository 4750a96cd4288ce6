"""Erasure, export and the retention of device ids and IP addresses, as the API and processes run them.

Erasure rewrites the stored rows in one transaction (privacy/erasure.py) while the user's
campaigns are held (no process applies their events meanwhile); then every process forgets its
state of those campaigns and rebuilds it from the rewritten log: this one at once, the others when
they hear of it on Redis (`liveloop:erased`), and Redis's leaderboards are rewritten whole.
"""

from __future__ import annotations

import asyncio
import logging
import secrets

import orjson
import sqlalchemy as sa

from liveloop.engine.audiences import KNOWN
from liveloop.events.gate import CampaignGate
from liveloop.events.models import events
from liveloop.invites.models import invites
from liveloop.kit import clock
from liveloop.kit.db.database import Database
from liveloop.kit.times import iso
from liveloop.privacy.erasure import Erased, campaigns_of, erase
from liveloop.privacy.models import erasures
from liveloop.questions.models import questions
from liveloop.rewards.views import reward_read
from liveloop.tenants.service import server_secret
from liveloop.users.models import users
from liveloop.users.service import get as get_user

log = logging.getLogger("liveloop.privacy")

CHANNEL = "liveloop:erased"
ERASURE_POLL_SECONDS = 2.0
ERASURE_WINDOW_MS = 600_000  # an erasure is looked for this long after it was stored
DAY_MS = 86_400_000
RETENTION_CHUNK = 20_000  # log positions per UPDATE: each statement stays short beside the writer


def erasure_secret(conn: sa.Connection) -> str:
    return server_secret(conn, name="erasure", generate=lambda: secrets.token_hex(32))


class Privacy:
    def __init__(self, db: Database, campaigns: CampaignGate, *, shared: bool, redis_url: str | None,
                 retention_days: float, sweep_seconds: float) -> None:
        self._db = db
        self._campaigns = campaigns
        self._shared = shared  # other processes hold states of the same campaigns
        self._redis_url = redis_url if shared else None
        self._seen: set[tuple[str, str]] = set()  # erasures this process has acted on
        self._redis = None
        self._tasks: list[asyncio.Task] = []
        self._retention_ms = int(retention_days * DAY_MS)
        self._sweep_seconds = sweep_seconds
        self._cleared_up_to = 0  # log position below which no event keeps a device id or IP past retention

    async def start(self) -> None:
        if self._redis_url:
            import redis.asyncio as redis

            self._redis = redis.from_url(self._redis_url)
            self._tasks.append(asyncio.ensure_future(self._listen()))
        if self._shared:
            self._tasks.append(asyncio.ensure_future(self._watch_erasures()))
        self._tasks.append(asyncio.ensure_future(self._sweep_forever()))

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._redis is not None:
            await self._redis.aclose()

    # -- erasure ----------------------------------------------------------------------------

    async def erase(self, tenant_id: str, user_id: str) -> Erased | None:
        guess = await self._db.read(lambda conn: campaigns_of(conn, tenant_id=tenant_id, user_id=user_id))
        now = clock.now_ms()
        async with self._campaigns.hold(tenant_id, guess):
            erased = await self._db.write(
                lambda conn: erase(conn, tenant_id=tenant_id, user_id=user_id, secret=erasure_secret(conn), now=now),
                isolated=True, campaigns=[(tenant_id, cid) for cid in guess])
            if erased is None:
                return None
            touched = sorted(guess | erased.campaigns)
            self._campaigns.drop([(tenant_id, cid) for cid in touched])
            self._seen.add((tenant_id, erased.pseudonym))
        if touched:
            await self._announce(tenant_id, touched)
            await self._rewrite_boards(tenant_id, touched)
        if self._db.dialect == "sqlite":
            await self._db.read(_checkpoint)
        return erased

    async def _rewrite_boards(self, tenant_id: str, campaign_ids: list[str]) -> None:
        boards = self._campaigns.boards
        if boards is None:
            return
        for campaign_id in campaign_ids:
            async with self._campaigns.hold(tenant_id, [campaign_id]) as held:
                await boards.replace(tenant_id, held[campaign_id])

    async def _announce(self, tenant_id: str, campaign_ids: list[str]) -> None:
        if self._redis is None:
            return
        try:
            await self._redis.publish(CHANNEL, orjson.dumps([tenant_id, campaign_ids]))
        except Exception:  # noqa: BLE001 - the erasure is stored; see docs/privacy.md on Redis outages
            log.warning("could not announce an erasure on Redis", exc_info=True)

    async def _listen(self) -> None:
        while True:
            try:
                pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
                await pubsub.subscribe(CHANNEL)
                async for message in pubsub.listen():
                    tenant_id, campaign_ids = orjson.loads(message["data"])
                    # Rebuilt from the rewritten log on next use (under the campaign's lock).
                    KNOWN.forget(tenant_id)
                    self._campaigns.drop([(tenant_id, cid) for cid in campaign_ids])
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - Redis away: reconnect
                await asyncio.sleep(1.0)

    async def _watch_erasures(self) -> None:
        """Redis may drop a message (or be away): every few seconds the recent erasures are read
        from the database too, and the states of their campaigns dropped if not done yet."""
        while True:
            await asyncio.sleep(ERASURE_POLL_SECONDS)
            since = clock.now_ms() - ERASURE_WINDOW_MS
            try:
                recent = await self._db.read(lambda conn, since=since: _recent_erasures(conn, since))
            except Exception:  # noqa: BLE001 - the database may be briefly away; the next round retries
                continue
            current = set()
            for tenant_id, pseudonym, campaign_ids in recent:
                current.add((tenant_id, pseudonym))
                if (tenant_id, pseudonym) not in self._seen:
                    KNOWN.forget(tenant_id)
                    self._campaigns.drop([(tenant_id, cid) for cid in orjson.loads(campaign_ids)])
            self._seen = current

    # -- export -----------------------------------------------------------------------------

    async def export(self, tenant_id: str, user_id: str) -> dict | None:
        """Everything held about the user; None if the tenant knows nothing of them."""

        def read(conn: sa.Connection):
            return (get_user(conn, tenant_id=tenant_id, user_id=user_id),
                    campaigns_of(conn, tenant_id=tenant_id, user_id=user_id),
                    _events_of(conn, tenant_id, user_id), _invites_of(conn, tenant_id, user_id),
                    _questions_of(conn, tenant_id, user_id), _email_of(conn, tenant_id, user_id))

        profile, campaign_ids, logged, codes, asked, email = await self._db.read(read)
        if profile is None and not campaign_ids:
            return None
        if profile is not None:
            # Held for fraud signals only, and returned nowhere but here (SPEC section 10).
            profile = {**profile, "email_hash": email[0], "email_domain": email[1]}
        now = clock.now_ms()
        per_campaign = []
        for campaign_id in sorted(campaign_ids):
            state = (await self._campaigns.get(tenant_id, campaign_id)).state
            participant = state.participants.get(user_id)
            per_campaign.append({
                "campaign_id": campaign_id,
                "referrer": participant.referrer if participant is not None else None,
                "events": logged.get(campaign_id, []),
                "invites": codes.get(campaign_id, []),
                "rewards": [reward_read(r, now) for r in state.rewards_by_user.get(user_id, [])],
                "questions": asked.get(campaign_id, []),
            })
        return {"user_id": user_id, "profile": profile, "campaigns": per_campaign, "exported_at": iso(now)}

    # -- retention --------------------------------------------------------------------------

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self._sweep_seconds)
            try:
                await self.sweep(clock.now_ms())
            except Exception:  # noqa: BLE001 - the database may be briefly away; the next round retries
                log.warning("could not drop expired device ids and IP addresses", exc_info=True)

    async def sweep(self, now: int) -> int:
        """Drop device ids and IPs of events received before the retention; returns how many events lost them."""
        cutoff = now - self._retention_ms
        cleared = 0
        while True:
            start = self._cleared_up_to
            done, count, end = await self._db.write(lambda conn, start=start: _clear_range(conn, start, cutoff))
            cleared += count
            if end is None:
                return cleared
            if done:
                self._cleared_up_to = end
            else:
                return cleared


def _clear_range(conn: sa.Connection, start: int, cutoff: int) -> tuple[bool, int, int | None]:
    """Clear one range of log positions after `start`: (whole range past retention, events cleared,
    range end or None when the log ends)."""
    e = events.c
    end = conn.execute(sa.select(sa.func.max(e.seq)).where(e.seq > start, e.seq <= start + RETENTION_CHUNK)).scalar()
    if end is None:
        if conn.execute(sa.select(e.seq).where(e.seq > start).limit(1)).first() is None:
            return True, 0, None
        end = start + RETENTION_CHUNK  # a gap in the positions
    count = conn.execute(events.update().where(
        e.seq > start, e.seq <= end, e.received_at < cutoff,
        sa.or_(e.device_id.is_not(None), e.ip.is_not(None))).values(device_id=None, ip=None)).rowcount
    newest = conn.execute(sa.select(sa.func.max(e.received_at)).where(e.seq > start, e.seq <= end)).scalar()
    return newest is None or newest < cutoff, count, end


def _recent_erasures(conn: sa.Connection, since: int) -> list:
    e = erasures.c
    return conn.execute(sa.select(e.tenant_id, e.pseudonym, e.campaigns).where(e.erased_at > since)).all()


def _checkpoint(conn: sa.Connection) -> None:
    """SQLite: the write-ahead log still holds the erased rows' old pages until it is checkpointed."""
    conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def _events_of(conn: sa.Connection, tenant_id: str, user_id: str) -> dict[str, list[dict]]:
    e = events.c
    out: dict[str, list[dict]] = {}
    for row in conn.execute(sa.select(e.campaign_id, e.id, e.type, e.at, e.ref, e.device_id, e.ip, e.order_id,
                                      e.amount, e.currency, e.received_at)
                            .where(e.tenant_id == tenant_id, e.user_id == user_id).order_by(e.seq)):
        out.setdefault(row.campaign_id, []).append({
            "id": row.id, "type": row.type, "at": iso(row.at), "ref": row.ref, "device_id": row.device_id,
            "ip": row.ip, "order_id": row.order_id, "amount_minor": row.amount, "currency": row.currency,
            "received_at": iso(row.received_at)})
    return out


def _email_of(conn: sa.Connection, tenant_id: str, user_id: str) -> tuple[str | None, str | None]:
    row = conn.execute(sa.select(users.c.email_hash, users.c.email_domain).where(
        users.c.tenant_id == tenant_id, users.c.user_id == user_id)).first()
    return (row.email_hash, row.email_domain) if row is not None else (None, None)


def _questions_of(conn: sa.Connection, tenant_id: str, user_id: str) -> dict[str, list[dict]]:
    q = questions.c
    out: dict[str, list[dict]] = {}
    for row in conn.execute(sa.select(q.campaign_id, q.id, q.text, q.status, q.asked_at).where(
            q.tenant_id == tenant_id, q.user_id == user_id).order_by(q.asked_at)).all():
        out.setdefault(row.campaign_id, []).append(
            {"id": row.id, "text": row.text, "status": row.status, "asked_at": iso(row.asked_at)})
    return out


def _invites_of(conn: sa.Connection, tenant_id: str, user_id: str) -> dict[str, list[dict]]:
    i = invites.c
    out: dict[str, list[dict]] = {}
    for row in conn.execute(sa.select(i.campaign_id, i.code, i.channel, i.created_at)
                            .where(i.tenant_id == tenant_id, i.user_id == user_id)):
        out.setdefault(row.campaign_id, []).append({"code": row.code, "channel": row.channel or None,
                                                    "created_at": iso(row.created_at)})
    return out
