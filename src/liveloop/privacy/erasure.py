"""Erasure of one user (SPEC section 14), in one transaction.

What names the user is removed or replaced by a pseudonym `erased-<hex>` everywhere it is stored.
A new table holding personal data adds itself to the lists below (e.g. an email hash kept on the
users row is removed with the row; a column elsewhere joins `CLEARED`):

- `DELETED`: rows that are the user's and nothing else's (the profile, with its display name,
  locale, consents and email hash; a provider's id mapped to the user);
- `PSEUDONYMIZED`: columns that hold the user_id where others' results depend on the row (the
  event log, the ledger, invites, draw entries, reminders): the id is replaced, the row kept, so
  replaying the log gives every other user the same metrics, ranks and rewards. The campaigns are
  replayed inside the transaction, to give the ledger's rows the ids the replay gives them (a
  reward's id is derived from user ids); it holds the writer for as long as the replay takes.
- `CLEARED`: columns of the user's rows set to NULL (device ids and IP addresses of their events).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

import orjson
import sqlalchemy as sa

from liveloop.draws.models import draw_entries, draw_results
from liveloop.engine.audiences import KNOWN
from liveloop.events import snapshots
from liveloop.events.models import events
from liveloop.events.store import load
from liveloop.flash.models import flash_deliveries
from liveloop.invites.models import invites
from liveloop.privacy.models import erasures
from liveloop.questions.models import questions
from liveloop.rewards.models import reward_changes, rewards
from liveloop.rooms.models import room_users
from liveloop.scheduler.models import scheduled_job_recipients, scheduled_jobs
from liveloop.segments.models import segment_members
from liveloop.users.models import users
from liveloop.webhooks.models import webhook_messages

# A question's text is the user's own words: it goes with them (the host's queue loses it). Which
# flash deals a user was told of goes too (the same user_id afterwards is a new user).
DELETED: tuple[sa.Table, ...] = (users, room_users, questions, flash_deliveries)
# Segment members keep the user's place in a rule's audience, so a replay grants the same.
PSEUDONYMIZED: tuple[sa.Table, ...] = (events, rewards, invites, draw_entries, segment_members)
# (a cleared table is one of PSEUDONYMIZED: its rows are cleared as their user_id is replaced)
CLEARED: tuple[tuple[sa.Table, tuple[str, ...]], ...] = ((events, ("device_id", "ip")),)


@dataclass(frozen=True, slots=True)
class Erased:
    pseudonym: str
    campaigns: frozenset[str]  # whose states and leaderboards are rebuilt from the rewritten log
    again: bool  # the user was erased before and nothing of theirs was left


def user_hash(secret: str, tenant_id: str, user_id: str) -> str:
    return hmac.new(secret.encode(), f"{tenant_id}\x1f{user_id}".encode(), hashlib.sha256).hexdigest()


def campaigns_of(conn: sa.Connection, *, tenant_id: str, user_id: str) -> set[str]:
    """The campaigns in which the user has an event, an invite or a reward."""
    found: set[str] = set()
    for table in (events, invites, rewards):
        found.update(conn.execute(sa.select(table.c.campaign_id).distinct().where(
            table.c.tenant_id == tenant_id, table.c.user_id == user_id)).scalars())
    return found


def erase(conn: sa.Connection, *, tenant_id: str, user_id: str, secret: str, now: int) -> Erased | None:
    """Erase the user; None if the tenant never knew them (nor erased them)."""
    digest = user_hash(secret, tenant_id, user_id)
    campaigns = campaigns_of(conn, tenant_id=tenant_id, user_id=user_id)
    known = conn.execute(sa.select(users.c.user_id).where(users.c.tenant_id == tenant_id,
                                                          users.c.user_id == user_id)).first() is not None
    if not known and not campaigns:
        before = conn.execute(sa.select(erasures.c.pseudonym).where(
            erasures.c.tenant_id == tenant_id, erasures.c.user_hash == digest)
            .order_by(erasures.c.erased_at.desc())).first()
        return Erased(before.pseudonym, frozenset(), again=True) if before is not None else None
    # Keyed, and new for each erasure: a user erased, back, and erased again is two pseudonyms, as
    # they were two users to the engine (their attributions must not merge on replay).
    earlier = conn.execute(sa.select(sa.func.count()).select_from(erasures).where(
        erasures.c.tenant_id == tenant_id, erasures.c.user_hash == digest)).scalar_one()
    pseudonym = "erased-" + hmac.new(secret.encode(), f"{digest}\x1f{earlier}".encode(),
                                     hashlib.sha256).hexdigest()[:20]
    display_name = conn.execute(sa.select(users.c.display_name).where(
        users.c.tenant_id == tenant_id, users.c.user_id == user_id)).scalar()

    # Reward ids derive from user ids: only campaigns where the user has a reward, or made someone
    # else's (a referral), are replayed to re-key the ledger.
    r = rewards.c
    rekey = set(conn.execute(sa.select(r.campaign_id).distinct().where(
        r.tenant_id == tenant_id,
        sa.or_(r.user_id == user_id, r.cause_event_id.in_(sa.select(events.c.id).where(
            events.c.tenant_id == tenant_id, events.c.user_id == user_id))))).scalars())
    cleared = {table.name: {name: None for name in columns} for table, columns in CLEARED}
    for table in PSEUDONYMIZED:  # one statement per table: the events table is scanned once (no user index)
        conn.execute(table.update().where(table.c.tenant_id == tenant_id, table.c.user_id == user_id)
                     .values(user_id=pseudonym, **cleared.get(table.name, {})))
    conn.execute(scheduled_job_recipients.update().where(
        scheduled_job_recipients.c.user_id == user_id,
        scheduled_job_recipients.c.job_id.in_(sa.select(scheduled_jobs.c.id).where(
            scheduled_jobs.c.tenant_id == tenant_id))).values(user_id=pseudonym))
    _rename_in_draw_results(conn, tenant_id=tenant_id, campaigns=campaigns, user_id=user_id, pseudonym=pseudonym)
    _scrub_webhook_messages(conn, tenant_id=tenant_id, user_id=user_id, pseudonym=pseudonym,
                            display_name=display_name)
    for table in DELETED:
        conn.execute(table.delete().where(table.c.tenant_id == tenant_id, table.c.user_id == user_id))
    KNOWN.forget(tenant_id)  # segment versions cached with the old id are read again
    # Snapshots hold the old id, and the ledger is re-keyed below from a replay of the rewritten log.
    snapshots.invalidate(conn, tenant_id=tenant_id, campaign_ids=campaigns | rekey)
    for campaign_id in sorted(rekey):
        _rekey_rewards(conn, tenant_id=tenant_id, campaign_id=campaign_id)
    conn.execute(erasures.insert().values(tenant_id=tenant_id, pseudonym=pseudonym, user_hash=digest, erased_at=now,
                                          campaigns=orjson.dumps(sorted(campaigns)).decode()))
    return Erased(pseudonym, frozenset(campaigns), again=False)


def _rekey_rewards(conn: sa.Connection, *, tenant_id: str, campaign_id: str) -> None:
    """A reward's id is derived from its user and, for a referral, from the referee (engine/state.py
    `reward_id`): the rewritten log, replayed, gives those rewards new ids. The stored ledger takes
    the same ones (their history with them), matched by rule, user, role, cause event and value;
    amounts, statuses and causes stay."""
    loaded = load(conn, tenant_id, campaign_id)
    if loaded is None:
        return
    replayed = loaded[1].rewards
    r = rewards.c
    stored = set(conn.execute(sa.select(r.id).where(r.tenant_id == tenant_id, r.campaign_id == campaign_id)).scalars())
    gone = stored - replayed.keys()
    if not gone:
        return
    fresh: dict[tuple, list[str]] = {}
    for reward in replayed.values():
        if reward.id not in stored:
            key = (reward.rule_id, reward.user_id, reward.role, reward.cause_event_id, reward.amount)
            fresh.setdefault(key, []).append(reward.id)
    for row in conn.execute(sa.select(r.id, r.rule_id, r.user_id, r.role, r.cause_event_id, r.amount)
                            .where(r.id.in_(sorted(gone))).order_by(r.id)).all():
        candidates = fresh.get((row.rule_id, row.user_id, row.role, row.cause_event_id, row.amount))
        if not candidates:
            raise RuntimeError(f"reward {row.id} of campaign {campaign_id} has no counterpart after the erasure")
        new_id = candidates.pop(0)
        conn.execute(rewards.update().where(r.id == row.id).values(id=new_id))
        conn.execute(reward_changes.update().where(reward_changes.c.reward_id == row.id).values(reward_id=new_id))


def _rename_in_draw_results(conn: sa.Connection, *, tenant_id: str, campaigns: set[str], user_id: str,
                            pseudonym: str) -> None:
    if not campaigns:
        return
    t = draw_results.c
    for row in conn.execute(sa.select(t.campaign_id, t.rule_id, t.period, t.entrant_list, t.winners).where(
            t.tenant_id == tenant_id, t.campaign_id.in_(sorted(campaigns)))).all():
        entrant_list, winners = (_replace(orjson.loads(row.entrant_list), user_id, pseudonym),
                                 _replace(orjson.loads(row.winners), user_id, pseudonym))
        conn.execute(draw_results.update().where(
            t.tenant_id == tenant_id, t.campaign_id == row.campaign_id, t.rule_id == row.rule_id,
            t.period == row.period).values(entrant_list=orjson.dumps(entrant_list).decode(),
                                           winners=orjson.dumps(winners).decode()))


def _scrub_webhook_messages(conn: sa.Connection, *, tenant_id: str, user_id: str, pseudonym: str,
                            display_name: str | None) -> None:
    """Messages kept for the deliveries list: the user's id becomes the pseudonym, their name goes."""
    m = webhook_messages.c
    needle = orjson.dumps(user_id).decode()
    for row in conn.execute(sa.select(m.seq, m.body).where(m.tenant_id == tenant_id,
                                                           m.body.contains(needle, autoescape=True))).all():
        body = _replace(orjson.loads(row.body), user_id, pseudonym, drop=display_name)
        conn.execute(webhook_messages.update().where(m.seq == row.seq).values(body=orjson.dumps(body).decode()))


def _replace(value, old: str, new: str, *, drop: str | None = None):
    """`value` (parsed JSON) with every string equal to `old` replaced by `new` and, when `drop` is
    given, every string equal to it (a display name) replaced by null."""
    if isinstance(value, str):
        if value == old:
            return new
        return None if drop is not None and value == drop else value
    if isinstance(value, list):
        return [_replace(v, old, new, drop=drop) for v in value]
    if isinstance(value, dict):
        return {k: _replace(v, old, new, drop=drop) for k, v in value.items()}
    return value
