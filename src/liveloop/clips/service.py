"""Clips of a live and their share links: an invite code per (clip, user), landing on the clip."""

from __future__ import annotations

import hashlib

import sqlalchemy as sa

from liveloop.campaigns.service import check_landing_url
from liveloop.clips import repository
from liveloop.clips.schemas import ClipCreate
from liveloop.invites import service as invites_service
from liveloop.kit.errors import Conflict, NotFound
from liveloop.kit.times import iso


def _read(row) -> dict:
    return {"id": row.id, "title": row.title, "url": row.url, "thumbnail_url": row.thumbnail_url,
            "created_at": iso(row.created_at)}


def check(body: ClipCreate, *, allowed_hosts: tuple[str, ...]) -> None:
    """A clip's share links redirect to its `url`: it is held to the landing URLs' rules (no open redirect)."""
    check_landing_url(body.url, allowed_hosts, field="url")
    if body.thumbnail_url is not None:
        check_landing_url(body.thumbnail_url, (), field="thumbnail_url")


def create(conn: sa.Connection, *, tenant_id: str, campaign_id: str, body: ClipCreate, now: int) -> dict:
    if repository.exists(conn, tenant_id=tenant_id, campaign_id=campaign_id, clip_id=body.id):
        raise Conflict(f"clip {body.id!r} already exists in this campaign", field="id")
    repository.insert(conn, tenant_id=tenant_id, campaign_id=campaign_id, clip_id=body.id, title=body.title,
                      url=body.url, thumbnail_url=body.thumbnail_url, now=now)
    return get(conn, tenant_id=tenant_id, campaign_id=campaign_id, clip_id=body.id)


def get(conn: sa.Connection, *, tenant_id: str, campaign_id: str, clip_id: str) -> dict:
    row = repository.row(conn, tenant_id=tenant_id, campaign_id=campaign_id, clip_id=clip_id)
    if row is None:
        raise NotFound(f"clip {clip_id!r} not found", field="clip_id")
    return _read(row)


def list_clips(conn: sa.Connection, *, tenant_id: str, campaign_id: str) -> list[dict]:
    return [_read(row) for row in repository.rows(conn, tenant_id=tenant_id, campaign_id=campaign_id)]


def channel(clip_id: str) -> str:
    """The invite channel of a clip's links: one code per (clip, user). The colon keeps it apart from
    the channels POST .../invites takes ([a-z0-9_-]); the hash keeps it within the column's 32."""
    return "clip:" + hashlib.sha256(clip_id.encode()).hexdigest()[:24]


def invite(conn: sa.Connection, *, tenant_id: str, campaign_id: str, market: str, clip_id: str, user_id: str,
           now: int) -> tuple[str, dict]:
    """The user's share code for the clip, created if they have none; returns (code, clip)."""
    clip = get(conn, tenant_id=tenant_id, campaign_id=campaign_id, clip_id=clip_id)
    code, _created = invites_service.create(conn, tenant_id=tenant_id, campaign_id=campaign_id, market=market,
                                            user_id=user_id, channel=channel(clip_id), code=None, now=now,
                                            clip_id=clip_id)
    return code, clip

